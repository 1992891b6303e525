"""One process per state directory: an OS lock on ``STATE_DIR/fixgw.lock`` (pure core).

Two processes on one state directory share QuickFIX's sequence-number stores,
its message logs and the control socket: a second gateway would log on with
the first one's sequence numbers. So ``fixgw run``, ``fixgw record`` and a
library :class:`~fixgw.adapter.gateway.Gateway` take an exclusive ``flock`` on the
lock file before they open any connection, and write their pid into it; a
second process is refused with the holder's pid and the path.

The kernel drops the lock when its holder dies (SIGKILL included), so a stale
file never blocks a restart. Within one process the lock is counted, not
taken again: ``fixgw run`` hosts a recorder's gateway next to its own.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
from pathlib import Path

from fixgw.errors import FixgwError

LOCK_NAME = "fixgw.lock"

_held: dict[str, list[int]] = {}  # resolved lock path -> [fd, holders in this process]
_guard = threading.Lock()


class StateDirBusy(FixgwError):
    """Another process holds the state directory."""


def acquire(state_dir: Path) -> Path:
    """Take (or count once more) the lock of ``state_dir``, creating the directory (0700) if needed.

    StateDirBusy names the holder's pid and the lock file when another process has it.
    """
    state_dir = Path(state_dir)
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = (state_dir / LOCK_NAME).resolve()
    key = str(path)
    with _guard:
        if key in _held:
            _held[key][1] += 1
            return path
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as e:
            raise FixgwError(f"cannot open the state directory's lock file {path}: {e.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = _read_pid(fd)
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise FixgwError(f"cannot lock {path}: {e.strerror}") from None
            who = f"pid {holder}" if holder else "another process (pid not yet written)"
            raise StateDirBusy(f"state directory {state_dir} is in use by {who} (lock {path}); "
                               "one process per state directory: stop that one first, or give this "
                               "config its own state_dir") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _held[key] = [fd, 1]
        return path


def release(path: Path) -> None:
    """Undo one :func:`acquire`; the last one in this process unlocks."""
    key = str(path)
    with _guard:
        entry = _held.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] > 0:
            return
        del _held[key]
        os.close(entry[0])  # closing the only descriptor drops the flock


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
