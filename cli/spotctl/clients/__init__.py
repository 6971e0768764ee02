"""One context-managed client per store: the only place the CLI, the TUI and the guide talk to a store.

Each module wraps one client library (redis-py, httpx + pika, kafka-python, bullmq, psycopg, pymongo,
the hub's own client) and returns the plain views `spotctl.inspect` shapes, so `spotctl redis keys`,
the TUI's key browser and a scenario's redis check see the same thing. A client is closed on every
path (use it in a `with` / `async with`), and a store that does not answer is one `ServiceDown` line
naming the service and its URL (`reach.py`), never a library traceback.

Commands are flags -> client -> output; nothing here prints or asks (`spotctl.output` is the
commands' business), and nothing here imports `spotctl.commands`.
"""
