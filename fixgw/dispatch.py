"""From a received message's text to what callers consume (pure core: no quickfix import).

QuickFIX's thread keeps its part small: ``fromApp`` hands the text to
:meth:`Dispatcher.receive`, which queues an :class:`Inbound` holding it. It is
decoded (:func:`decoded`: :mod:`fixgw.fix.codec`, then the session's bookkeeping,
:class:`fixgw.orders.Registry` first) when someone first reads ``message`` or
``error``: at once, on QuickFIX's thread, while the session has a request
waiting for its answer (so the ack resolves before anything else is done), else
by the dispatcher thread or the recorder. A :class:`Backlog` decodes messages
one at a time and in arrival order, whichever thread asks.

The dispatcher thread applies a KalshiDC replay of an ExecID once, makes the
REST shapes (:mod:`fixgw.translate`; margin orders :mod:`fixgw.margin`), folds
fills and cash into the books (:mod:`fixgw.positions`; FCM sub-traders
:mod:`fixgw.fcm`; settlement reports :mod:`fixgw.settlements`) and fans one
:class:`~fixgw.models.event.Event` out to subscriptions and callbacks. A
translation or callback that raises is logged and the dispatcher goes on.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import OrderedDict, deque
from decimal import Decimal
from typing import Any, Callable

from fixgw import positions, settlements, translate
from fixgw.fcm import Subtraders
from fixgw.errors import DecodeError
from fixgw.fix import codec, lenient
from fixgw.margin import MarginOrders
from fixgw.models.event import Event
from fixgw.models.fix import ExecType, ExecutionReport, MarketSettlementReport, Side
from fixgw.positions import Cash, Ledger
from fixgw.subscription import AsyncSubscription, Subscription

log = logging.getLogger("fixgw.dispatch")
# (runtime, raw, invalid, MsgType) -> (model or None, error or None): the session's decoding and bookkeeping
Decoder = Callable[[Any, str, bool, "str | None"], tuple[Any, "str | None"]]
REJECTED = ExecType.REJECTED
MAX_APPLIED = 200_000  # ExecIDs remembered for de-duplicating KalshiDC replays
CALLER_POLL_S, CALLER_WAIT_S = 0.0001, 0.005  # the dispatcher lets a woken caller run first (Dispatcher._run)


def decoded(sess: Any, raw: str, invalid: bool = False, msg_type: str | None = None) -> tuple[Any, str | None]:
    """(model, None), or (None, why) for a message no decoder can read, with the session's
    bookkeeping (``sess`` is its :class:`fixgw.adapter.application.SessionRuntime`): the order registry
    resolves and times the ack first, then the reject count, the gap-recovery ExecID, the KalshiDC
    peers' registries, unknown tags and anomalies (counted in place in ``sess.metrics``). ``invalid``: QuickFIX's validation refused
    it, so it goes to the lenient decoder with the wire text; otherwise ``raw`` is QuickFIX's
    ``toString()`` of the message it parsed; ``msg_type``: read from the text on arrival."""
    try:
        if invalid:
            model, unknown = lenient.decode(raw, sess.units)
        else:
            try:
                model, unknown = codec.decode_raw_with_unknown(raw, sess.units, msg_type, True)  # toString()
            except DecodeError:  # keep what can be kept: a fill must not be lost to one field
                model, unknown = lenient.decode(raw, sess.units)
    except DecodeError as e:
        sess.metrics.decode_errors += 1
        reason = f"undecodable message kept as raw: {e}"
        sess.lifecycle.note_error(reason)
        log.error("session=%s event=decode-error error=%s", sess.config.name, e)
        return None, reason
    if sess.registry is not None:  # first: a caller may wait (the registry times the round trip)
        sess.registry.apply(model)
    if model.__class__ is ExecutionReport:
        if model.exec_type is REJECTED:
            sess.metrics.rejected_reports += 1
        if not model.is_pending:
            sess.last_exec_id = model.exec_id
            for registry in sess.peers:
                registry.apply(model)
    if unknown and not sess.unknown_tags.issuperset(unknown):
        sess.unknown_tags.update(unknown)
        log.warning("session=%s event=unknown-tags msg_type=%s tags=%s", sess.config.name, type(model).__name__,
                    ",".join(map(str, unknown)))
    if getattr(model, "anomalies", None):
        sess.metrics.anomalies += len(model.anomalies)
        exec_id = getattr(model, "exec_id", None)
        for a in model.anomalies:
            log.warning("session=%s event=anomaly msg_type=%s exec_id=%s tag=%d value=%r problem=%s",
                        sess.config.name, type(model).__name__, exec_id, a.tag, a.value, a.problem)
    return model, None


def settled(sess: Any, raw: str, invalid: bool, msg_type: str | None) -> tuple[Any, str | None]:
    """The backlog's decoder: :func:`decoded`, and a bug in it becomes what the callback guard
    makes of one (named, counted, the session's last error), on whichever thread decodes."""
    try:
        return decoded(sess, raw, invalid, msg_type)
    except Exception as exc:  # noqa: BLE001 - the dispatcher or QuickFIX's thread must go on
        sess.lifecycle.note_error(f"internal error decoding a message: {type(exc).__name__}: {exc}")
        sess.metrics.callback_errors += 1
        log.error("session=%s callback=decode error=%s: %s", sess.config.name, type(exc).__name__, exc)
        return None, f"decoding failed: {type(exc).__name__}: {exc}"


class Inbound:
    """One application message from a session: ``session`` (its name), ``message`` (the model,
    None when undecodable), ``raw`` (the text as received; the recorder stores it), ``error``
    (why it could not be decoded, naming the MsgType and tag) and ``msg_type`` (read from the
    text once, when it arrived). Built decoded, or received (:meth:`Backlog.add`) and decoded
    on first read."""

    __slots__ = ("session", "raw", "msg_type", "_message", "_error", "_todo", "caller")

    def __init__(self, session: str, message: Any = None, raw: str | None = None, error: str | None = None,
                 msg_type: str | None = None):
        self.session, self.raw, self.msg_type = session, raw, msg_type
        self._message, self._error = message, error
        self._todo: tuple[Backlog, Any, bool] | None = None  # (backlog, runtime, invalid) until decoded
        self.caller: Any = None  # the Ack this message answered while a thread was blocked on it

    @property
    def message(self) -> Any:
        if self._todo is not None:
            self._todo[0].settle(self)
        return self._message

    @property
    def error(self) -> str | None:
        if self._todo is not None:
            self._todo[0].settle(self)
        return self._error

    @property
    def decoded(self) -> bool:
        return self._todo is None

    def settle(self) -> None:
        """Decode now (and every message received before this one)."""
        if self._todo is not None:
            self._todo[0].settle(self)

    def __repr__(self) -> str:
        state = "" if self._todo is None else ", not decoded yet"
        return f"Inbound({self.session!r}, {self._message!r}, error={self._error!r}{state})"


class Backlog:
    """Received messages not decoded yet, oldest first, shared by every session of a dispatcher."""

    def __init__(self, decoder: Decoder = settled):
        # The decoder never raises: settled reports its own failures; another one is wrapped once
        # here (not per call: an answer's decode is on the order round trip).
        self._decoder = decoder if decoder is settled else _never_raising(decoder)
        self._items: deque[Inbound] = deque()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, session: str, runtime: Any, raw: str, invalid: bool, msg_type: str | None = None) -> Inbound:
        """A received message, decoded later (QuickFIX's thread: one append)."""
        item = Inbound(session, raw=raw, msg_type=msg_type)
        item._todo = (self, runtime, invalid)
        self._items.append(item)
        return item

    def now(self, session: str, runtime: Any, raw: str, invalid: bool, msg_type: str | None = None) -> Inbound:
        """A received message decoded at once, after every one received before it (QuickFIX's
        thread, while its session waits for an answer): :meth:`add` then :meth:`settle`, without
        queueing what is decoded on arrival."""
        with self._lock:
            if self._items:
                self._settle(None)
            model, error = self._decoder(runtime, raw, invalid, msg_type)
        return Inbound(session, model, raw, error, msg_type)

    def settle(self, upto: Inbound | None = None) -> None:
        """Decode, in arrival order, every message up to ``upto`` (all of them when None)."""
        with self._lock:
            self._settle(upto)

    def _settle(self, upto: Inbound | None) -> None:
        items = self._items
        while items and (upto is None or upto._todo is not None):
            item = items.popleft()
            _, runtime, invalid = item._todo  # type: ignore[misc]
            item._message, item._error = self._decoder(runtime, item.raw, invalid, item.msg_type)  # type: ignore[arg-type]
            item._todo = None


def _never_raising(decoder: Decoder) -> Decoder:
    """``decoder`` with its failure as the error (model None): a backlog never stalls on one message."""
    def decode(runtime: Any, raw: str, invalid: bool, msg_type: str | None) -> tuple[Any, str | None]:
        try:
            return decoder(runtime, raw, invalid, msg_type)
        except Exception as exc:  # noqa: BLE001 - the decoder reports its own failures; never stall the rest
            return None, f"decoding failed: {type(exc).__name__}: {exc}"
    return decode


class Dispatcher:
    """Received messages in, events out: :meth:`receive` on QuickFIX's thread, the rest on the
    dispatcher thread. ``deliver(runtime, inbound)``, when given, takes each received message
    instead of the dispatcher thread (the recorder, which keeps no books here)."""

    def __init__(self, products: dict[str, str], translating: bool = True, *, user_id: str = "",
                 party_id: str | None = None, starting_balance: Decimal | None = None,
                 deliver: Callable[[Any, Inbound], None] | None = None):
        self.products = products  # session name -> "event" | "margin"
        self.backlog = Backlog()  # received, decoded on first read, in arrival order (every session)
        self.deliver = deliver
        self.party_id = party_id  # this account's 20109 in settlement reports (fixgw.settlements)
        self.settlements: list = []  # this account's REST Settlements, in arrival order
        self.cash = Cash(starting_balance)  # BALANCE/PAYOUT changes: GET /portfolio/balance
        self.translating = translating  # False: pass messages on untouched (the recorder keeps no state)
        self.ledger = Ledger(user_id=user_id)  # de-duplicates fills seen on several sessions (e.g. a listener)
        self.orders = translate.Orders(user_id=user_id)
        self.subtraders = Subtraders(user_id=user_id)  # FCM: a ledger and orders per sub-trader (452=24)
        self.margin_orders = MarginOrders(user_id=user_id)
        self.replay_sessions: set[str] = set()  # KalshiDC: replays repeat reports already applied
        self._applied: OrderedDict[tuple[str, str], None] = OrderedDict()  # (product, ExecID), bounded
        self._subs: list = []
        self._callbacks: list[tuple[Callable[[Event], None], tuple[type, ...] | None]] = []
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self.state_lock = threading.Lock()  # guards ledger and orders against readers
        self._thread = threading.Thread(target=self._run, name="fixgw-dispatch", daemon=True)
        self._thread.start()

    # producers (QuickFIX's thread)
    def receive(self, sess: Any, msg_type: str, raw: str, invalid: bool) -> None:
        """A received application message (``msg_type`` read from the text, '?' when it has none;
        ``invalid``: QuickFIX's validation refused it), handed on. While the session has a request
        waiting for its answer it is decoded at once (:meth:`Backlog.now`: after every message
        received before it, never queued), so the ack resolves before anything else is done, and
        marked with the ack of a thread it woke (see :meth:`_run`); otherwise it goes into the
        backlog and whoever reads it first decodes it."""
        registry = sess.registry
        if registry is not None and registry.acks:
            registry.answered = None
            item = self.backlog.now(sess.config.name, sess, raw, invalid, None if msg_type == "?" else msg_type)
            answered = registry.answered
            if answered is not None and answered.blocked > 0:
                item.caller = answered
        else:
            item = self.backlog.add(sess.config.name, sess, raw, invalid, None if msg_type == "?" else msg_type)
        self.pass_on(sess, item)

    def pass_on(self, sess: Any, item: Inbound) -> None:
        """Hand on a message made elsewhere (a gap notice) the way :meth:`receive` hands them on."""
        if self.deliver is None:
            self._q.put(item)
        else:
            self.deliver(sess, item)

    def put(self, item: Inbound) -> None:
        """Queue a message for the dispatcher thread; it is decoded (if nobody did yet) and translated there."""
        self._q.put(item)

    # consumers
    def subscribe(self) -> Subscription:
        sub = Subscription(self)
        with self._lock:
            self._subs.append(sub)
        return sub

    def subscribe_async(self) -> AsyncSubscription:
        sub = AsyncSubscription(self, asyncio.get_running_loop())
        with self._lock:
            self._subs.append(sub)
        return sub

    def unsubscribe(self, sub) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def on_event(self, callback: Callable[[Event], None], kinds: tuple[type, ...] | None = None) -> None:
        """Call ``callback(event)`` on the dispatcher thread for every event, or only for those whose
        message is one of ``kinds``."""
        with self._lock:
            self._callbacks.append((callback, kinds))

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything queued so far has been dispatched."""
        done = threading.Event()
        self._q.put(done)
        done.wait(timeout)

    # the dispatcher thread
    def _run(self) -> None:
        while True:
            item = self._q.get()
            # The caller first: a report that answered a request woke the thread blocked on its
            # ack too, and both want the GIL the moment QuickFIX's thread lets go of it. That
            # thread is on the latency path; translating for subscribers waits until it has left
            # wait() (looked at every CALLER_POLL_S, for at most CALLER_WAIT_S, and only while
            # nothing else is queued: under load the dispatcher never idles). Otherwise step
            # aside once, for a caller woken some other way. ``blocked`` is a hint (threads
            # waiting on one ack together may miscount it); the bound makes a wrong hint cheap.
            caller = getattr(item, "caller", None)
            if caller is None:
                time.sleep(0)
            else:
                give_up = time.monotonic() + CALLER_WAIT_S
                while caller.blocked > 0 and self._q.empty() and time.monotonic() < give_up:
                    time.sleep(CALLER_POLL_S)
            if isinstance(item, threading.Event):
                item.set()
                continue
            try:
                message = item.message  # decodes it, unless the caller waiting for it did
                with self.state_lock:
                    event = self._translate(item.session, message, item.raw, item.error)
            except Exception as exc:  # noqa: BLE001 - keep dispatching
                log.exception("session=%s event=translate-error error=%s", item.session, exc)
                event = Event(item.session, item.message, raw=item.raw, error=f"translation failed: {exc}")
            with self._lock:
                subs, callbacks = list(self._subs), list(self._callbacks)
            for sub in subs:
                sub.put(event)
            for cb, kinds in callbacks:
                if kinds is not None and not isinstance(event.message, kinds):
                    continue
                try:
                    cb(event)
                except Exception as exc:  # noqa: BLE001 - a caller's bug must not stop the gateway
                    log.exception("session=%s event=callback-error error=%s", event.session, exc)

    def _translate(self, session: str, message, raw, error) -> Event:
        if not self.translating:
            return Event(session, message, raw=raw, error=error)
        if isinstance(message, MarketSettlementReport):
            own = settlements.settle(message, raw, self.party_id, self.ledger, self.subtraders, self.cash)
            if own is not None:
                self.settlements.append(own)
            return Event(session, message, raw=raw, settlement=own)
        if not isinstance(message, ExecutionReport):
            return Event(session, message, raw=raw, error=error)
        if not message.is_pending and self._again(session, message.exec_id):
            return Event(session, message, raw=raw)  # a replay of a report already applied: applied once
        if message.side.__class__ is not Side:  # a Side the dictionary does not list: never guess one
            return Event(session, message, raw=raw, error=f"report {message.exec_id}: Side(54) {message.side!r} is "
                                                           "not a value the dictionary lists; not applied")
        subtrader = message.subtrader
        try:
            return self._shapes(session, message, raw, subtrader)
        finally:  # the report's cash moved even when its REST shapes could not be made
            if message.collateral:
                self.cash.add(f"{self.products[session]}:{message.exec_id}", self.products[session], subtrader,
                              message.collateral, message.transact_time)

    def _shapes(self, session: str, message: ExecutionReport, raw, subtrader: str | None) -> Event:
        books = self.subtraders.of(subtrader) if subtrader is not None else None
        ledger, orders = (books.ledger, books.orders) if books is not None else (self.ledger, self.orders)
        # translate makes the REST shapes from the report alone; the ledgers are folded here, for
        # both products, so that positions are only ever changed by the dispatcher in one place.
        if self.products[session] == "margin":
            fill = translate.margin_fill_from_report(message)
            post = None
            if fill is not None:
                sub = message.alloc_account or 0
                fill = ledger.add_margin(fill, subaccount=sub)  # carries the ledger's entry price and PnL
                book = ledger.margins.get((sub, message.symbol))
                post = positions.post_position_of(message, book.P if book is not None else None)
            return Event(session, message, raw=raw, fill=fill, order=self.margin_orders.apply(message),
                         post_position=post)
        order = orders.apply(message)
        fill = translate.fill_from_report(message) if message.exec_type is ExecType.TRADE else None
        position = ledger.add(fill) if fill is not None else None
        if fill is not None and subtrader is not None:
            self.subtraders.add_fill(fill, subtrader)
        post = positions.post_position_of(message, position.position_fp if position is not None else None) \
            if fill is not None else None
        return Event(session, message, raw=raw, fill=fill, order=order, position=position, post_position=post)

    def _again(self, session: str, exec_id: str) -> bool:
        """True for a KalshiDC replay of an ExecID this dispatcher has already applied."""
        key = (self.products[session], exec_id)
        if key in self._applied:
            return session in self.replay_sessions
        self._applied[key] = None
        if len(self._applied) > MAX_APPLIED:
            self._applied.popitem(last=False)
        return False
