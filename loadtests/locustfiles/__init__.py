"""Locust files, one per scenario; `spotctl load run NAME` runs `NAME.py`."""
