"""The supervisor of ``fixgw run``: backoff, schedules and operator holds on top of QuickFIX.

A supervisor thread adds what QuickFIX's initiator lacks, using only the
session's enable switch (``Session::logout()`` disables, ``logon()`` enables;
a disabled session is never connected):

* backoff: QuickFIX retries every ``reconnect_interval``; after the n-th failed
  attempt in a row the session is held back so the next one comes
  ``reconnect_interval * 2^(n-1)`` s (capped at ``reconnect_backoff_max``)
  after the failure, give or take one interval (QuickFIX's timer granularity);
* schedules: outside a session's logon window QuickFIX logs it out and sends no
  Logon, but would still open an idle TLS connection every interval, so the
  session is held until its window opens;
* operator holds: a session logged out from the CLI stays out until ``logon``.
"""

from __future__ import annotations

import logging
import threading
import time

from fixgw.adapter.gateway import Gateway
from fixgw.adapter.sessions import in_logon_window
from fixgw.metrics import backoff_delay
from fixgw.state import State

log = logging.getLogger("fixgw.run")


class Supervisor:
    """Backoff, schedule and operator holds on top of QuickFIX's reconnect timer."""

    def __init__(self, gw: Gateway, period: float = 0.1):
        self.gw = gw
        self.period = period
        self.interval = gw.config.reconnect_interval
        self.cap = gw.config.reconnect_backoff_max
        self.lock = threading.RLock()
        self.holds: dict[str, str] = {}  # session -> "operator" | "schedule" | "backoff"
        self.release_at: dict[str, float] = {}
        self.seen_failures: dict[str, int] = {}
        self.reset_pending: set[str] = set()  # RT sessions whose next Logon carries 141=Y
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="fixgw-supervisor", daemon=True)

    def start(self) -> "Supervisor":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def hold(self, name: str, reason: str, until: float | None = None) -> None:
        with self.lock:
            self.holds[name] = reason
            if until is not None:
                self.release_at[name] = until
            # Disables the session. A connection that has not logged on (QuickFIX opens one
            # outside the logon window too) is closed by QuickFIX's own thread on its next
            # tick (the wheel's patch 5), never from here: that would race its socket loop.
            self.gw.logout(name)
        log.info("session=%s event=hold reason=%s%s", name, reason,
                 f" retry_in={until - time.time():.1f}s" if until else "")

    def release(self, name: str) -> None:
        with self.lock:
            reason = self.holds.pop(name, None)
            self.release_at.pop(name, None)
            self.gw.logon(name)
        log.info("session=%s event=release reason=%s", name, reason or "operator")

    def describe(self, name: str) -> dict:
        with self.lock:
            reason = self.holds.get(name)
            until = self.release_at.get(name)
        return {"hold": reason, "retry_in": round(max(0.0, until - time.time()), 1) if until and reason else None}

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            for name in list(self.gw.runtimes):
                try:
                    self.tick(name, time.time())
                except Exception:  # noqa: BLE001 - the supervisor must outlive one bad tick
                    log.exception("session=%s event=supervisor-error", name)

    def tick(self, name: str, now: float) -> None:
        rt = self.gw.runtimes[name]
        session = self.gw._session(name)
        if session is None:
            return
        with self.lock:
            reason = self.holds.get(name)
            if name in self.reset_pending and rt.lifecycle.state is State.LOGGED_ON:
                session.setResetOnLogon(bool(rt.config.resets))
                self.reset_pending.discard(name)
            if reason == "operator":
                return
            if not in_logon_window(session):
                if reason != "schedule" and not session.isLoggedOn():  # QuickFIX logs it out itself
                    self.hold(name, "schedule")
                return
            if reason == "schedule":
                self.release(name)
                return
            attempts = rt.metrics.attempts
            if attempts.failed > self.seen_failures.get(name, 0):
                self.seen_failures[name] = attempts.failed
                extra = backoff_delay(attempts.streak, self.interval, self.cap) - self.interval
                if extra > 0 and not attempts.open and reason is None:
                    self.hold(name, "backoff", (attempts.last_failure or now) + extra)
                    return
            if reason == "backoff" and now >= self.release_at.get(name, 0):
                self.release(name)
