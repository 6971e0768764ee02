"""`spotctl seed`: fill PostgreSQL with a catalogue and MEDIA_DIR with playable audio (idempotent)."""

from __future__ import annotations

from typing import Annotated

import typer

from spotctl.output import OutputFormat, OutputOpt


def register(app: typer.Typer) -> None:
    app.command("seed")(seed)


def seed(
    songs: Annotated[int, typer.Option("--songs", "-n",
                                       help="How many songs (artists = n/20, albums = n/10).")] = 10_000,
    users: Annotated[int | None, typer.Option("--users", help="How many users (default: max(10, n/100)).")]
    = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Seed artists, albums, songs, users, follows and listening history (re-runs add only what is missing).

    Seeded users are user<N>@seed.spotctl.dev with the password 'spotctl-seed'.
    """
    import psycopg

    from spotctl.endpoints import resolve
    from spotctl.errors import ServiceDown, UsageError
    from spotctl.output import emit, info, spinner
    from spotctl_sandbox.seed import SEED_PASSWORD
    from spotctl_sandbox.seed import seed as run_seed

    endpoints = resolve()
    if not endpoints.database_url:
        raise UsageError("no DATABASE_URL configured", hint="see `spotctl config`")
    media_dir = endpoints.media_dir if str(endpoints.media_dir) not in ("", ".") else None
    if media_dir is None:
        raise UsageError("no MEDIA_DIR configured", hint="see `spotctl config`")
    try:
        with spinner(f"seeding {songs:,} songs"):
            report = run_seed(endpoints.database_url, media_dir, songs=songs, users=users)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ServiceDown("postgres", endpoints.database_url, first) from exc
    data = {
        "elapsed_s": round(report.elapsed_s, 3),
        "tables": {t.table: {"inserted": t.inserted, "total": t.total} for t in report.tables},
        "media_dir": str(report.media_dir),
        "media_files": [m.name for m in report.media],
        "user_password": SEED_PASSWORD,
    }
    emit(data, output, ("table", "inserted", "total"),
         [(t.table, f"{t.inserted:,}", f"{t.total:,}") for t in report.tables],
         title=f"seeded in {report.elapsed_s:.2f} s")
    if output is OutputFormat.table:
        info(f"{len(report.media)} audio files in {report.media_dir}; "
             f"users log in as user<N>@seed.spotctl.dev / {SEED_PASSWORD}")
