"""`spotctl tui`: a Textual front end over the same runtime, inspectors and scenarios as the CLI.

Harlequin-style layout: one widget or screen per file in `components/`, CSS in `spotctl.tcss`, all
I/O in `@work` workers (`data.py`) that post messages up to the screens.
"""
