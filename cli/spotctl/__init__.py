"""spotctl: operate, inspect and load-test the Spotify-like sandbox stack."""

__version__ = "0.1.0"
