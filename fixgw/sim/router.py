"""Between the acceptor and the matching engines: decode, match, route (adapter).

Requests arrive on an account's order-entry sessions; the engine answers with
``Out`` items naming the owning session (or none, for account-wide messages).
Reports go to the owning session in that session's price units, and every
ExecutionReport is copied to the account's listener sessions. A session that is
offline still gets its message through QuickFIX's store: RT resends it after
the next Logon; NR, like Kalshi, has nothing to resend.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal

import quickfix as fix

from fixgw.adapter import encode
from fixgw.fix import codec, tags, wire
from fixgw.config import Kind, Product
from fixgw.errors import DecodeError, OrderError
from fixgw.models.fix import (BusinessMessageReject, EventResendComplete, EventResendReject, ExecutionReport,
                              MarketSettlementReport, NewOrderSingle, OrderCancelReplaceRequest,
                              OrderCancelRequest, OrderGroupRequest, OrderMassCancelRequest, Received, Side,
                              TimeInForce)
from fixgw.pricing import Units
from fixgw.sim.dropcopy import DropCopy, Refused
from fixgw.sim.engine import Engine, Flags, Out
from fixgw.sim.faults import Faults, Spoiled
from fixgw.sim.rules import SimSession

log = logging.getLogger("fixgw.sim")


@dataclass
class Live:
    """What a logged-on session asked for at Logon."""

    flags: Flags
    units: Units
    listener: bool
    settlements: bool


def live_from_logon(s: SimSession, body: dict[int, str]) -> Live:
    yes = lambda tag: body.get(tag) == "Y"  # noqa: E731
    dollars = s.product is Product.MARGIN or yes(tags.USE_DOLLARS)
    return Live(
        Flags(skip_pending=yes(tags.SKIP_PENDING_EXEC_REPORTS), always_new=yes(tags.ALWAYS_EMIT_NEW_BEFORE_TRADE),
              ioc_cancel_report=yes(tags.ENABLE_IOC_CANCEL_REPORT), preserve_qty=yes(tags.PRESERVE_ORIGINAL_ORDER_QTY),
              use_expired=yes(tags.USE_EXPIRED_ORD_STATUS), cancel_on_disconnect=yes(tags.CANCEL_ORDERS_ON_DISCONNECT),
              cents=not dollars),
        Units.DOLLARS if dollars else Units.CENTS, listener=yes(tags.LISTENER_SESSION),
        settlements=yes(tags.RECEIVE_SETTLEMENT_REPORTS))


@dataclass(frozen=True)
class Replay:
    """ExecutionReports for a KalshiDC session as body text, each sent ``copies`` times."""

    bodies: tuple[str, ...]
    copies: int = 1


Outgoing = Received | Replay | Spoiled  # what send() takes: a model, a drop-copy replay, a spoiled report

_HANDLERS = {NewOrderSingle: "new_order", OrderCancelRequest: "cancel", OrderCancelReplaceRequest: "replace",
             OrderMassCancelRequest: "mass_cancel", OrderGroupRequest: "order_group"}


class Router:
    def __init__(self, sessions: dict[str, SimSession]):
        self.sessions = sessions
        self.engines = {p: Engine(p.value) for p in Product}
        self.dropcopy = DropCopy(clock=lambda: time.time() + self.clock_offset)
        self.clock_offset = 0.0  # the control socket can move the drop-copy clock forward
        self.live: dict[str, Live] = {}
        self.withheld: set[tuple[str, Product]] = set()  # until their next listener logon, these get nothing
        self.duplicate_replays = False
        self.faults = Faults()  # armed from the control socket (fixgw.sim.faults)
        self.lock = threading.RLock()  # the acceptor thread and the control socket both drive engines
        self._depth = 0
        self._outbox: list[tuple[str, Outgoing]] = []

    @contextlib.contextmanager
    def locked(self):
        """Hold the engines' lock; messages produced meanwhile are sent after it is released.

        QuickFIX's acceptor thread holds a session's mutex while it calls us; sending
        (which takes the target session's mutex) while holding our lock could deadlock
        against another thread doing the reverse.
        """
        with self.lock:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                outbox = []
                if self._depth == 0:
                    outbox, self._outbox = self._outbox, []
        for sid, model in outbox:
            self._send_now(sid, model)

    def logon(self, sid: str, body: dict[int, str]) -> None:
        with self.locked():
            live = self.live[sid] = live_from_logon(self.sessions[sid], body)
            if live.listener:  # reports are withheld while an account's listener is away
                s = self.sessions[sid]
                self.withheld.discard((s.account, s.product))

    def logout(self, sid: str) -> None:
        with self.locked():
            live = self.live.pop(sid, None)
            s = self.sessions[sid]
            if live is not None and live.flags.cancel_on_disconnect:
                self.route(s.product, self.engines[s.product].disconnect(s.account, sid, live.flags))

    def request(self, sid: str, raw: str) -> None:
        """An application message from a client session (acceptor thread)."""
        s = self.sessions[sid]
        with self.locked():
            live = self.live.get(sid)
            msg_type, _, pairs = wire.split(raw)
            if msg_type == "U1" and s.kind is Kind.DC and live is not None:
                self._replay(sid, s, live, pairs, _seq(raw))
                return
            refusal = self._refuse(s, live, msg_type)
            if refusal is not None:
                self.send(sid, BusinessMessageReject(ref_msg_type=msg_type, reason=refusal[0], text=refusal[1],
                                                     ref_seq_num=_seq(raw)))
                return
            try:
                req = codec.decode(msg_type, pairs, live.units)
            except DecodeError as e:
                self.send(sid, BusinessMessageReject(ref_msg_type=msg_type, reason=0, text=str(e),
                                                     ref_seq_num=_seq(raw)))
                return
            handler = getattr(self.engines[s.product], _HANDLERS[type(req)])
            outs = handler(s.account, sid, req, live.flags)
            seq = _seq(raw)
            outs = [Out(o.account, o.session, o.message.model_copy(update={"ref_seq_num": seq}))
                    if isinstance(o.message, BusinessMessageReject) and o.message.ref_seq_num is None else o
                    for o in outs]  # the engine cannot know which MsgSeqNum it answers
            self.route(s.product, outs)

    @staticmethod
    def _refuse(s: SimSession, live: Live | None, msg_type: str) -> tuple[int, str] | None:
        if live is None:
            return 6, "session is not logged on"
        if s.kind is Kind.DC or msg_type not in ("D", "F", "G", "q", "UOG"):
            return 3, f"35={msg_type} is not supported on {s.target}"
        if live.listener:
            return 6, "listener sessions are read-only"
        if msg_type == "q" and s.kind is not Kind.NR:
            return 3, "OrderMassCancelRequest is accepted on KalshiNR only"
        return None

    def _replay(self, sid: str, s: SimSession, live: Live, pairs, seq: int | None) -> None:
        """EventResendRequest: the account's retained reports, then U2 (or U3)."""
        try:
            req = codec.decode("U1", pairs, live.units)
        except DecodeError as e:
            self.send(sid, EventResendReject(ref_seq_num=seq or 0, reason=2, text=str(e)))
            return
        result = self.dropcopy.replay(s.account, s.product.value, req.begin_exec_id, req.end_exec_id,
                                      live.units, live.flags.preserve_qty)
        if isinstance(result, Refused):
            self.send(sid, EventResendReject(ref_seq_num=seq or 0, reason=result.reason, text=result.text))
            return
        self.send(sid, Replay(tuple(result), 2 if self.duplicate_replays else 1))
        self.send(sid, EventResendComplete(ref_seq_num=seq or 0, count=len(result)))

    def route(self, product: Product, outs: list[Out]) -> None:
        for out in outs:
            worded = self._wordings(product, out.message)
            if worded is not None:
                self.dropcopy.record(out.account, product.value, out.message, worded)
            withheld = (out.account, product) in self.withheld
            targets = []
            if out.session is not None:
                targets.append(out.session)
            for sid, live in self.live.items():
                s = self.sessions[sid]
                if s.account != out.account or s.product is not product or sid == out.session:
                    continue
                if isinstance(out.message, ExecutionReport) and live.listener and not out.message.is_pending \
                        and not withheld:
                    targets.append(sid)
                elif isinstance(out.message, MarketSettlementReport) and live.settlements and s.kind is Kind.RT:
                    targets.append(sid)
            for sid in targets:  # a copy (listener) says OrderQty as that session asked (21008)
                s = self.sessions[sid]
                copy = sid != out.session and worded is not None
                message = worded[self.live[sid].flags.preserve_qty] if copy else out.message
                fault = self.faults.take(s.account, product.value, s.target, s.api_key_id, message)
                self.send(sid, message if fault is None else Spoiled(message, fault))

    def _wordings(self, product: Product, report) -> dict[bool, ExecutionReport] | None:
        """An order's report as a session without / with PreserveOriginalOrderQty (21008) reads it:
        OrderQty = CumQty + LeavesQty, or the quantity the client last asked for."""
        if not isinstance(report, ExecutionReport):
            return None
        order = self.engines[product].orders.get(report.order_id)
        if order is None or report.order_qty is None:
            return {False: report, True: report}
        return {False: report.model_copy(update={"order_qty": report.cum_qty + report.leaves_qty}),
                True: report.model_copy(update={"order_qty": order.requested_qty})}

    def send(self, sid: str, model: Outgoing) -> None:
        if self._depth and self.lock._is_owned():  # inside locked(): after the lock is released
            self._outbox.append((sid, model))
            return
        self._send_now(sid, model)

    def _send_now(self, sid: str, model: Outgoing) -> None:
        if isinstance(model, Replay):
            self._send_replay(sid, model)
            return
        s = self.sessions[sid]
        live = self.live.get(sid)
        units = live.units if live else (Units.DOLLARS if s.product is Product.MARGIN else Units.CENTS)
        if isinstance(model, Spoiled):
            if not self.faults.send(model, fix.SessionID("FIXT.1.1", s.target, s.api_key_id), units, s.product.value):
                log.warning("session=%s event=not-sent msg_type=8 fault=%s", sid, model.fault.kind)
            return
        try:
            msg_type, pairs = codec.encode(model, units)
        except OrderError as e:  # a value the session's units cannot carry: say so, never drop silently
            log.error("session=%s event=not-encodable model=%s error=%s", sid, type(model).__name__, e)
            return
        message = encode.to_message(msg_type, pairs, s.product.value)
        if not fix.Session.sendToTarget(message, fix.SessionID("FIXT.1.1", s.target, s.api_key_id)):
            log.warning("session=%s event=not-sent msg_type=%s", sid, msg_type)


    def _send_replay(self, sid: str, replay: "Replay") -> None:
        """Drop-copy replay: journal text straight into QuickFIX, one session lookup for all."""
        s = self.sessions[sid]
        session = fix.Session.lookupSession(fix.SessionID("FIXT.1.1", s.target, s.api_key_id))
        if session is None:
            log.warning("session=%s event=not-sent msg_type=8 count=%d", sid, len(replay.bodies))
            return
        product, send = s.product.value, session.send
        fault = self.faults.take_replay(s.account, product, s.api_key_id)
        lose = len(replay.bodies) // 2 if fault is not None else -1
        for i, body in enumerate(replay.bodies):
            if i == lose:
                self.faults.lose_replayed(session, session.getSessionID(), body)
                continue
            for _ in range(replay.copies):
                if not send(encode.from_body("8", body, product)):
                    log.warning("session=%s event=not-sent msg_type=8", sid)
                    return

    def burst(self, product: Product, account: str, count: int, rate: float, symbol: str) -> None:
        """Load: ``count`` trades in which ``account`` takes 1 contract from a market maker."""
        engine = self.engines[product]
        flags = Flags(skip_pending=True)
        price = Decimal("0.50") if product is Product.EVENT else Decimal("100.0000")
        started = time.monotonic()
        for i in range(count):
            tag = uuid.uuid4().hex[:12]
            with self.locked():
                self.route(product, engine.new_order("sim-mm", None, NewOrderSingle(
                    cl_ord_id=f"mm-{tag}", symbol=symbol, side=Side.SELL, order_qty=Decimal(1), price=price), flags))
                self.route(product, engine.new_order(account, None, NewOrderSingle(
                    cl_ord_id=f"burst-{tag}", symbol=symbol, side=Side.BUY, order_qty=Decimal(1), price=price,
                    time_in_force=TimeInForce.IOC), flags))
            ahead = (i + 1) / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)


_MSG_SEQ_NUM = f"\x01{tags.MSG_SEQ_NUM}="


def _seq(raw: str) -> int | None:
    head, sep, rest = raw.partition(_MSG_SEQ_NUM)
    return int(rest.split("\x01", 1)[0]) if sep else None
