"""Prometheus metrics of the API (served on GET /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter("spotctl_api_requests_total", "HTTP requests by route template and status",
                   ["method", "route", "status"])
LATENCY = Histogram("spotctl_api_request_seconds", "HTTP request latency by route template",
                    ["method", "route"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
CACHE = Counter("spotctl_api_cache_total", "Redis cache lookups", ["cache", "result"])
EVENTS = Counter("spotctl_api_events_published_total", "Kafka events acknowledged by the broker", ["topic"])
JOBS = Counter("spotctl_api_jobs_enqueued_total", "BullMQ jobs enqueued", ["queue", "name"])
DEPENDENCY_ERRORS = Counter("spotctl_api_dependency_errors_total", "Requests failed by a dependency (503)",
                            ["dependency"])
RATE_LIMITED = Counter("spotctl_api_rate_limited_total", "Requests refused with 429", ["scope"])
