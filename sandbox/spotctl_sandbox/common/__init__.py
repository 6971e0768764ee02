"""Pieces every sandbox service shares: settings from the environment (and the refusal of
development secrets outside development), access tokens with roles, the audit log, what JSON may
carry (jsonsafe) and the log filter that keeps tokens out of logs."""
