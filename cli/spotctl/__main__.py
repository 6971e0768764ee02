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
        from rich.markup import escape

        from spotctl.output import err

        err().print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False)
        if exc.hint:
            err().print(f"[dim]hint:[/] {escape(exc.hint)}", highlight=False)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
