"""A private PostgreSQL server for tests and benchmarks (Debian's binaries, a temp cluster).

No system service and no fixed port: ``initdb`` + ``pg_ctl`` on a throw-away
data directory, fsync on. As root, initdb refuses to run, so the cluster
belongs to the ``postgres`` system user and is driven through runuser.
"""
from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

from fixgw.recorder.store import StoreError


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if not found:
        raise StoreError("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): "
                         "run `make postgres` (make test does), which installs Debian's postgresql")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_owner(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _run(cmd: list[str], cwd: Path) -> None:
    done = subprocess.run(_as_owner(cmd), cwd=cwd, capture_output=True, text=True, timeout=120)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def _ensure_postgres_user() -> None:
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", "postgres"], check=True)



@contextlib.contextmanager
def private_server() -> Iterator[str]:
    """``postgresql://postgres@127.0.0.1:PORT/postgres`` of a private, fsync-on server."""
    bindir = _bin_dir()
    top = Path(tempfile.mkdtemp(prefix="fixgw-pg-"))
    data, log = top / "data", top / "server.log"
    if os.geteuid() == 0:
        _ensure_postgres_user()
        pw = pwd.getpwnam("postgres")
        os.chown(top, pw.pw_uid, pw.pw_gid)
    started = False
    try:
        # --no-sync only skips flushing initdb's own files; the server runs with fsync=on.
        _run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
              "-E", "UTF8", "--locale=C", "--no-sync"], cwd=top)
        for attempt in range(3):  # the port is free when chosen, not necessarily when bound
            port = _free_port()
            opts = (f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={top} "
                    "-c fsync=on -c synchronous_commit=on -c full_page_writes=on "
                    "-c shared_buffers=32MB -c max_connections=50")
            try:
                _run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
                      "-o", opts, "start"], cwd=top)
                started = True
                break
            except RuntimeError:
                if attempt == 2:
                    raise RuntimeError(f"PostgreSQL did not start:\n{log.read_text()}") from None
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], cwd=top)
        shutil.rmtree(top, ignore_errors=True)
