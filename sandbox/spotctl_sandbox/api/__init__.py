"""The sandbox's API service (FastAPI): auth, songs, streaming, playlists, search, trending, follows,
recently played, recommendations, releases, rate limits, /metrics and /health.

Run it with `python -m spotctl_sandbox.api` (uvicorn on $BIND_HOST:$PORT). Module map: one router
per part (auth, songs, stream, search, playlists, social, artists, recommendations, releases, admin,
health); routing.py checks every route's input; security.py says who is calling and with which
roles; resources.py owns the clients; errors.py and docs.py say how failures look to clients.
"""

from spotctl_sandbox.api.app import create_app
from spotctl_sandbox.api.config import ApiConfig

__all__ = ["ApiConfig", "create_app"]
