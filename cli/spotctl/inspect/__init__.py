"""Pure helpers behind the inspect-and-drive commands (redis, rabbit, kafka, mongo, pg, jobs, hub, purge).

Parsing arguments, summarising server replies and shaping rows live here without I/O, so they are
tested without servers; `spotctl.commands.*` does the talking.
"""
