"""The simulator's own books: every fill as REST JSON, and positions by Kalshi's rules.

This is the oracle the gateway's position ledger is tested against, so it is
written from the rules alone and imports nothing from the gateway side. The
matching engine calls :meth:`Ledger.record` once per side of every trade and
uses what it returns (netted contracts, realized PnL, the new net position)
for the trade report's collateral change and 704/705.

Event contracts keep per (subaccount, market): P signed contracts (YES > 0),
C cost basis of the open contracts, R realized PnL, F fees, T total traded.
Margin keeps P signed (bid > 0), E average entry price, R and F (all fees ever
paid in the market, never reset); without a mark price unrealized PnL is null.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

from fixgw.models.fix import ExecType, OrdStatus, Side
from fixgw.sim.book import Order

ZERO = Decimal(0)
ONE = Decimal(1)
SIX_DP = Decimal("0.000001")


def dollars(x: Decimal) -> str:
    """REST FixedPointDollars: up to 6 dp and at least 4, banker's rounding, never ``-0.0000``."""
    q = x.quantize(SIX_DP, ROUND_HALF_EVEN)
    q = q if q else ZERO.quantize(SIX_DP)
    for shorter in (Decimal("0.0001"), Decimal("0.00001")):
        if q == q.quantize(shorter):
            return f"{q.quantize(shorter):f}"
    return f"{q:f}"


def count(x: Decimal) -> str:
    """REST fixed-point count (``*_fp``): 2 dp."""
    q = x.quantize(Decimal("0.01"), ROUND_HALF_EVEN)
    return f"{q if q else ZERO.quantize(q):f}"


def rfc3339(t: dt.datetime) -> str:
    """``2026-11-21T12:00:00.123Z``: UTC, Z, the fraction without trailing zeros (``.65Z``, none on a
    whole second), as Go's RFC3339Nano prints Kalshi's times."""
    t = t.astimezone(dt.timezone.utc)
    fraction = f".{t.microsecond:06d}".rstrip("0") if t.microsecond else ""
    return t.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def event_ticker(market: str) -> str:
    """A market's event: its ticker minus the last ``-`` segment."""
    return market.rsplit("-", 1)[0]


@dataclass
class EventPos:
    P: Decimal = ZERO
    C: Decimal = ZERO
    R: Decimal = ZERO
    F: Decimal = ZERO
    T: Decimal = ZERO
    last: dt.datetime | None = None


@dataclass
class MarginPos:
    P: Decimal = ZERO
    E: Decimal = ZERO
    R: Decimal = ZERO
    F: Decimal = ZERO


@dataclass(frozen=True)
class Applied:
    """What one side of a trade did to its account (the engine's trade report needs it)."""

    position: Decimal  # net position after the fill (event: YES - NO)
    netted: Decimal = ZERO  # event: contracts redeemed against the opposite side ($1 each)
    realized: Decimal = ZERO  # margin: realized PnL of this fill


@dataclass(frozen=True)
class Payout:
    """One subaccount's settlement of one market (event contracts)."""

    subaccount: int
    position: Decimal
    payout: Decimal  # rounded down to the cent
    fee: Decimal  # the rounding remainder: payout + fee = settlement value


# Why a margin order last changed (GET /margin/orders last_update_reason), from what the
# engine knows: the report it sent and, for a cancel, its reason (a Text, or "expiry").
_REASON = {ExecType.NEW: "", ExecType.TRADE: "Trade", ExecType.REPLACED: "Amend"}
_CANCEL_WHY = {"TAKER_CANCEL_FOR_SELF_TRADE_PREVENTION": "SelfTradeCancel",
               "MAKER_CANCEL_FOR_SELF_TRADE_PREVENTION": "SelfTradeCancel",
               "POST_ONLY_CROSS": "PostOnlyCrossCancel", "REDUCE_ONLY": "ReduceOnlyCancel",
               "expiry": "ExpiryCancel"}
_USERS = uuid.UUID("6f1b2a44-2d5e-4c1e-9a63-7c0f5f1d2e8b")  # namespace of the simulator's user ids


@dataclass
class MarginOrderBook:
    """What the ledger keeps of one order beside the engine's live :class:`Order` (REST orders, both products)."""

    order: Order
    client_order_id: str  # the order's own id: the first ClOrdID, moved only by a replace
    created: dt.datetime
    updated: dt.datetime
    reason: str = ""
    initial: Decimal = ZERO  # the quantity first ordered (REST initial_count)
    cost: dict[bool, Decimal] = field(default_factory=lambda: {True: ZERO, False: ZERO})  # is_taker -> $
    fees: dict[bool, Decimal] = field(default_factory=lambda: {True: ZERO, False: ZERO})


@dataclass
class Ledger:
    """Fills, positions and (margin) orders per account, for one product and one exchange shard."""

    product: str
    exchange_index: int = 0
    _fills: dict[str, list[tuple[int, dict]]] = field(default_factory=dict)
    _pos: dict[tuple[str, int, str], EventPos | MarginPos] = field(default_factory=dict)
    settled: set[tuple[str, int, str]] = field(default_factory=set)  # (account, subaccount, market)
    _settlements: dict[str, list[dict]] = field(default_factory=dict)  # account -> REST Settlements
    _orders: dict[str, MarginOrderBook] = field(default_factory=dict)  # by OrderID

    @staticmethod
    def user_id(account: str) -> str:
        """The account's Kalshi user_id: a UUID fixed by its name (a gateway configures the same)."""
        return str(uuid.uuid5(_USERS, account))

    def order_event(self, order: Order, exec_type: ExecType, why: str | None, when: dt.datetime,
                    pending: bool) -> None:
        """The engine reported on ``order``: keep its times, client id and reason."""
        book = self._orders.get(order.order_id)
        if book is None:
            book = self._orders[order.order_id] = MarginOrderBook(order, order.cl_ord_id, when, when,
                                                                  initial=order.leaves + order.cum)
        book.updated = when
        if pending:
            return
        if exec_type is ExecType.REPLACED:
            book.client_order_id = order.cl_ord_id
        if exec_type in _REASON:
            book.reason = _REASON[exec_type]
        else:  # a cancel or an expiry
            book.reason = _CANCEL_WHY.get(why or "", "MarginCancel")

    # ------------------------------------------------------------ writing
    def record(self, account: str, subaccount: int, symbol: str, *, order_id: str, trade_id: str,
               side: Side, qty: Decimal, price: Decimal, fee: Decimal, is_taker: bool,
               when: dt.datetime) -> Applied:
        """Book one side of a trade. ``price`` is the trade's YES price (event) or its price (margin)."""
        key = (account, subaccount, symbol)
        book = self._orders.get(order_id)
        if book is not None:  # what the order paid, as its taker or its maker side
            book.cost[is_taker] += qty * (price if side is Side.BUY or self.product != "event" else ONE - price)
            book.fees[is_taker] += fee
        if self.product == "event":
            pos = self._pos.setdefault(key, EventPos())
            applied = _apply_event(pos, side, qty, price, fee)
            pos.last = when
            fill = self._event_fill(symbol, order_id, trade_id, side, qty, price, fee, is_taker, when,
                                    subaccount)
        else:
            pos = self._pos.setdefault(key, MarginPos())
            applied = _apply_margin(pos, side, qty, price, fee)
            fill = {
                "fill_id": trade_id, "order_id": order_id, "is_taker": is_taker,
                "side": "bid" if side is Side.BUY else "ask", "count": count(qty),
                "created_time": rfc3339(when), "ticker": symbol, "price": dollars(price),
                "entry_price": dollars(pos.E), "fees": dollars(fee),
                "realized_pnl": dollars(applied.realized),
            }
        self._fills.setdefault(account, []).append((subaccount, fill))
        return applied

    def _event_fill(self, symbol, order_id, trade_id, side, qty, price, fee, is_taker, when, sub):
        yes = side is Side.BUY
        return {
            "fill_id": trade_id, "trade_id": trade_id, "order_id": order_id,
            "ticker": symbol, "market_ticker": symbol, "exchange_index": self.exchange_index,
            "side": "yes" if yes else "no", "action": "buy",  # deprecated, still in the schema
            "outcome_side": "yes" if yes else "no", "book_side": "bid" if yes else "ask",
            "count_fp": count(qty), "yes_price_dollars": dollars(price),
            "no_price_dollars": dollars(ONE - price), "is_taker": is_taker,
            "created_time": rfc3339(when), "fee_cost": dollars(fee),
            "subaccount_number": sub, "ts": int(when.timestamp()),
        }

    def settle(self, symbol: str, result: str, value: Decimal | None = None) -> dict[str, list[Payout]]:
        """Close every position in ``symbol``; return the payouts of every account that traded it.

        An account that is flat at settlement gets an entry too (0 contracts, 0 paid): Kalshi's
        documents do not say whether it does, and without one a FIX client could never tell
        that its flat market left GET /portfolio/positions' unsettled view.

        ``value`` is what one YES contract pays (1 for ``yes``, 0 for ``no``, given for
        ``scalar``); a NO contract pays ``1 - value``. Settled positions, flat ones
        included, leave :meth:`positions` (Kalshi's default ``settlement_status=unsettled``).
        """
        if value is None:
            value = {"yes": ONE, "no": ZERO}[result]
        out: dict[str, list[Payout]] = {}
        for (account, sub, sym), pos in sorted(self._pos.items(), key=lambda kv: kv[0]):
            if sym != symbol or not isinstance(pos, EventPos):
                continue  # a flat position settles too (0 contracts, 0 paid): it leaves the unsettled view
            worth = pos.P * value if pos.P > 0 else -pos.P * (ONE - value)
            paid = worth.quantize(Decimal("0.01"), ROUND_DOWN)
            out.setdefault(account, []).append(Payout(sub, pos.P, paid, worth - paid))
            self._settlements.setdefault(account, []).append(
                _settlement_row(symbol, self.exchange_index, result, value, pos, paid, worth - paid))
            pos.R += worth - pos.C
            pos.P, pos.C = ZERO, ZERO
            self.settled.add((account, sub, sym))
        return out

    # ------------------------------------------------------------ reading
    def settlements(self, account: str) -> list[dict]:
        """REST ``/portfolio/settlements`` rows without ``settled_time`` (the report's SendingTime,
        which QuickFIX stamps when it sends), oldest first."""
        return [dict(row) for row in self._settlements.get(account, [])]

    def fills(self, account: str, subaccount: int | None = None) -> list[dict]:
        """The account's fills, oldest first; ``subaccount=None`` means all (as REST)."""
        return [dict(row) for sub, row in self._fills.get(account, [])
                if subaccount is None or sub == subaccount]

    def margin_orders(self, account: str, subaccount: int | None = None) -> list[dict]:
        """REST ``/margin/orders`` for one account, in the order the orders were first reported."""
        out = []
        for b in self._orders.values():
            o = b.order
            if o.account != account or (subaccount is not None and o.subaccount != subaccount):
                continue
            row = {"order_id": o.order_id, "user_id": self.user_id(account), "client_order_id": b.client_order_id,
                   "ticker": o.symbol, "side": "bid" if o.side is Side.BUY else "ask",
                   "last_update_reason": b.reason, "price": dollars(o.price), "fill_count": count(o.cum),
                   "remaining_count": count(o.leaves), "created_time": rfc3339(b.created),
                   "last_update_time": rfc3339(b.updated)}
            if o.expire_at is not None:
                row["expiration_time"] = rfc3339(o.expire_at)
            if o.stp is not None:
                row["self_trade_prevention_type"] = "taker_at_cross" if int(o.stp) == 1 else "maker"
            if o.group_id is not None:
                row["order_group_id"] = o.group_id
            out.append(row)
        return out

    def event_orders(self, owner: str) -> list[dict]:
        """REST ``/portfolio/orders`` (``/fcm/orders`` for ``account/sub-trader``), first reported first."""
        out = []
        for b in self._orders.values():
            o = b.order
            if o.owner != owner:
                continue
            yes = o.side is Side.BUY
            status = "executed" if o.status is OrdStatus.FILLED else "resting" if o.live and o.leaves else "canceled"
            row = {"order_id": o.order_id, "user_id": self.user_id(o.account), "client_order_id": b.client_order_id,
                   "ticker": o.symbol, "side": "yes" if yes else "no", "action": "buy",  # deprecated, still there
                   "outcome_side": "yes" if yes else "no", "book_side": "bid" if yes else "ask",
                   "type": "limit", "status": status, "yes_price_dollars": dollars(o.price),
                   "no_price_dollars": dollars(ONE - o.price), "fill_count_fp": count(o.cum),
                   "remaining_count_fp": count(o.leaves), "initial_count_fp": count(b.initial),
                   "taker_fill_cost_dollars": dollars(b.cost[True]), "maker_fill_cost_dollars": dollars(b.cost[False]),
                   "taker_fees_dollars": dollars(b.fees[True]), "maker_fees_dollars": dollars(b.fees[False]),
                   "created_time": rfc3339(b.created), "last_update_time": rfc3339(b.updated),
                   "exchange_index": self.exchange_index}
            if o.expire_at is not None:
                row["expiration_time"] = rfc3339(o.expire_at)
            if o.stp is not None:
                row["self_trade_prevention_type"] = "taker_at_cross" if int(o.stp) == 1 else "maker"
            if o.group_id is not None:
                row["order_group_id"] = o.group_id
            if o.alloc_account is not None:
                row["subaccount_number"] = o.alloc_account
            out.append(row)
        return out

    def net_position(self, account: str, subaccount: int, symbol: str) -> Decimal:
        pos = self._pos.get((account, subaccount, symbol))
        return pos.P if pos else ZERO

    def positions(self, account: str, subaccount: int = 0) -> dict:
        """REST ``/portfolio/positions`` (event) or ``/margin/positions`` (margin) for one subaccount.

        Every market the subaccount has traded and whose position was not settled is listed, flat or not.
        """
        mine = sorted((key[2], pos) for key, pos in self._pos.items()
                      if key[0] == account and key[1] == subaccount and key not in self.settled)
        if self.product != "event":
            return {"positions": [{
                "subaccount": subaccount, "market_ticker": sym, "position": count(p.P),
                "entry_price": dollars(p.E), "unrealized_pnl": None, "fees": dollars(p.F),
                "is_portfolio": False, "margin_used": None, "roe": None} for sym, p in mine]}
        markets = [{
            "ticker": sym, "exchange_index": self.exchange_index, "total_traded_dollars": dollars(p.T),
            "position_fp": count(p.P), "market_exposure_dollars": dollars(p.C),
            "realized_pnl_dollars": dollars(p.R), "fees_paid_dollars": dollars(p.F),
            "last_updated_ts": rfc3339(p.last) if p.last else None} for sym, p in mine]
        events: dict[str, list[EventPos]] = {}
        for sym, p in mine:
            events.setdefault(event_ticker(sym), []).append(p)
        return {"market_positions": markets, "event_positions": [{
            "event_ticker": ev,
            "total_cost_dollars": dollars(sum((p.C for p in ps), ZERO)),
            "total_cost_shares_fp": count(sum((abs(p.P) for p in ps), ZERO)),
            "event_exposure_dollars": dollars(sum((p.C for p in ps), ZERO)),
            "realized_pnl_dollars": dollars(sum((p.R for p in ps), ZERO)),
            "fees_paid_dollars": dollars(sum((p.F for p in ps), ZERO)),
        } for ev, ps in sorted(events.items())]}


def _settlement_row(symbol: str, index: int, result: str, value: Decimal, pos: EventPos, paid: Decimal,
                    fee: Decimal) -> dict:
    yes = pos.P > 0
    return {
        "ticker": symbol, "exchange_index": index, "event_ticker": event_ticker(symbol), "market_result": result,
        "yes_count_fp": count(pos.P if yes else ZERO), "yes_total_cost_dollars": dollars(pos.C if yes else ZERO),
        "no_count_fp": count(ZERO if yes else -pos.P), "no_total_cost_dollars": dollars(ZERO if yes else pos.C),
        "revenue": int((paid * 100).to_integral_value(ROUND_HALF_EVEN)), "fee_cost": dollars(fee),
        "value": int((value * 100).to_integral_value(ROUND_HALF_EVEN)),
    }


def _apply_event(pos: EventPos, side: Side, q: Decimal, yes_price: Decimal, fee: Decimal) -> Applied:
    """YES and NO are one position: buying the side you are short of redeems pairs for $1."""
    sign = 1 if side is Side.BUY else -1
    px = yes_price if sign > 0 else ONE - yes_price
    pos.T += q * px
    pos.F += fee
    if pos.P == 0 or (pos.P > 0) == (sign > 0):
        pos.P += sign * q
        pos.C += q * px
        return Applied(pos.P)
    held = abs(pos.P)
    k = min(q, held)
    removed = (pos.C * k / held).quantize(SIX_DP, ROUND_HALF_EVEN)
    pos.C -= removed
    pos.R += k - removed - k * px
    pos.P += sign * k
    if q > k:
        pos.P = sign * (q - k)
        pos.C = (q - k) * px
    return Applied(pos.P, netted=k)


def _apply_margin(pos: MarginPos, side: Side, q: Decimal, x: Decimal, fee: Decimal) -> Applied:
    """Average-price position: adding re-averages the entry, reducing realizes against it."""
    sign = 1 if side is Side.BUY else -1
    realized = ZERO
    if pos.P == 0 or (pos.P > 0) == (sign > 0):
        held = abs(pos.P)
        pos.E = ((held * pos.E + q * x) / (held + q)).quantize(SIX_DP, ROUND_HALF_EVEN)
        pos.P += sign * q
    else:
        k = min(q, abs(pos.P))
        realized = k * (x - pos.E) if pos.P > 0 else k * (pos.E - x)
        pos.R += realized
        pos.P += sign * k
        if q > k:
            pos.P, pos.E = sign * (q - k), x
    pos.F += fee  # every fee paid in this market, never reset: the same however fills are split
    if pos.P == 0:
        pos.E = ZERO
    return Applied(pos.P, realized=realized)
