"""
A throw-away PostgreSQL server for tests, on the loopback interface only.

``postgres_url`` (session-scoped) yields a SQLAlchemy URL:

1. ``FUNNEL_TEST_POSTGRES_URL`` when set (e.g. a CI service container);
2. otherwise, when PostgreSQL's server binaries (``initdb``, ``pg_ctl``) are
   found, a fresh cluster in a temporary directory, started on 127.0.0.1
   on a free port with trust authentication, and stopped at the end. Running
   as root, the server runs as an unprivileged user (``postgres`` if it
   exists, else ``nobody``), because PostgreSQL refuses to run as root;
3. otherwise the test is skipped, saying why.

Import the fixture into a test module: ``from tests.postgres import postgres_url``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ENV_URL = "FUNNEL_TEST_POSTGRES_URL"
_SEARCH = ("/usr/local/bin", "/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin",
           "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/14/bin")  # fmt: skip


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in _SEARCH:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run_as() -> list[str]:
    """The command prefix that drops root privileges, or nothing when not root."""
    if os.geteuid() != 0:
        return []
    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        runuser = shutil.which("runuser")
        if runuser:
            return [runuser, "-u", user, "--"]
        return ["su", "-s", "/bin/sh", user, "-c"]  # pragma: no cover - no runuser
    raise RuntimeError("running as root and no unprivileged user to run PostgreSQL")


def _chown_for(prefix: list[str], path: Path) -> None:
    if prefix:
        user = prefix[2] if prefix[0].endswith("runuser") else prefix[3]
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _call(prefix: list[str], args: list[str], log: Path) -> None:
    if prefix and not prefix[0].endswith("runuser"):  # pragma: no cover - su needs one string
        command = [*prefix, " ".join(args)]
    else:
        command = [*prefix, *args]
    with log.open("ab") as out:
        subprocess.run(command, check=True, stdout=out, stderr=subprocess.STDOUT, timeout=60)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A ``postgresql+psycopg://`` URL of a running, empty database."""
    from_env = os.environ.get(ENV_URL)
    if from_env:
        yield from_env
        return
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip(f"no PostgreSQL server binaries (initdb, pg_ctl) and {ENV_URL} is not set")
    prefix = _run_as()
    root = Path(tempfile.mkdtemp(prefix="funnel-pg-"))
    _chown_for(prefix, root)
    data, log, port = root / "data", root / "server.log", _free_port()
    log.touch()
    _chown_for(prefix, log)
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    try:
        _call(prefix, [initdb, "-D", str(data), "-U", "funnel", "-A", "trust", "-E", "UTF8",
                       "--no-locale"], log)  # fmt: skip
        _call(prefix, [pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "30", "-o", options,
                       "start"], log)  # fmt: skip
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        text = log.read_text(errors="replace")[-2000:]
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {exc}\n{text}")
    try:
        yield f"postgresql+psycopg://funnel@127.0.0.1:{port}/postgres"
    finally:
        try:
            _call(prefix, [pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], log)
        finally:
            shutil.rmtree(root, ignore_errors=True)
