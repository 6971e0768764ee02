"""`python -m spotctl_sandbox.hub`: the supervisor and its worker processes."""

from .supervisor import main

main()
