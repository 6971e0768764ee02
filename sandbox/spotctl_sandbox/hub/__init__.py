"""The real-time hub: WebSocket fan-out, chat, notifications, listening sessions, collaborative playlists.

`python -m spotctl_sandbox.hub` runs a supervisor with HUB_WORKERS worker processes sharing one port
(SO_REUSEPORT); workers fan messages out to each other through Redis. Pure decision logic lives in
`core/`; sockets, Redis and PostgreSQL live in the modules around them; `features/` declare the client
messages. What clients and publishers share with the hub is `spotctl_sandbox.realtime`.
"""
