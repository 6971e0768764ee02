"""The analytics service's FastAPI app: the engine in its lifespan, the routers, OpenAPI at
/analytics/docs. The ML router (`analytics/ml/router.py`) takes this app's role dependencies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from spotctl_sandbox.analytics.api import alerts, dashboards, errors, events, health, live, metrics
from spotctl_sandbox.analytics.api.auth import RateLimiter, Role, require
from spotctl_sandbox.analytics.config import AnalyticsConfig
from spotctl_sandbox.analytics.core.engine import AnalyticsEngine
from spotctl_sandbox.analytics.ml.router import create_router as create_ml_router


def create_app(config: AnalyticsConfig | None = None) -> FastAPI:
    config = config or AnalyticsConfig.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = AnalyticsEngine(config)
        app.state.engine = engine
        app.state.limiter = RateLimiter(config.settings.redis_url, config.rate_limit)
        await engine.start()
        try:
            yield
        finally:
            await engine.stop()

    app = FastAPI(title="spotctl analytics", version="0.1.0", lifespan=lifespan,
                  docs_url="/analytics/docs", openapi_url="/analytics/openapi.json", redoc_url=None,
                  description="Metrics, windows, dashboards, alerts and live updates of the analytics system. "
                              "Every route needs a bearer JWT with role viewer, analyst or admin.")
    errors.install(app)
    for module in (metrics, dashboards, alerts, events, live, health):
        app.include_router(module.router)
    app.include_router(create_ml_router(require(Role.viewer), require(Role.analyst), require(Role.admin)))
    return app
