"""Per-session counters and latency histograms (pure core).

Cheap enough for QuickFIX's callbacks: an event is a dict increment, a
histogram sample is ``int.bit_length`` plus a list increment; no locks. That
is safe because each counter has one writer: inbound counts are written by
QuickFIX's single socket thread, outbound counts inside ``Session::send``,
which holds the session's mutex. Readers (``status``) take a snapshot that
may be a message behind, never torn in a way that matters for an operator.

The order->ack round trip (``order_ack``) is timed by the order registry
(:class:`fixgw.orders.Registry`, the one table of requests waiting for an
answer), from ``toApp`` (the request is on its way to the socket) to the
decoded answer that resolves its Ack. Samples go into log2 buckets of
microseconds (bucket i holds [2^(i-1), 2^i) us), and quantiles are
interpolated inside their bucket.

``on_event`` classifies QuickFIX's session event-log lines into connection
attempts and failed attempts; ``fixgw run`` backs off on the failure streak.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from fixgw.models.fix import ExecType, ExecutionReport

BUCKETS = 32  # 2^31 us is about 36 minutes: anything slower lands in the last bucket
_REJECT_TYPES = frozenset({"3", "j", "9"})  # session reject, business reject, cancel reject
# QuickFIX event-log lines that end a connection attempt without a Logon.
_FAILED = ("Disconnecting", "Socket error", "Socket disconnect", "SSL_connect failed", "Socket deleted",
           "Connection failed", "Timed out waiting for logon response", "SSL Handshake took too long")
# The wheel's patch 5: QuickFIX closing a disabled session's connection that had not logged on.
_CLOSED_DISABLED = "Closing the connection of a disabled session"


def msg_type_of(raw: str) -> str:
    """MsgType(35) of a raw FIX string (SOH-delimited), without a parser: '?' if absent."""
    i = raw.find("\x0135=")
    if i < 0:
        return "?"
    j = raw.find("\x01", i + 4)
    return raw[i + 4:j if j >= 0 else None]


class Histogram:
    """Log2 buckets of microseconds with exact count, sum and max."""

    __slots__ = ("buckets", "count", "total_us", "max_us")

    def __init__(self) -> None:
        self.buckets = [0] * BUCKETS
        self.count = 0
        self.total_us = 0
        self.max_us = 0

    def record_us(self, us: int) -> None:
        i = us.bit_length()
        self.buckets[i if i < BUCKETS else BUCKETS - 1] += 1
        self.count += 1
        self.total_us += us
        if us > self.max_us:
            self.max_us = us

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
        self.rejects_in = 0  # 35=3/j/9 and ExecutionReports with 150=8
        self.rejects_out = 0  # 35=3/j we (QuickFIX) sent
        self.decode_errors = 0
        self.callback_errors = 0  # exceptions the callback guard caught (fixgw.adapter.guard)
        self.seq_gaps = 0  # MsgSeqNum gaps taken on NR/DC (fixgw.adapter.recovery)
        self.anomalies = 0  # fields of kept messages the dictionary does not allow (fixgw.fix.lenient)
        self.last_in: float | None = None  # wall clock of the last message received
        self.last_out: float | None = None
        self.order_ack = Histogram()  # recorded from the order registry's answers
        self.in_flight: Callable[[], int] = lambda: 0  # the registry's requests waiting for an answer
        self.attempts = Attempts()

    # -- the hot path ---------------------------------------------------
    def inbound(self, msg_type: str) -> None:
        self.msgs_in[msg_type] += 1
        self.last_in = time.time()
        if msg_type in _REJECT_TYPES:
            self.rejects_in += 1

    def outbound(self, msg_type: str) -> None:
        """A message handed to QuickFIX for sending."""
        self.msgs_out[msg_type] += 1
        self.last_out = time.time()
        if msg_type in ("3", "j"):
            self.rejects_out += 1

    def decoded(self, model: object, ack_us: int | None) -> None:
        """A decoded inbound model (its MsgType was counted by :meth:`inbound`): an ExecutionReport
        with 150=8 is a reject; ``ack_us`` is the round trip of the request it answered."""
        if model.__class__ is ExecutionReport and model.exec_type is ExecType.REJECTED:
            self.rejects_in += 1
        if ack_us is not None:
            self.order_ack.record_us(ack_us)

    def decode_error(self) -> None:
        self.decode_errors += 1

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
