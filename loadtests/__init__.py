"""Load scenarios for the hub and the API, and the orchestration behind `spotctl load run`.

Locust runs the files in `locustfiles/`; the plumbing they share (WebSocket client, wire adapters,
HDR-histogram metrics, summary and gate) lives beside them; `run.py` starts the processes.
"""
