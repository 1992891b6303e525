"""ExecutionReports → Kalshi REST shapes (pure core).

Why: a user who swaps REST polling for FIX should get the very objects
``GET /portfolio/fills``, ``/portfolio/orders`` and ``/margin/fills`` return. Input prices are Decimal dollars (the codec already
converted cents); event-contract prices are the YES price.

Fill mapping (event contracts): fill_id = trade_id = 880 TrdMatchID (ExecID
when 880 is missing); order_id = 37; ticker = market_ticker = 55;
exchange_index = 30 LastMkt, else 100 ExDestination, else the ExecID's index (as
for orders); outcome_side yes iff 54=1, book_side
bid iff yes; deprecated side = outcome_side and action = "buy" (FIX only
buys YES or NO); count_fp = 32; yes_price = 31, no_price = 1 - yes; is_taker =
1057; fee_cost = Σ137; subaccount_number = 79 (0 when absent); created_time = 60
(header 52 SendingTime when 60 is missing), ts = its Unix seconds. Money keeps up to
6 dp (FixedPointDollars). :func:`fill_from_report` is the hot path: it builds the model
without validation from values already in wire precision.

Order status (see :class:`Orders`): 39=2 → executed; 39 ∈ {4, C, 8} →
canceled; otherwise resting while 151 LeavesQty > 0, else canceled.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from fixgw.models.fix import (ExecType, ExecutionReport, OrdStatus, Side,
                              exec_id_key)
from fixgw.models.rest import Q2, Q6, UTC, Fill, MarginFill, Order
from fixgw.positions import Ledger

ZERO = Decimal(0)
ONE = Decimal(1)
TRADE = ExecType.TRADE
BUY = Side.BUY

_FILL_FIELDS = frozenset(Fill.model_fields)
_new = object.__new__
_set = object.__setattr__


def _utc(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def when(er: ExecutionReport) -> dt.datetime | None:
    """The report's time: 60 TransactTime, else header 52 SendingTime (never the epoch)."""
    t = er.transact_time or er.sending_time
    return None if t is None else _utc(t)


def exchange_index(er: ExecutionReport, key: tuple[int, int, int] | None = None) -> int:
    """30 LastMkt, else 100 ExDestination, else the ExecID's index (0 for a pending report)."""
    if er.last_mkt is not None:
        return er.last_mkt
    if er.ex_destination is not None:
        return er.ex_destination
    if key is None and not er.is_pending:
        key = exec_id_key(er.exec_id)
    return key[0] if key is not None else 0


def _fees(er: ExecutionReport) -> Decimal:
    fees = er.fees
    if not fees:
        return ZERO
    if len(fees) == 1:
        return fees[0].amount
    return sum((f.amount for f in fees), ZERO)


# ---------------------------------------------------------------- fills
def fill_from_report(er: ExecutionReport, *, deprecated: bool = True) -> Fill | None:
    """The REST Fill of a Trade report (None for any other report).

    ``deprecated=False`` leaves out the deprecated ``side``/``action`` keys.
    Raises ValueError for a Trade report without 31 LastPx or 32 LastQty.
    """
    if er.exec_type != TRADE:
        return None
    px, qty = check_trade(er)
    at = er.transact_time or er.sending_time
    yes_px = px.quantize(Q6, ROUND_HALF_EVEN)
    return make_fill(
        er.trd_match_id or er.exec_id, er.last_mkt if er.last_mkt is not None else exchange_index(er),
        er.order_id, er.symbol, er.side == BUY, qty.quantize(Q2, ROUND_HALF_EVEN), yes_px, ONE - yes_px,
        bool(er.aggressor), None if at is None else _utc(at), _fees(er).quantize(Q6, ROUND_HALF_EVEN),
        er.alloc_account or 0, deprecated)  # no 79 = the primary account, 0


def check_trade(er: ExecutionReport) -> tuple[Decimal, Decimal]:
    """(LastPx, LastQty) of a Trade report; ValueError when either is missing."""
    px, qty = er.last_px, er.last_qty
    if px is None or qty is None:
        raise ValueError(f"Trade report {er.exec_id} for order {er.order_id} lacks LastPx(31)/LastQty(32)")
    return px, qty


def make_fill(trade: str, exchange_index: int, order_id: str, ticker: str, yes: bool, count: Decimal,
              yes_px: Decimal, no_px: Decimal, taker: bool, when: dt.datetime | None, fee: Decimal,
              subaccount: int, deprecated: bool) -> Fill:
    """A Fill from values already in REST precision (Q2 counts, Q6 dollars, aware UTC time).

    Both readers of a Trade report build their Fill here (the typed model's path above and
    :mod:`fixgw.fastfill`'s raw-text path), so the mapping exists once.
    """
    outcome = "yes" if yes else "no"
    values = {
        "fill_id": trade,
        "exchange_index": exchange_index,
        "trade_id": trade,
        "order_id": order_id,
        "ticker": ticker,
        "market_ticker": ticker,
        "side": outcome if deprecated else None,
        "action": "buy" if deprecated else None,
        "outcome_side": outcome,
        "book_side": "bid" if yes else "ask",
        "count_fp": count,
        "yes_price_dollars": yes_px,
        "no_price_dollars": no_px,
        "is_taker": taker,
        "created_time": when,
        "fee_cost": fee,
        "subaccount_number": subaccount,
        "ts": int(when.timestamp()) if when is not None else None,
    }
    # What Fill.model_construct does, minus its per-field default/alias walk.
    fill = _new(Fill)
    _set(fill, "__dict__", values)
    _set(fill, "__pydantic_fields_set__", set(_FILL_FIELDS))
    _set(fill, "__pydantic_extra__", None)
    _set(fill, "__pydantic_private__", None)
    return fill


def margin_fill_from_report(er: ExecutionReport, ledger: Ledger | None = None) -> MarginFill | None:
    """The REST MarginFill of a margin Trade report (None for any other report).

    entry_price and realized_pnl are not on the wire: with a ``ledger`` the fill
    is folded into it (subaccount = 79) and carries the ledger's numbers,
    otherwise both are 0. created_time is 60, else 52 SendingTime. Raises
    ValueError without 31, 32 or a time.
    """
    if er.exec_type != TRADE:
        return None
    at = when(er)
    if er.last_px is None or er.last_qty is None or at is None:
        raise ValueError(f"Trade report {er.exec_id} for order {er.order_id} lacks LastPx(31), "
                         "LastQty(32) or TransactTime(60)/SendingTime(52)")
    fill = MarginFill(
        fill_id=er.trd_match_id or er.exec_id, order_id=er.order_id, is_taker=bool(er.aggressor),
        side="bid" if er.side == BUY else "ask", count=er.last_qty, created_time=at,
        ticker=er.symbol, price=er.last_px, entry_price=ZERO, fees=_fees(er), realized_pnl=ZERO)
    if ledger is None:
        return fill
    return ledger.add_margin(fill, subaccount=er.alloc_account or 0)


# ---------------------------------------------------------------- orders
TERMINAL_CANCELED = frozenset({OrdStatus.CANCELED, OrdStatus.EXPIRED, OrdStatus.REJECTED})
# On these reports 11 names the cancel/replace *request*; the order's own id is 41.
REQUEST_IDS = frozenset({ExecType.CANCELED, ExecType.PENDING_CANCEL, ExecType.PENDING_REPLACE})
STP = {1: "taker_at_cross", 2: "maker"}
MAX_FINISHED = 100_000  # finished orders kept for orders()/get(); open ones are always kept


def order_status(ord_status: OrdStatus, leaves: Decimal) -> str:
    """REST status: executed / canceled / resting (REST has no pending or partial state)."""
    if ord_status == OrdStatus.FILLED:
        return "executed"
    if ord_status in TERMINAL_CANCELED or leaves <= 0:
        return "canceled"
    return "resting"


@dataclass(slots=True)  # one per order, kept: no per-instance dict for the collector to walk
class _Live:
    """Mutable running state of one order; :meth:`Orders.apply` snapshots it into an Order."""

    order_id: str
    client_order_id: str
    ticker: str
    yes: bool
    initial: Decimal
    status: str = "resting"
    price: Decimal = ZERO
    filled: Decimal = ZERO
    remaining: Decimal = ZERO
    taker_cost: Decimal = ZERO
    maker_cost: Decimal = ZERO
    taker_fees: Decimal = ZERO
    maker_fees: Decimal = ZERO
    expiration: dt.datetime | None = None
    created: dt.datetime | None = None
    updated: dt.datetime | None = None
    stp: str | None = None
    group: str | None = None
    subaccount: int | None = None
    exchange_index: int = 0
    reason: str = ""  # why the newest report changed it (margin's last_update_reason)
    last_key: tuple[int, int, int] | None = None
    client_ids: tuple[str, ...] = ()  # every 11/41 that names it, to forget them with it
    # ExecIDs already folded in. A dict of str -> None: CPython leaves a dict of atomic
    # values untracked by the cyclic collector (a set is always tracked), and there is one per order.
    seen: dict[str, None] = field(default_factory=dict)


class Orders:
    """Folds ExecutionReports into REST :class:`Order`s, keyed by 37 OrderID.

    * Trade reports add LastQty x (YES price, or 1 - YES price for NO orders) to
      the taker or maker fill cost and Σ137 to the taker or maker fees, by 1057
      (no 1057 counts as maker). An ExecID seen before (PossDup resend) is
      ignored.
    * Order fields (status, counts, price, times...) follow the newest report by
      ExecID (:func:`exec_id_key`); pending reports (``-1;-1``) are live and
      apply in arrival order, except that they never reopen a finished order;
      a Pending Replace (150=E) does not change the price (the replace may fail).
    * client_order_id: 41 on cancel / pending reports, else 11; a Replaced
      report (150=5) moves it to the new 11. Lookups by either id work.
    * initial_count = 38 of the first report seen (14 + 151 without 38);
      created_time = earliest 60 seen, last_update_time = 60 of the newest report.
    * exchange_index = 30 LastMkt, else 100 ExDestination, else the ExecID's
      third part, else 0.
    * Open orders are always kept; of the finished ones (executed or canceled)
      only the newest ``max_finished`` are, so a gateway that runs for weeks
      does not grow without end. A report for a forgotten order starts it afresh
      from that report.
    """

    def __init__(self, *, user_id: str = "", max_finished: int = MAX_FINISHED) -> None:
        if max_finished < 0:
            raise ValueError(f"max_finished must be >= 0, not {max_finished}")
        self.user_id = user_id
        self.max_finished = max_finished
        self._live: dict[str, _Live] = {}
        self._by_client: dict[str, str] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()  # OrderIDs, in the order they finished

    def apply(self, er: ExecutionReport) -> Order:
        """Fold one report and return the order's REST shape after it."""
        return self._snapshot(self.fold(er))

    def fold(self, er: ExecutionReport) -> _Live:
        """:meth:`apply` without building the REST shape (a replay that only wants the state)."""
        live = self._find(er)
        pending = er.is_pending
        key = None if pending else exec_id_key(er.exec_id)
        if not pending:
            if er.exec_id in live.seen:
                return live
            live.seen[er.exec_id] = None
        if er.exec_type == TRADE and er.last_qty is not None and er.last_px is not None:
            px = er.last_px if live.yes else ONE - er.last_px
            cost, fees = er.last_qty * px, _fees(er)
            if er.aggressor:
                live.taker_cost += cost
                live.taker_fees += fees
            else:
                live.maker_cost += cost
                live.maker_fees += fees
        at = when(er)
        if at is not None and (live.created is None or at < live.created):
            live.created = at
        newest = (not pending and (live.last_key is None or key > live.last_key)) \
            or (pending and live.status == "resting")
        if newest:
            self._take(live, er, key)
        if live.status == "resting":
            if self._finished:
                self._finished.pop(live.order_id, None)
        elif live.order_id not in self._finished:
            self._finished[live.order_id] = None
            while len(self._finished) > self.max_finished:
                self._forget(self._finished.popitem(last=False)[0])  # drops the entry; `live` is unchanged
        return live

    def get(self, order_id: str) -> Order | None:
        live = self._live.get(order_id)
        return None if live is None else self._snapshot(live)

    def by_client_order_id(self, client_order_id: str) -> Order | None:
        order_id = self._by_client.get(client_order_id)
        return None if order_id is None else self.get(order_id)

    def orders(self, status: str | None = None) -> list[Order]:
        """All tracked orders in first-seen order, optionally one status only."""
        return [self._snapshot(live) for live in self._live.values() if status is None or live.status == status]

    def __len__(self) -> int:
        return len(self._live)

    # ------------------------------------------------------------ internals
    def _find(self, er: ExecutionReport) -> _Live:
        live = self._live.get(er.order_id)
        if live is None and er.orig_cl_ord_id in self._by_client:  # a replace that got a new 37
            live = self._live.pop(self._by_client[er.orig_cl_ord_id])  # type: ignore[index]
            self._finished.pop(live.order_id, None)
            live.order_id = er.order_id
            self._live[er.order_id] = live
        if live is None:
            own = er.orig_cl_ord_id if er.exec_type in REQUEST_IDS and er.orig_cl_ord_id else er.cl_ord_id
            initial = er.order_qty if er.order_qty is not None else er.cum_qty + er.leaves_qty
            live = _Live(order_id=er.order_id, client_order_id=own or "", ticker=er.symbol,
                         yes=er.side == BUY, initial=initial)
            self._live[er.order_id] = live
        for cid in (er.cl_ord_id, er.orig_cl_ord_id):
            if cid:
                self._by_client[cid] = live.order_id
                if cid not in live.client_ids:
                    live.client_ids += (cid,)
        return live

    def _forget(self, order_id: str) -> None:
        live = self._live.pop(order_id, None)
        if live is not None:
            for cid in live.client_ids:
                if self._by_client.get(cid) == order_id:
                    del self._by_client[cid]

    @staticmethod
    def _take(live: _Live, er: ExecutionReport, key: tuple[int, int, int] | None) -> None:
        if key is not None:
            live.last_key = key
        live.status = order_status(er.ord_status, er.leaves_qty)
        live.filled, live.remaining = er.cum_qty, er.leaves_qty
        if er.price is not None and er.exec_type != ExecType.PENDING_REPLACE:  # E may quote the asked price
            live.price = er.price
        if er.exec_type == ExecType.REPLACED and er.cl_ord_id:
            live.client_order_id = er.cl_ord_id
        at = when(er)
        if at is not None:
            live.updated = at
        if er.expire_time is not None:
            live.expiration = _utc(er.expire_time)
        if er.stp_type is not None:
            live.stp = STP.get(er.stp_type)
        if er.order_group_id is not None:
            live.group = er.order_group_id
        if er.alloc_account is not None:
            live.subaccount = er.alloc_account
        if er.last_mkt is not None or er.ex_destination is not None or key is not None:
            live.exchange_index = exchange_index(er, key)

    def _snapshot(self, live: _Live) -> Order:
        outcome = "yes" if live.yes else "no"
        return Order(
            order_id=live.order_id, user_id=self.user_id, client_order_id=live.client_order_id,
            ticker=live.ticker, side=outcome, action="buy", outcome_side=outcome,
            book_side="bid" if live.yes else "ask", type="limit", status=live.status,
            yes_price_dollars=live.price, no_price_dollars=ONE - live.price,
            fill_count_fp=live.filled, remaining_count_fp=live.remaining, initial_count_fp=live.initial,
            taker_fill_cost_dollars=live.taker_cost, maker_fill_cost_dollars=live.maker_cost,
            taker_fees_dollars=live.taker_fees, maker_fees_dollars=live.maker_fees,
            expiration_time=live.expiration, created_time=live.created, last_update_time=live.updated,
            self_trade_prevention_type=live.stp, order_group_id=live.group,
            subaccount_number=live.subaccount, exchange_index=live.exchange_index)
