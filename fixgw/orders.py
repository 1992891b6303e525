"""Order requests: ClOrdID bookkeeping and acknowledgements (pure core).

The :class:`Registry` of a session knows every order this gateway sent and is
still open, checks each request before a byte is sent (:mod:`fixgw.checks`),
and gives each accepted request an :class:`Ack` that resolves on the first
definitive answer: an ExecutionReport that is not a pending report, or a reject
model (35=9, 35=j, 35=3, 150=8). QuickFIX's thread only resolves acks; it never
runs caller code.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from fixgw.checks import Checks, SessionCaps
from fixgw.errors import OrderError
from fixgw.fix.fastorder import Lane
from fixgw.models.fix import (BusinessMessageReject, ExecType, ExecutionReport, NewOrderSingle,
                              OrderCancelReject, OrderCancelReplaceRequest, OrderCancelRequest,
                              OrderGroupResponse, OrderMassCancelReport, OrderMassCancelRequest, SessionReject)

PENDING = frozenset({ExecType.PENDING_NEW, ExecType.PENDING_CANCEL, ExecType.PENDING_REPLACE})
BUCKETS = 32  # 2^31 us is about 36 minutes: anything slower lands in the last bucket


class Ack:
    """A one-shot answer that threads can wait on and asyncio code can await.

    The latch is a plain lock held until the answer comes: cheaper than an Event
    (no Condition, no waiter lock per wait) on the path every order takes.
    """

    __slots__ = ("_latch", "_done", "_value", "_waiters", "_lock", "request", "sent_ns", "blocked")

    def __init__(self, request: object):
        self.request = request
        self._latch = threading.Lock()
        self._latch.acquire()
        self._done = False
        self._value: object = None
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = []
        self._lock = threading.Lock()
        self.sent_ns = 0  # perf_counter_ns when QuickFIX took the request to send (Registry.sent)
        self.blocked = 0  # threads inside wait() (a hint for the dispatcher: see Dispatcher._run)

    @property
    def done(self) -> bool:
        return self._done

    def resolve(self, value: object) -> bool:
        with self._lock:
            if self._done:
                return False
            self._value, self._done = value, True
            self._latch.release()
            waiters, self._waiters = self._waiters, []
        for loop, fut in waiters:
            try:
                loop.call_soon_threadsafe(_set, fut, value)
            except RuntimeError:  # its loop has closed (asyncio.run gave up waiting): nobody left to tell
                pass
        return True

    def wait(self, timeout: float | None = 10.0):
        """The ack model (ExecutionReport or a reject model); TimeoutError if none came."""
        if not self._done:
            forever = timeout is None or timeout >= threading.TIMEOUT_MAX  # 1e308 s: wait, do not overflow
            self.blocked += 1
            try:
                if not self._latch.acquire(timeout=-1 if forever else max(0.0, timeout)):
                    raise TimeoutError(f"no answer to {type(self.request).__name__} within {timeout} s")
                self._latch.release()  # open for every other waiter too
            finally:
                self.blocked -= 1
        return self._value

    def __await__(self):
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        with self._lock:
            if self._done:
                fut.set_result(self._value)
            else:
                self._waiters.append((loop, fut))
        return fut.__await__()


def _set(fut: asyncio.Future, value: object) -> None:
    if not fut.done():
        fut.set_result(value)


@dataclass(slots=True)  # one per ClOrdID, kept: no per-instance dict for the collector to walk
class Tracked:
    """What the gateway knows of one of its orders (for cancels, replaces and acks)."""

    symbol: str
    side: object
    alloc_account: int | None
    cl_ord_id: str  # current ClOrdID (changes on replace)
    order_id: str | None = None
    keys: tuple[str, ...] = ()  # every ClOrdID that refers to it (new, replaces, cancels)
    parties: tuple = ()  # 453 of the new order (FCM sub-trader); cancels and replaces repeat it


_CL_ORD_PREFIX = str(uuid.uuid4())[:24]  # 74 random bits per process...
_cl_ord_seq = itertools.count(int.from_bytes(os.urandom(4), "big"))  # ...then a counter


def new_cl_ord_id() -> str:
    """A fresh version-4-shaped UUID without a getrandom() call per order.

    The first 24 characters are random per process and the last 12 hex digits
    count, so ids never repeat within a process and collide across processes
    only with negligible probability, and the order path makes no system call
    for an id.
    """
    return f"{_CL_ORD_PREFIX}{next(_cl_ord_seq) & 0xFFFFFFFFFFFF:012x}"


class Latencies:
    """Round trips in log2 buckets of microseconds (bucket i holds [2^(i-1), 2^i) us), with exact
    count, sum and max. The registry writes them as acks resolve (plain counts: no lock, one
    decoding thread at a time); :class:`fixgw.metrics.Histogram` reads them at snapshot time."""

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


class Registry(Checks):
    """Per-session order bookkeeping. Thread-safe: callers and QuickFIX's thread share it."""

    def __init__(self, caps: SessionCaps):
        self.caps = caps
        self.lane = Lane(caps.units, caps.product, caps.limits.max_notional)  # plain orders, checked from memory
        self._lock = threading.Lock()
        self._orders: dict[str, Tracked] = {}  # ClOrdIDs of open orders -> the order
        # ClOrdIDs of finished orders and mass cancels: kept only to refuse their reuse, as
        # strings, so a long session holds no object per past order for the collector to walk.
        self._used: set[str] = set()
        # ClOrdID (or group key) -> pending ack. Read without the lock by the dispatcher on
        # QuickFIX's thread: while any is waiting, what arrives is decoded at once.
        self.acks: dict[str, Ack] = {}
        # The round trips of resolved acks; the session's metrics report them (fixgw.metrics).
        self.latencies = Latencies()
        self.answered: Ack | None = None  # the ack resolved last (Dispatcher.receive reads it)
        # MsgSeqNum of a request -> its ack key, oldest first. An OrderedDict: trimming the
        # oldest of a plain dict (next(iter(d))) walks the holes left by earlier deletions,
        # a cost that grows with every send once a session has sent _SEQ_MEMORY messages.
        self._by_seq: OrderedDict[int, str] = OrderedDict()

    # -- bookkeeping ----------------------------------------------------
    def register(self, key: str, request: object) -> Ack:
        ack = Ack(request)
        with self._lock:
            if key != GROUP_KEY:  # the reuse check again, now under the lock (the limiter waited since)
                self._unused(key)
            if isinstance(request, NewOrderSingle):
                self._orders[key] = Tracked(request.symbol, request.side, request.alloc_account, key, keys=(key,),
                                             parties=request.parties)
            elif isinstance(request, (OrderCancelReplaceRequest, OrderCancelRequest)):
                order = self._orders.get(request.orig_cl_ord_id)
                if order is None:  # it finished since the request was checked: nothing is sent
                    raise OrderError(f"order {request.orig_cl_ord_id!r}: it is no longer open")
                order.keys += (key,)
                self._orders[key] = order
            elif isinstance(request, OrderMassCancelRequest):
                self._used.add(key)
            self.acks[key] = ack
        return ack

    def register_plain(self, key: str, symbol: str, side: object) -> Ack:
        """:meth:`register` for a plain order from the express lane (:class:`fixgw.fix.fastorder.Lane`),
        whose ClOrdID's shape the caller has checked; the ack's ``request`` is set by the caller once sent."""
        ack = Ack(None)
        with self._lock:
            self._unused(key)
            self._orders[key] = Tracked(symbol, side, None, key, keys=(key,))
            self.acks[key] = ack
        return ack

    def unregister(self, key: str) -> None:
        """Undo register() when the request could not be sent (nothing is lost or reused)."""
        with self._lock:
            self.acks.pop(key, None)
            self._used.discard(key)
            order = self._orders.pop(key, None)
            if order is not None:
                order.keys = tuple(k for k in order.keys if k != key)

    def _retire(self, order: Tracked) -> None:
        """A finished order: forget the object, remember its ClOrdIDs (under the lock)."""
        for k in order.keys:
            if self._orders.get(k) is order:
                del self._orders[k]
            self._used.add(k)

    def has_pending(self, key: str) -> bool:
        with self._lock:
            return key in self.acks

    def waiting(self) -> int:
        """Requests sent or being sent whose answer has not come."""
        return len(self.acks)

    def sent(self, seq: int, key: str) -> None:
        """``key`` goes out as MsgSeqNum ``seq``: start its ack's clock (not again on a resend), and
        remember which request a 35=3/35=j RefSeqNum names."""
        with self._lock:
            ack = self.acks.get(key)
            if ack is not None and not ack.sent_ns:
                ack.sent_ns = time.perf_counter_ns()
            self._by_seq[seq] = key
            if len(self._by_seq) > _SEQ_MEMORY:  # rejects refer to recent requests only
                self._by_seq.popitem(last=False)

    def apply(self, message: object) -> int | None:
        """Update state from an inbound model and resolve the matching ack; the round trip in
        microseconds from :meth:`sent` to this answer (also counted in :attr:`latencies`), if it
        resolved a sent request."""
        key = None
        if isinstance(message, ExecutionReport):  # the common case: one lock, the answer first
            key, pending = message.cl_ord_id, message.exec_type in PENDING
            with self._lock:
                # The answer first (the caller it wakes is on the latency path), then the order. Both
                # under the lock that a woken caller's next request takes to read the order
                # (resolve_order: its OrderID, current ClOrdID, openness) and to register.
                ack = None if pending or key is None else self.acks.pop(key, None)
                if ack is not None:
                    ack.resolve(message)
                order = self._orders.get(key) if key else None
                if order is not None:
                    order.order_id = message.order_id
                    if message.exec_type is ExecType.REPLACED:
                        order.cl_ord_id = key
                    if not pending and message.leaves_qty == 0:
                        self._retire(order)
            return None if ack is None else self._resolved(ack, message, False)
        elif isinstance(message, (OrderCancelReject, OrderMassCancelReport)):
            key = message.cl_ord_id
        elif isinstance(message, (BusinessMessageReject, SessionReject)):
            with self._lock:
                key = self._by_seq.pop(message.ref_seq_num, None) if message.ref_seq_num else None
        elif isinstance(message, OrderGroupResponse):
            key = GROUP_KEY
        if key is None:
            return None
        with self._lock:
            ack = self.acks.pop(key, None)
        return None if ack is None else self._resolved(ack, message)

    def _resolved(self, ack: Ack, message: object, resolve: bool = True) -> int | None:
        """Resolve ``ack`` (unless the caller did); its round trip in microseconds if it was sent (recorded)."""
        if resolve:
            ack.resolve(message)
        self.answered = ack
        if not ack.sent_ns:
            return None
        us = (time.perf_counter_ns() - ack.sent_ns) // 1000
        self.latencies.record_us(us)
        return us


def outcome(answer: object) -> dict:
    """``state`` (the order's status, lower case, or ``rejected``) and ``rejected`` of an ack's answer.

    Rejected: 150=8, an OrderCancelReject, a 35=j or 35=3 naming the request, and a
    mass cancel answered 531=0."""
    if isinstance(answer, ExecutionReport):
        rejected = answer.exec_type is ExecType.REJECTED
        state = "rejected" if rejected else str(getattr(answer.ord_status, "name", answer.ord_status)).lower()
        return {"state": state, "rejected": rejected}
    if isinstance(answer, OrderMassCancelReport):
        rejected = answer.response == 0
    else:
        rejected = isinstance(answer, (OrderCancelReject, BusinessMessageReject, SessionReject))
    return {"state": "rejected" if rejected else "answered", "rejected": rejected}


_SEQ_MEMORY = 65536
GROUP_KEY = "\x00order-group"  # order-group requests carry no ClOrdID; one may be in flight

