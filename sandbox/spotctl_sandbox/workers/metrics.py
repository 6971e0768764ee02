"""Prometheus metrics of the workers (GET /metrics on PORT, scraped as job `workers`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from spotctl_sandbox.workers.state import Health, WorkerState

JOBS = Counter("spotctl_worker_jobs_total", "BullMQ jobs processed, by outcome of the attempt",
               ["queue", "job", "outcome"])
JOB_SECONDS = Histogram("spotctl_worker_job_seconds", "BullMQ job attempt duration", ["queue", "job"],
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
MESSAGES = Counter("spotctl_worker_messages_total", "RabbitMQ deliveries by disposition",
                   ["queue", "disposition"])
EVENTS = Counter("spotctl_worker_kafka_events_total", "Kafka events seen by the analytics group",
                 ["topic", "outcome"])
SINK = Counter("spotctl_worker_sink_received_total", "What the local sinks received", ["sink"])
UP = Gauge("spotctl_worker_up", "1 while the worker runs, 0 while it waits, failed or stopped", ["worker"])


def refresh(health: Health) -> None:
    """Copy worker states into the gauge just before a scrape."""
    for name, status in health.snapshot()["workers"].items():
        UP.labels(name).set(1 if status["state"] == WorkerState.RUNNING.value else 0)
