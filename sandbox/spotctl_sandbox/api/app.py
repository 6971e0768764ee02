"""The FastAPI application: routers, error handlers, middleware, and the lifespan that opens
(and closes) the stores and brokers. OpenAPI docs at /docs.

Request bodies over API_MAX_BODY_BYTES are refused with a 413 as they arrive (middleware.py), so a
huge upload costs no memory here."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from spotctl_sandbox.api import (
    admin,
    artists,
    attachments,
    auth,
    docs,
    errors,
    health,
    playlists,
    recommendations,
    releases,
    search,
    social,
    songs,
    stream,
)
from spotctl_sandbox.api.config import ApiConfig
from spotctl_sandbox.api.correlation import Correlation
from spotctl_sandbox.api.middleware import ObserveAndLimit
from spotctl_sandbox.api.resources import open_resources

log = logging.getLogger("spotctl_sandbox.api")


def create_app(config: ApiConfig | None = None) -> FastAPI:
    config = config or ApiConfig.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.resources = await open_resources(config)
        log.info("api ready; playlists backend: %s", app.state.resources.playlists.backend)
        try:
            yield
        finally:
            await app.state.resources.close()

    app = FastAPI(title="spotctl sandbox API", version="0.2.0", lifespan=lifespan,
                  description="Songs, streaming, playlists, search, recommendations and releases of the "
                              "Spotify-like sandbox. Errors are JSON `{\"detail\": ...}` (see each "
                              "response); authenticate with `Authorization: Bearer <token>` from "
                              "POST /api/auth/login.")
    errors.install(app)
    docs.install(app)
    for module in (auth, songs, stream, search, playlists, social, artists, recommendations, releases, admin,
                   attachments, health):
        app.include_router(module.router)

    def current_limits() -> object:
        res = getattr(app.state, "resources", None)
        return None if res is None else res.limits

    app.add_middleware(ObserveAndLimit, limits=current_limits, max_body_bytes=config.max_body_bytes)
    app.add_middleware(Correlation)  # outermost: even a 429 carries its request id
    return app
