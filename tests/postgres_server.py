"""A real PostgreSQL server for the store tests: the one named by VOC_TEST_POSTGRES_URL, or a private
cluster started from the machine's PostgreSQL binaries (Debian's postgresql package, which `.ci/run`
installs) in a temporary folder on a free loopback port, stopped at the end of the session."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class NoPostgres(RuntimeError):
    """No PostgreSQL server can be used or started here (the reason says why)."""


def _binaries() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent  # /usr/local/bin may link initdb alone
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if not candidates:
        raise NoPostgres("no PostgreSQL binaries (initdb) here: apt-get install postgresql")
    return Path(candidates[0]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as the `postgres` account when we are root."""
    if os.geteuid() != 0:
        return cmd
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise NoPostgres("running as root and there is no `postgres` user to start a server as") from exc
    return ["runuser", "-u", "postgres", "--", *cmd]


@contextmanager
def postgres_server() -> Iterator[str]:
    """A PostgreSQL URL (trust authentication on loopback) for the duration of the block."""
    given = os.environ.get("VOC_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    bin_dir = _binaries()
    root = Path(tempfile.mkdtemp(prefix="voc-pg-"))
    data, socket_dir = root / "data", root / "sock"
    socket_dir.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(socket_dir, "postgres")
    port = _free_port()
    try:
        initdb = [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "voc", "-E", "UTF8"]
        subprocess.run(
            _as_server_user(initdb),
            check=True,
            capture_output=True,
            text=True,
        )
        server = subprocess.Popen(
            _as_server_user(
                [
                    str(bin_dir / "postgres"),
                    "-D",
                    str(data),
                    "-p",
                    str(port),
                    "-k",
                    str(socket_dir),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",  # a throwaway test cluster: durability is not what is tested here
                ]
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
    except (subprocess.CalledProcessError, OSError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        detail = getattr(exc, "stderr", "") or str(exc)
        raise NoPostgres(f"could not start PostgreSQL from {bin_dir}: {detail.strip()[:300]}") from exc
    try:
        deadline = time.monotonic() + 30
        ready = [str(bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port), "-U", "voc"]
        while subprocess.run(ready, check=False).returncode != 0:
            if server.poll() is not None:
                raise NoPostgres(f"PostgreSQL exited at start: {server.stderr.read()[-300:]}")
            if time.monotonic() > deadline:
                raise NoPostgres("PostgreSQL did not accept connections within 30 s")
            time.sleep(0.2)
        yield f"postgresql://voc@127.0.0.1:{port}/postgres"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(root, ignore_errors=True)
