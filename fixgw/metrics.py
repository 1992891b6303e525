"""Per-session counters and latency histograms (pure core).

Nothing here runs on the path of a received message: the writers count in
place, without a call or a lock. ``fromApp`` (QuickFIX's single socket thread)
adds to ``msgs_in`` and sets ``last_in``; the decoding side (:mod:`fixgw.dispatch`,
one thread at a time) adds ``rejected_reports``, ``decode_errors`` and
``anomalies``; outbound counts are written inside ``Session::send``, which holds
the session's mutex. Readers (``status``) take a snapshot that may be a message
behind, never torn in a way that matters for an operator; what is derived
(``rejects_in``, the ack quantiles) is computed when read.

The order->ack round trip (``order_ack``) is timed by the order registry
(:class:`fixgw.orders.Registry`, the one table of requests waiting for an
answer), from ``toApp`` (the request is on its way to the socket) to the
decoded answer that resolves its Ack, into log2 buckets of microseconds
(:class:`fixgw.orders.Latencies`: bucket i holds [2^(i-1), 2^i) us); a
:class:`Histogram` reads them and interpolates quantiles inside their bucket.

``on_event`` classifies QuickFIX's session event-log lines into connection
attempts and failed attempts; ``fixgw run`` backs off on the failure streak.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from fixgw.orders import Latencies

# QuickFIX event-log lines that end a connection attempt without a Logon.
_FAILED = ("Disconnecting", "Socket error", "Socket disconnect", "SSL_connect failed", "Socket deleted",
           "Connection failed", "Timed out waiting for logon response", "SSL Handshake took too long")
# The wheel's patch 5: QuickFIX closing a disabled session's connection that had not logged on.
_CLOSED_DISABLED = "Closing the connection of a disabled session"


class Histogram:
    """Quantiles and a snapshot of round trips counted in log2 buckets of microseconds, with exact
    count, sum and max (``counts``: the :class:`fixgw.orders.Latencies` a registry writes)."""

    __slots__ = ("counts",)

    def __init__(self, counts: Latencies | None = None) -> None:
        self.counts = counts if counts is not None else Latencies()

    @property
    def buckets(self) -> list[int]:
        return self.counts.buckets

    @property
    def count(self) -> int:
        return self.counts.count

    @property
    def total_us(self) -> int:
        return self.counts.total_us

    @property
    def max_us(self) -> int:
        return self.counts.max_us

    def record_us(self, us: int) -> None:
        self.counts.record_us(us)

    def quantile(self, q: float) -> float | None:
        """The q-quantile in microseconds, linear inside its bucket (error < the bucket's width)."""
        if not self.count:
            return None
        rank = q * self.count
        seen = 0
        for i, n in enumerate(self.buckets):
            if n and seen + n >= rank:
                lo, hi = (0, 1) if i == 0 else (1 << (i - 1), 1 << i)
                return min(float(self.max_us), lo + (hi - lo) * max(0.0, rank - seen) / n)
            seen += n
        return float(self.max_us)

    def snapshot(self) -> dict:
        return {"count": self.count,
                "mean_us": round(self.total_us / self.count, 1) if self.count else None,
                "p50_us": _round(self.quantile(0.50)), "p99_us": _round(self.quantile(0.99)),
                "max_us": self.max_us if self.count else None,
                "buckets": {f"<{1 << i}us": n for i, n in enumerate(self.buckets) if n}}


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


@dataclass
class Attempts:
    """Connection attempts as QuickFIX's event log tells them."""

    total: int = 0
    failed: int = 0
    streak: int = 0  # failed attempts since the last Logon
    open: bool = False  # an attempt started and has not ended yet
    logged_on: bool = False  # the open attempt reached a Logon
    last_failure: float | None = None


class SessionMetrics:
    """Everything countable about one session."""

    def __init__(self) -> None:
        self.msgs_in: Counter = Counter()  # MsgType -> count, QuickFIX's thread
        self.msgs_out: Counter = Counter()  # MsgType -> count, under the session's send lock
        self.rejected_reports = 0  # ExecutionReports with 150=8 (rejects_in adds 35=3/j/9)
        self.rejects_out = 0  # 35=3/j we (QuickFIX) sent
        self.decode_errors = 0
        self.callback_errors = 0  # exceptions the callback guard caught (fixgw.adapter.guard)
        self.seq_gaps = 0  # MsgSeqNum gaps taken on NR/DC (fixgw.adapter.recovery)
        self.anomalies = 0  # fields of kept messages the dictionary does not allow (fixgw.fix.lenient)
        self.last_in: float | None = None  # wall clock of the last message received
        self.last_out: float | None = None
        self.order_ack = Histogram()  # the order registry's round trips (its Latencies, once wired)
        self.in_flight: Callable[[], int] = lambda: 0  # the registry's requests waiting for an answer
        self.attempts = Attempts()

    # -- counting -------------------------------------------------------
    def inbound(self, msg_type: str) -> None:
        """A session-level message received (``fromAdmin``; ``fromApp`` counts in place)."""
        self.msgs_in[msg_type] += 1
        self.last_in = time.time()

    @property
    def rejects_in(self) -> int:
        """Rejects received: 35=3, 35=j, 35=9 and ExecutionReports with 150=8."""
        m = self.msgs_in
        return m["3"] + m["j"] + m["9"] + self.rejected_reports

    def outbound(self, msg_type: str) -> None:
        """A message handed to QuickFIX for sending."""
        self.msgs_out[msg_type] += 1
        self.last_out = time.time()
        if msg_type in ("3", "j"):
            self.rejects_out += 1

    # -- connection attempts ----------------------------------------------
    def on_event(self, text: str, now: float | None = None) -> str | None:
        """Classify one QuickFIX event-log line: 'attempt', 'logon', 'failed' or None."""
        a = self.attempts
        if text.startswith("Connecting to"):
            a.total += 1
            a.open, a.logged_on = True, False
            return "attempt"
        if text.startswith("Received logon response"):
            a.logged_on, a.streak = True, 0
            return "logon"
        if text.startswith(_CLOSED_DISABLED):  # a hold closing an idle connection: not a failure
            a.open = False
            return None
        if a.open and text.startswith(_FAILED):
            a.open = False
            if not a.logged_on:
                a.failed += 1
                a.streak += 1
                a.last_failure = time.time() if now is None else now
                return "failed"
        return None

    # -- reading --------------------------------------------------------
    def summary(self) -> dict:
        """Small enough for every ``status`` line."""
        return {"in": sum(self.msgs_in.values()), "out": sum(self.msgs_out.values()),
                "rejects_in": self.rejects_in, "rejects_out": self.rejects_out,
                "decode_errors": self.decode_errors,
                "callback_errors": self.callback_errors, "anomalies": self.anomalies, "seq_gaps": self.seq_gaps, "acks": self.order_ack.count,
                "ack_p50_us": _round(self.order_ack.quantile(0.5)),
                "ack_p99_us": _round(self.order_ack.quantile(0.99)),
                "connects": self.attempts.total, "failed_connects": self.attempts.failed}

    def snapshot(self) -> dict:
        """Everything, for ``fixgw status --json`` / the ``metrics`` command."""
        return {**self.summary(), "msgs_in": dict(self.msgs_in), "msgs_out": dict(self.msgs_out),
                "last_in": self.last_in, "last_out": self.last_out, "in_flight": self.in_flight(),
                "order_ack": self.order_ack.snapshot(), "failure_streak": self.attempts.streak}


def backoff_delay(streak: int, interval: int, cap: int) -> float:
    """Seconds from a failed attempt to the next one: interval, 2x, 4x ... capped.

    QuickFIX itself retries every ``interval``; ``fixgw run`` holds a session
    back for ``backoff_delay(...) - interval`` so the total doubles."""
    if streak <= 0:
        return float(interval)
    return float(min(cap, interval * (1 << min(streak - 1, 20))))
