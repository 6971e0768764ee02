"""The real-time hub: WebSocket fan-out, chat, notifications, listening sessions, collaborative playlists.

`python -m spotctl_sandbox.hub` runs a supervisor with HUB_WORKERS worker processes sharing one port
(SO_REUSEPORT); workers fan messages out to each other through Redis. Pure decision logic lives in
`core/` and `protocol/`; sockets, Redis and PostgreSQL live in the modules around them.
"""
