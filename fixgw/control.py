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

Protocol: one JSON object per line in, one per line out: ``{"ok": true, ...}`` or
``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import socketserver
import stat
import struct
import sys
import threading
from pathlib import Path
from typing import Callable

from fixgw.errors import FixgwError

log = logging.getLogger("fixgw.control")

Handler = Callable[[dict], dict]
SOCKET_NAME = "control.sock"


class ControlError(FixgwError):
    """The control socket cannot be served or reached, or the server refused a command."""


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end of a Unix socket, from the kernel."""
    if hasattr(socket, "SO_PEERCRED"):  # Linux: struct ucred {pid_t pid; uid_t uid; gid_t gid;}
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return struct.unpack("3i", raw)[1]
    if sys.platform == "darwin":  # LOCAL_PEERCRED: struct xucred {u_int version; uid_t uid; ...}
        raw = sock.getsockopt(0, 0x001, 76)
        return struct.unpack_from("Ii", raw)[1]
    return None  # unknown platform: refuse everyone rather than trust file modes alone


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    path: Path


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


def serve(path: Path, handle: Handler, *, name: str = "control", tighten: bool = False) -> _Server:
    """Serve ``handle`` on ``path`` in a daemon thread; ``handle`` gets each request dict.

    ``tighten``: the socket's directory is this process's own state directory, so
    making it 0700 is right (it also holds the RT store with signed Logons)."""
    path = Path(path)
    _private_dir(path.parent, tighten)
    _clear_stale(path)
    my_uid = os.getuid()

    class _Conn(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            try:
                uid = peer_uid(self.connection)
            except OSError as e:
                uid, why = None, str(e)
            else:
                why = "peer credentials unavailable on this platform"
            if uid != my_uid:
                who = f"uid {uid}" if uid is not None else why
                log.warning("event=refused-peer socket=%s peer=%s", path, who)
                self._answer({"ok": False, "error": f"refused: peer {who} is not the owner of this "
                                                    f"{name} socket (uid {my_uid}); only its owner may drive it"})
                return
            for line in self.rfile:
                try:
                    request = json.loads(line)
                    if not isinstance(request, dict):
                        raise ValueError("a request is one JSON object per line")
                    answer = {"ok": True, **handle(request)}
                except (FixgwError, ValueError, KeyError, TypeError, TimeoutError) as e:
                    answer = {"ok": False, "error": f"{type(e).__name__}: {e}"}
                except Exception as e:  # noqa: BLE001 - one bad command must not kill the server
                    log.exception("event=control-error socket=%s", path)
                    answer = {"ok": False, "error": f"internal error: {type(e).__name__}: {e}"}
                if not self._answer(answer):
                    return

        def _answer(self, answer: dict) -> bool:
            try:
                self.wfile.write(json.dumps(answer, default=str).encode() + b"\n")
                self.wfile.flush()
                return True
            except OSError:
                return False

    old = os.umask(0o177)
    try:
        server = _Server(str(path), _Conn)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    server.path = path
    threading.Thread(target=server.serve_forever, name=f"{name}-socket", daemon=True).start()
    return server


def close(server: _Server) -> None:
    """Stop serving and remove the socket file."""
    server.shutdown()
    server.server_close()
    try:
        server.path.unlink()
    except FileNotFoundError:
        pass


def socket_for(config_path: str | os.PathLike) -> Path:
    """``<state_dir>/control.sock`` of a gateway config, read without validating the rest
    (an operator asking for status need not have the sessions' key-id variables set)."""
    import tomllib

    p = Path(config_path)
    try:
        data = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ControlError(f"config file {p} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise ControlError(f"config file {p}: {e}") from None
    state = Path(str(data.get("state_dir", "var/fixgw"))).expanduser()
    return p.resolve().parent / state / SOCKET_NAME


def request(path: Path, payload: dict, timeout: float = 10.0, *, error: type[Exception] = ControlError) -> dict:
    """Send one command and return the answer without ``ok``; raise ``error`` on a refusal."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(path))
            try:
                s.sendall(json.dumps(payload).encode() + b"\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # a refusing server answers and hangs up before reading: its answer is still there
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
    except FileNotFoundError:
        raise error(f"no control socket at {path}: is the process running (and is this its state_dir)?") from None
    except ConnectionRefusedError:
        raise error(f"nothing is listening on {path}: the process that made it has exited") from None
    except PermissionError:
        raise error(f"permission denied on {path}: only the user running the process may drive it") from None
    except socket.timeout:
        raise error(f"no answer from {path} within {timeout:.0f} s") from None
    except OSError as e:
        if e.errno == errno.ENOTSOCK:
            raise error(f"{path} is not a socket") from None
        raise error(f"{path}: {e.strerror or e}") from None
    if not buf:
        raise error(f"{path} closed the connection without answering")
    answer = json.loads(buf)
    if not answer.pop("ok", False):
        raise error(answer.get("error", "the command was refused"))
    return answer
