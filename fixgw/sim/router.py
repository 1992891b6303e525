"""Between the acceptor and the matching engines: decode, match, route (adapter).

Requests arrive on an account's order-entry sessions; the engine answers with
``Out`` items naming the owning session (or none, for account-wide messages).
Reports go to the owning session in that session's price units, and every
ExecutionReport is copied to the account's listener sessions. A session that is
offline still gets its message through QuickFIX's store: RT resends it after
the next Logon; NR, like Kalshi, has nothing to resend.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import quickfix as fix

from fixgw import codec, fields
from fixgw.config import Kind, Product
from fixgw.errors import DecodeError
from fixgw.models.fix import (BusinessMessageReject, ExecutionReport, MarketSettlementReport, NewOrderSingle,
                              OrderCancelReplaceRequest, OrderCancelRequest, OrderGroupRequest,
                              OrderMassCancelRequest)
from fixgw.pricing import Units
from fixgw.sim.engine import Engine, Flags, Out
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
    dollars = s.product is Product.MARGIN or yes(21005)
    return Live(
        Flags(skip_pending=yes(21011), always_new=yes(21026), ioc_cancel_report=yes(21007),
              preserve_qty=yes(21008), use_expired=yes(21012), cancel_on_disconnect=yes(8013)),
        Units.DOLLARS if dollars else Units.CENTS, listener=yes(20126), settlements=yes(20127))


_HANDLERS = {NewOrderSingle: "new_order", OrderCancelRequest: "cancel", OrderCancelReplaceRequest: "replace",
             OrderMassCancelRequest: "mass_cancel", OrderGroupRequest: "order_group"}


class Router:
    def __init__(self, sessions: dict[str, SimSession]):
        self.sessions = sessions
        self.engines = {p: Engine(p.value) for p in Product}
        self.live: dict[str, Live] = {}
        self.lock = threading.RLock()  # the acceptor thread and the control socket both drive engines

    def logon(self, sid: str, body: dict[int, str]) -> None:
        with self.lock:
            self.live[sid] = live_from_logon(self.sessions[sid], body)

    def logout(self, sid: str) -> None:
        with self.lock:
            live = self.live.pop(sid, None)
            s = self.sessions[sid]
            if live is not None and live.flags.cancel_on_disconnect:
                self.route(s.product, self.engines[s.product].disconnect(s.account, sid, live.flags))

    def request(self, sid: str, raw: str) -> None:
        """An application message from a client session (acceptor thread)."""
        s = self.sessions[sid]
        with self.lock:
            live = self.live.get(sid)
            msg_type, _, pairs = fields.split(raw)
            refusal = self._refuse(s, live, msg_type)
            if refusal is not None:
                self.send(sid, BusinessMessageReject(ref_msg_type=msg_type, reason=refusal[0], text=refusal[1],
                                                     ref_seq_num=_seq(raw)))
                return
            try:
                req = fields.decode(msg_type, pairs, live.units)
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

    def route(self, product: Product, outs: list[Out]) -> None:
        for out in outs:
            targets = []
            if out.session is not None:
                targets.append(out.session)
            for sid, live in self.live.items():
                s = self.sessions[sid]
                if s.account != out.account or s.product is not product or sid == out.session:
                    continue
                if isinstance(out.message, ExecutionReport) and live.listener and not out.message.is_pending:
                    targets.append(sid)
                elif isinstance(out.message, MarketSettlementReport) and live.settlements and s.kind is Kind.RT:
                    targets.append(sid)
            for sid in targets:
                self.send(sid, out.message)

    def send(self, sid: str, model) -> None:
        s = self.sessions[sid]
        live = self.live.get(sid)
        units = live.units if live else (Units.DOLLARS if s.product is Product.MARGIN else Units.CENTS)
        msg_type, pairs = fields.encode(model, units)
        message = codec.to_message(msg_type, pairs, s.product.value)
        if not fix.Session.sendToTarget(message, fix.SessionID("FIXT.1.1", s.target, s.api_key_id)):
            log.warning("session=%s event=not-sent msg_type=%s", sid, msg_type)


def _seq(raw: str) -> int | None:
    head, sep, rest = raw.partition("\x0134=")
    return int(rest.split("\x01", 1)[0]) if sep else None
