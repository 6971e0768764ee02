"""`python -m spotctl_sandbox.monitor`: the collectors and the alert receiver on PORT."""

from __future__ import annotations

import sys

from spotctl_sandbox.monitor.app import main

if __name__ == "__main__":
    sys.exit(main())
