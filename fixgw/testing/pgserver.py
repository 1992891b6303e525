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



class PrivateServer:
    """A throw-away cluster that can be stopped and started again on the same port and data
    (tests kill it under a running recorder)."""

    def __init__(self) -> None:
        self.bindir = _bin_dir()
        self.top = Path(tempfile.mkdtemp(prefix="fixgw-pg-"))
        self.data, self.log = self.top / "data", self.top / "server.log"
        self.port: int | None = None
        self.running = False
        if os.geteuid() == 0:
            _ensure_postgres_user()
            pw = pwd.getpwnam("postgres")
            os.chown(self.top, pw.pw_uid, pw.pw_gid)
        # --no-sync only skips flushing initdb's own files; the server runs with fsync=on.
        _run([str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
              "-E", "UTF8", "--locale=C", "--no-sync"], cwd=self.top)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> "PrivateServer":
        for attempt in range(3):  # the port is free when chosen, not necessarily when bound
            port = self.port or _free_port()
            opts = (f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={self.top} "
                    "-c fsync=on -c synchronous_commit=on -c full_page_writes=on "
                    "-c shared_buffers=32MB -c max_connections=50")
            try:
                _run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                      "-o", opts, "start"], cwd=self.top)
                self.port, self.running = port, True
                return self
            except RuntimeError:
                if attempt == 2 or self.port is not None:
                    raise RuntimeError(f"PostgreSQL did not start:\n{self.log.read_text()}") from None
        return self

    def stop(self, mode: str = "fast") -> None:
        """``fast`` disconnects clients cleanly; ``immediate`` is a crash (recovery on the next start)."""
        if self.running:
            _run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"], cwd=self.top)
            self.running = False

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.top, ignore_errors=True)


@contextlib.contextmanager
def private_server() -> Iterator[str]:
    """``postgresql://postgres@127.0.0.1:PORT/postgres`` of a private, fsync-on server."""
    server = PrivateServer()
    try:
        yield server.start().url
    finally:
        server.remove()
