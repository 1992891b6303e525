"""Sequence gaps on KalshiNR and KalshiDC: recorded at once, recovered through KalshiDC (adapter).

Kalshi resends nothing on NR and DC, so a ResendRequest there is never answered
and QuickFIX would hold every later message until the heartbeat timeout. Those
sessions run with ``AcceptSeqNumGaps=Y`` (patch 7 of ``.ci/quickfix-wheel.sh``):
QuickFIX takes the message above the gap as it is and writes one event line,
``MsgSeqNum gap accepted (AcceptSeqNumGaps): expecting N but received M``, which
reaches :meth:`Recovery.on_event_line` through the session's log on QuickFIX's thread.

There the gap is recorded (the session's last error and error history, a
``seq_gaps`` metric, a ``event=seq-gap`` log line and an :class:`~fixgw.models.event.Event`
whose ``error`` names it), nothing more: sending from inside a QuickFIX callback
could deadlock against the session's own lock. When the gateway has a KalshiDC
session for the product, a worker thread asks it for every report from the last
ExecID the gapped session saw (EventResendRequest, BeginExecID inclusive, no end):
the replayed reports flow through the usual path, acks they answer are resolved,
and the dispatcher applies each ExecID once (orders, fills and positions ignore
one they already hold). The recorder, which has its own backfill, only records.
"""

from __future__ import annotations

import logging
import queue
import re
import threading

from fixgw.config import Kind
from fixgw.errors import FixgwError
from fixgw.dispatch import Inbound
from fixgw.models.fix import EventResendComplete, EventResendReject
from fixgw.state import State

log = logging.getLogger("fixgw.recovery")
GAP = re.compile(r"MsgSeqNum gap accepted \(AcceptSeqNumGaps\): expecting (\d+) but received (\d+)")
GAP_PREFIX = "MsgSeqNum gap from "  # how the error recorded for a gap starts
DC_WAIT_S = 30.0  # how long a recovery waits for its KalshiDC session to be logged on


class Recovery:
    """Gap bookkeeping for one gateway; ``recover=False`` records without asking KalshiDC."""

    def __init__(self, gateway, recover: bool = True):
        self.gw = gateway
        self.recover = recover
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.dc_of: dict[str, str] = {}  # product -> its KalshiDC session
        for name, rt in gateway.runtimes.items():
            if rt.config.type is Kind.DC:
                self.dc_of.setdefault(rt.config.product.value, name)

    # -- QuickFIX's thread ----------------------------------------------
    def on_event_line(self, rt, text: str) -> bool:
        """Handle one QuickFIX event line; True if it was a gap."""
        m = GAP.match(text)
        if m is None:
            return False
        expected, received = int(m.group(1)), int(m.group(2))
        lost = received - expected
        s = rt.config
        reason = (f"{GAP_PREFIX}{s.target}: expected {expected}, received {received}; "
                  f"{lost} message(s) lost ({s.target} does not resend)")
        rt.metrics.seq_gaps += 1
        rt.lifecycle.note_error(reason)
        log.warning("session=%s event=seq-gap expected=%d received=%d lost=%d", s.name, expected, received, lost)
        self.gw.dispatcher.pass_on(rt, Inbound(s.name, None, None, reason))  # before the message after the gap
        if not self.recover:
            return True
        dc = self.dc_of.get(s.product.value)
        self.gw.dispatcher.backlog.settle()  # last_exec_id is set as reports are decoded: decode what came
        begin = rt.last_exec_id or self._last_exec_id(s.product.value)
        if dc is None:
            log.warning("session=%s event=seq-gap-unrecovered reason=no KalshiDC session for product %s",
                        s.name, s.product.value)
        elif begin is None:
            log.warning("session=%s event=seq-gap-unrecovered reason=no ExecID seen yet to ask %s from",
                        s.name, dc)
        else:
            self._q.put((s.name, dc, begin))
            self._ensure_worker()
        return True

    def _last_exec_id(self, product: str) -> str | None:
        for rt in self.gw.runtimes.values():
            if rt.config.product.value == product and rt.last_exec_id is not None:
                return rt.last_exec_id
        return None

    # -- the worker -------------------------------------------------------
    def _ensure_worker(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="fixgw-gap-recovery", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            name, dc, begin = self._q.get()
            lc = self.gw.runtime(dc).lifecycle
            if not lc.wait(lambda s: s.state is State.LOGGED_ON, DC_WAIT_S):
                self._failed(name, dc, begin, f"{dc} is not logged on ({lc.state})")
                continue
            try:
                self.gw.event_resend(dc, begin, None)
            except FixgwError as e:
                self._failed(name, dc, begin, str(e))
                continue
            log.warning("session=%s event=gap-recovery dc=%s begin_exec_id=%s", name, dc, begin)

    def _failed(self, name: str, dc: str, begin: str, why: str) -> None:
        reason = f"could not recover the reports lost in a MsgSeqNum gap through {dc} from {begin}: {why}"
        self.gw.runtime(name).lifecycle.note_error(reason)
        log.error("session=%s event=gap-recovery-failed dc=%s begin_exec_id=%s error=%s", name, dc, begin, why)

    # -- answers (dispatcher thread) ------------------------------------------
    def on_dispatched(self, event) -> None:
        """Log KalshiDC's answer to a recovery (or any EventResendRequest)."""
        msg = event.message
        if isinstance(msg, EventResendComplete):
            log.warning("session=%s event=resend-complete reports=%d", event.session, msg.count)
        elif isinstance(msg, EventResendReject):
            reason = f"EventResendReject 21004={msg.reason}: {msg.text or ''}".rstrip(": ")
            self.gw.runtime(event.session).lifecycle.note_error(reason)
            log.error("session=%s event=resend-rejected reason=%s", event.session, reason)
