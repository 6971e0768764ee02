"""The stack: compose model, local and docker runtimes, health probes."""
