# The sandbox services (api, hub, workers) for the docker runtime: the same package the local
# runtime runs, with the service chosen by the compose `command`.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY cli ./cli
COPY sandbox ./sandbox
RUN pip install .
RUN mkdir -p /data/media /data/reports
CMD ["python", "-m", "spotctl_sandbox.api"]
