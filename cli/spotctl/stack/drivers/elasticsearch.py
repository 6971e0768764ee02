"""Elasticsearch has no local stand-in: no package for it reaches this machine kind.

The service is optional: locally it is reported `absent` and the analytics event store uses its
PostgreSQL back-end (JSONB + full-text search), which `spotctl ps` shows; the docker runtime runs
the official image.
"""

from __future__ import annotations

from spotctl.stack.drivers import Absent, Context, Launch


def launch(ctx: Context) -> Launch:
    raise Absent("no local Elasticsearch: analytics events are stored in PostgreSQL (JSONB + full-text)",
                 "use --runtime docker for Elasticsearch")
