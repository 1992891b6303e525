"""A wake-up call from the recorder's writer to the API server's process (pure core).

One end of a Unix datagram socket pair rings (one empty-ish datagram, non-blocking: O(1)
and never waits); the other end waits for a ring or a timeout and swallows every ring
pending. A ring carries nothing: the reader then reads the store, which is the only
record of what was stored, so a ring that is dropped (the reader has rings pending
already, or is gone) loses nothing, and a ring that comes before the reader looked finds
the rows it looked for or the next ones.
"""

from __future__ import annotations

import select
import socket


class Bell:
    def __init__(self, sock: socket.socket):
        sock.setblocking(False)
        self.sock = sock

    @classmethod
    def pair(cls) -> tuple["Bell", "Bell"]:
        """(the ringing end, the waiting end)."""
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        return cls(a), cls(b)

    @classmethod
    def from_fd(cls, fd: int) -> "Bell":
        return cls(socket.socket(fileno=fd))

    def ring(self) -> None:
        try:
            self.sock.send(b"\0")
        except OSError:  # full (rings are pending: one is as good as many) or the waiter is gone
            pass

    def wait(self, timeout: float, also: "Bell | None" = None) -> bool:
        """Block until a ring (here or on ``also``) or ``timeout`` seconds; True if rung.
        Takes every pending ring of both."""
        ends = [self.sock] if also is None else [self.sock, also.sock]
        rung = select.select(ends, [], [], timeout)[0]
        for sock in rung:
            while True:
                try:
                    sock.recv(64)
                except OSError:  # BlockingIOError: all taken
                    break
        return bool(rung)

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()
