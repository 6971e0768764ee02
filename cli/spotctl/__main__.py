"""Console entry point: run the app, turning SpotctlError into one clear line and an exit code.

Click handles its own usage errors (exit 2) in standalone mode; our errors carry a hint and their
exit code. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys


def main() -> None:
    from spotctl.app import build_app
    from spotctl.errors import SpotctlError

    try:
        build_app()(prog_name="spotctl")
    except SpotctlError as exc:
        from rich.text import Text

        from spotctl.output import err

        err().print(Text.assemble(("error:", "bold red"), " ", exc.message), highlight=False)
        if exc.hint:
            err().print(Text.assemble(("hint:", "dim"), " ", exc.hint), highlight=False)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
