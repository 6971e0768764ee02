"""Pieces every sandbox service shares: settings from the environment and access tokens."""
