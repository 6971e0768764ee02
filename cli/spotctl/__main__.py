"""Console entry point: run the app, turning SpotctlError into one clear line and an exit code."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from click.exceptions import ClickException


def main() -> None:
    from spotctl.app import build_app
    from spotctl.errors import SpotctlError

    app = build_app()
    try:
        code = app(standalone_mode=False)
    except SpotctlError as exc:
        from spotctl.output import err

        err().print(f"[bold red]error:[/] {exc.message}", highlight=False)
        if exc.hint:
            err().print(f"[dim]hint:[/] {exc.hint}", highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except _click_exceptions() as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except _click_abort():
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _click_exceptions() -> type[ClickException]:
    from click.exceptions import ClickException

    return ClickException


def _click_abort() -> type[BaseException]:
    import click

    return click.exceptions.Abort


if __name__ == "__main__":
    main()
