"""What the hub, its clients and its publishers share: the wire protocol, topics, Redis key names,
the fan-out bus format, the notification publisher and the asyncio client.

The hub (`spotctl_sandbox.hub`), the backend workers, the CLI and the load tests import from here;
nothing here imports the hub, so a publisher or a client never loads the server.
"""
