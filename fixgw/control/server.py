"""JSON lines over an owner-only Unix socket: how operators drive a running process.

Both ``fixgw run`` (the gateway) and ``fixgw sim`` (the simulator) serve one.
A socket that can place orders must be reachable by its owner only, and file
modes alone are not enough (a later ``chmod``, a permissive umask, root-owned
helper scripts), so there are three independent locks:

1. the socket's directory is created 0700; an existing one that group or others
   can enter is tightened to 0700 when it is the process's own state directory
   (``tighten=True``) and refused otherwise (never ``chmod`` a shared directory),
2. the socket file is created under umask 0177 and chmod'ed 0600,
3. every connection's peer uid is read from the kernel (``SO_PEERCRED``) and any
   uid other than the server's own is told so and disconnected before a single
   request is read.

Protocol (:mod:`fixgw.control.client` is the other end): one JSON object per line in, one per line out: ``{"ok": true, ...}`` or
``{"ok": false, "error": "..."}``. Limits (:class:`Server`): ``MAX_CLIENTS``
connections, ``IDLE_TIMEOUT`` seconds without a request, a listen backlog of
``BACKLOG`` and request lines up to ``MAX_LINE`` bytes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import selectors
import socket
import stat
import struct
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from fixgw.errors import ControlError, FixgwError

log = logging.getLogger("fixgw.control")

Handler = Callable[[dict], dict]
SOCKET_NAME = "control.sock"  # in the state directory


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end of a Unix socket, from the kernel."""
    if hasattr(socket, "SO_PEERCRED"):  # Linux: struct ucred {pid_t pid; uid_t uid; gid_t gid;}
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return struct.unpack("3i", raw)[1]
    if sys.platform == "darwin":  # LOCAL_PEERCRED: struct xucred {u_int version; uid_t uid; ...}
        raw = sock.getsockopt(0, 0x001, 76)
        return struct.unpack_from("Ii", raw)[1]
    return None  # unknown platform: refuse everyone rather than trust file modes alone


def _private_dir(directory: Path, tighten: bool) -> None:
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True)
        os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask; say it exactly
    st = directory.stat()
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid != os.getuid():
        raise ControlError(f"{directory} belongs to uid {st.st_uid}, not to this user ({os.getuid()}); "
                           "serve the control socket from a directory you own (--socket)")
    if mode & 0o077:
        if not tighten or mode & (stat.S_ISVTX | 0o002):
            raise ControlError(f"{directory} can be entered by group/others (mode {mode:04o}); put the control "
                               f"socket in a private directory (chmod 700 {directory}, or --socket elsewhere)")
        log.warning("event=tighten-dir path=%s mode=%04o new_mode=0700", directory, mode)
        os.chmod(directory, 0o700)


def _clear_stale(path: Path) -> None:
    """Remove a socket left by a dead process; refuse to steal a live one."""
    if not (path.exists() or path.is_symlink()):
        return
    if not stat.S_ISSOCK(path.lstat().st_mode):
        raise ControlError(f"{path} exists and is not a socket; remove it or choose another --socket")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(str(path))
        except OSError:
            path.unlink()
            return
    raise ControlError(f"{path}: another process is serving this control socket")


MAX_CLIENTS = 64  # connections served at once (and requests in flight)
IDLE_TIMEOUT = 60.0  # seconds a connection may sit without sending a request
BACKLOG = 128  # connections the kernel queues before the server accepts them
MAX_LINE = 1 << 16  # bytes in one request line


class _Client:
    __slots__ = ("sock", "buf", "last", "busy")

    def __init__(self, sock: socket.socket, now: float):
        self.sock, self.buf, self.last, self.busy = sock, bytearray(), now, False


class Server:
    """One thread owns every connection (a selector); requests run on a bounded pool.

    An idle connection costs a file descriptor, never a thread. At most
    ``max_clients`` connections are kept: a new one makes room by closing the
    connection idle the longest, and is refused only when every connection has a
    request in flight, so a flood of idle connections cannot lock the owner out.
    A connection that sends nothing for ``idle_timeout`` seconds is closed. Every
    closing or refusal is one error line saying why. Requests on one connection
    are answered in order, one at a time."""

    def __init__(self, path: Path, handle: Handler, name: str, *, max_clients: int, idle_timeout: float):
        self.path, self.handle, self.name = path, handle, name
        self.max_clients, self.idle_timeout = max_clients, idle_timeout
        self.uid = os.getuid()
        old = os.umask(0o177)
        try:
            self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.listener.bind(str(path))
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        self.listener.listen(BACKLOG)
        self.listener.setblocking(False)
        self.clients: dict[socket.socket, _Client] = {}
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.listener, selectors.EVENT_READ)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._finished: queue.SimpleQueue[tuple[_Client, bool]] = queue.SimpleQueue()
        self._pool = ThreadPoolExecutor(max_clients, thread_name_prefix=f"{name}-request")
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name=f"{name}-socket", daemon=True)

    def start(self) -> "Server":
        self._thread.start()
        return self

    def shutdown(self) -> None:
        """Stop accepting, close every connection; requests in flight finish unanswered."""
        self._stop = True
        self._wake()
        self._thread.join(10)
        self._pool.shutdown(wait=False, cancel_futures=True)
        for sock in list(self.clients):
            sock.close()
        self.clients.clear()
        for sock in (self.listener, self._wake_r, self._wake_w):
            sock.close()
        self._selector.close()

    # -- the connection thread ------------------------------------------
    def _loop(self) -> None:
        while not self._stop:
            for key, _ in self._selector.select(timeout=min(1.0, self.idle_timeout)):
                if key.fileobj is self.listener:
                    self._accept()
                elif key.fileobj is self._wake_r:
                    with contextlib.suppress(OSError):
                        self._wake_r.recv(4096)
                else:
                    c = self.clients.get(key.fileobj)
                    if c is not None:
                        self._read(c)
            while not self._finished.empty():
                self._resume(*self._finished.get())
            now = time.monotonic()
            for c in [c for c in self.clients.values() if not c.busy and now - c.last > self.idle_timeout]:
                self._drop(c, f"closed: no request for {self.idle_timeout:g} s (idle timeout)")

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:  # out of descriptors: the connection stays queued in the kernel
                log.warning("event=accept-failed socket=%s error=%s", self.path, e)
                return
            refusal = self._refusal(sock)
            if refusal is None and not self._room():
                log.warning("event=refused-client socket=%s clients=%d", self.path, len(self.clients))
                refusal = {"ok": False, "error": f"refused: {len(self.clients)} requests are in flight on this "
                                                 f"{self.name} socket (its limit of clients); try again"}
            if refusal is not None:
                _say(sock, refusal)
                sock.close()
                continue
            sock.setblocking(False)
            self.clients[sock] = _Client(sock, time.monotonic())
            self._selector.register(sock, selectors.EVENT_READ)

    def _room(self) -> bool:
        """Room for one more connection, made by closing the one idle the longest if need be;
        False when every connection has a request in flight."""
        for c in sorted((c for c in self.clients.values() if not c.busy), key=lambda c: c.last):
            if len(self.clients) < self.max_clients:
                break
            if _pending(c.sock):  # not idle: its request is waiting to be read
                self._read(c)
            else:
                self._drop(c, f"closed: {self.max_clients} clients were connected (the limit) and this one "
                              "was idle the longest")
        return len(self.clients) < self.max_clients

    def _refusal(self, sock: socket.socket) -> dict | None:
        try:
            uid = peer_uid(sock)
        except OSError as e:
            uid, why = None, str(e)
        else:
            why = "peer credentials unavailable on this platform"
        if uid == self.uid:
            return None
        who = f"uid {uid}" if uid is not None else why
        log.warning("event=refused-peer socket=%s peer=%s", self.path, who)
        return {"ok": False, "error": f"refused: peer {who} is not the owner of this {self.name} socket "
                                      f"(uid {self.uid}); only its owner may drive it"}

    def _read(self, c: _Client) -> None:
        try:
            chunk = c.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._close(c)
            return
        c.buf += chunk
        c.last = time.monotonic()
        self._next(c)

    def _next(self, c: _Client) -> None:
        """Start the connection's next complete request, if it has one."""
        end = c.buf.find(b"\n", 0, MAX_LINE + 1)  # a newline further on still ends an over-long line
        if end < 0:
            if len(c.buf) > MAX_LINE:
                self._drop(c, f"closed: a request line is longer than {MAX_LINE} bytes")
            return
        line, c.buf = bytes(c.buf[:end]), c.buf[end + 1:]
        c.busy = True
        self._selector.unregister(c.sock)
        self._pool.submit(self._serve, c, line)

    def _resume(self, c: _Client, alive: bool) -> None:
        c.busy, c.last = False, time.monotonic()
        if not alive or self._stop:
            self._close(c)
            return
        c.sock.setblocking(False)
        self._selector.register(c.sock, selectors.EVENT_READ)
        self._next(c)

    def _drop(self, c: _Client, why: str) -> None:
        log.info("event=client-closed socket=%s reason=%r", self.path, why)
        _say(c.sock, {"ok": False, "error": why})
        self._close(c)

    def _close(self, c: _Client) -> None:
        if not c.busy:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(c.sock)
        self.clients.pop(c.sock, None)
        c.sock.close()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    # -- the pool -------------------------------------------------------
    def _serve(self, c: _Client, line: bytes) -> None:
        answer = self._answer(line)
        alive = True
        try:
            c.sock.settimeout(10.0)  # blocking, bounded: a client that does not read is dropped
            c.sock.sendall(json.dumps(answer, default=str).encode() + b"\n")
        except OSError:
            alive = False
        self._finished.put((c, alive))
        self._wake()

    def _answer(self, line: bytes) -> dict:
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("a request is one JSON object per line")
            return {"ok": True, **self.handle(request)}
        except (FixgwError, ValueError, KeyError, TypeError, TimeoutError) as e:
            return {"ok": False, "error": f"{type(e).__name__}: {e}"}
        except Exception as e:  # noqa: BLE001 - one bad command must not kill the server
            log.exception("event=control-error socket=%s", self.path)
            return {"ok": False, "error": f"internal error: {type(e).__name__}: {e}"}


def _pending(sock: socket.socket) -> bool:
    """Bytes (or the end of the stream) are waiting to be read on a non-blocking socket."""
    try:
        sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True
    return True


def _say(sock: socket.socket, answer: dict) -> None:
    """One line to a connection that is being refused or closed; a full buffer is not waited for."""
    with contextlib.suppress(OSError):
        sock.send(json.dumps(answer).encode() + b"\n", socket.MSG_DONTWAIT)


def serve(path: Path, handle: Handler, *, name: str = "control", tighten: bool = False,
          max_clients: int = MAX_CLIENTS, idle_timeout: float = IDLE_TIMEOUT) -> Server:
    """Serve ``handle`` on ``path`` in a daemon thread; ``handle`` gets each request dict.

    ``tighten``: the socket's directory is this process's own state directory, so
    making it 0700 is right (it also holds the RT store with signed Logons)."""
    path = Path(path)
    _private_dir(path.parent, tighten)
    _clear_stale(path)
    return Server(path, handle, name, max_clients=max_clients, idle_timeout=idle_timeout).start()


def close(server: Server) -> None:
    """Stop serving and remove the socket file."""
    server.shutdown()
    try:
        server.path.unlink()
    except FileNotFoundError:
        pass
