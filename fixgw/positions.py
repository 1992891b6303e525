"""The account's books: REST positions from a stream of fills, and cash (pure core).

Why: FIX ExecutionReports carry fills but not Kalshi's derived numbers
(exposure, realized PnL, fees, margin entry price), so the gateway keeps them.
The local simulator implements the *same* rules independently and tests compare
the two, so these rules are a contract — change them in both places or neither.

EVENT CONTRACTS, per (subaccount, market ticker). State: P signed contracts
(YES > 0, NO < 0), C cost basis of the open contracts ($), R realized PnL,
F fees, T total traded ($), V volume (contracts). For each fill:

* outcome = ``fill.outcome_side`` (yes iff FIX side is buy);
  px = yes_price if yes else 1 - yes_price; q = count; T += q*px; V += q; F += fee.
* If P == 0 or the outcome has the sign of P (yes +, no -): P += ±q; C += q*px.
* Otherwise (closing): k = min(q, |P|);
  removed = (C*k/|P|).quantize(0.000001, ROUND_HALF_EVEN); C -= removed;
  R += k - removed - k*px (a YES+NO pair redeems for $1); P moves toward 0 by k;
  if q > k the rest opens the fill's outcome: P = ±(q-k), C = (q-k)*px.

MarketPosition: position_fp = P, total_traded = T, market_exposure = C,
realized_pnl = R, fees_paid = F, last_updated_ts = the last fill's time;
exchange_index = the last fill's. Dollars print at 4-6 dp ROUND_HALF_EVEN.
EventPosition per event ticker (market ticker minus its last ``-`` segment):
total_cost = event_exposure = ΣC, total_cost_shares_fp = Σ|P|, realized = ΣR,
fees = ΣF. WebSocket market_position: position_cost = C, volume_fp = V and
position_fee_cost = F (Kalshi does not say how it differs from fees_paid).

MARGIN, per (subaccount, ticker). State: P signed (bid/buy > 0), E average
entry price, R realized, F fees. Fill side bid: d = +q, ask: d = -q; price x, fee f:

* If P == 0 or d has the sign of P:
  E = ((|P|*E + q*x) / (|P|+q)).quantize(0.000001, ROUND_HALF_EVEN); P += d.
* Else: k = min(q, |P|); realized_this = k*(x-E) if P > 0 else k*(E-x);
  R += realized_this; P moves toward 0 by k; if q > k: P = sign(d)*(q-k), E = x;
  if P is now 0: E = 0.
* F += f, always: the position's fees are every fee paid in this (subaccount,
  ticker) since its first fill. They never reset on a flip or when flat, so the
  number is the same however the fills were split (one 8-lot flip or 5 + 3), and
  a flat position still shows what it cost. (An older note said Kalshi resets
  fees when flat; that rule makes the answer depend on the split, so fixgw does
  not follow it.)

MarginFill.entry_price = E after the fill; realized_pnl = realized_this (0 when
opening). MarginPosition: position = P, entry_price = E, fees = F,
unrealized_pnl = (mark - E)*P when a mark is given, else null (FIX carries no
mark price, and 0 would claim one); is_portfolio false, margin_used and roe null.

A fill already applied (same fill_id and order_id: a PossDup resend) is ignored.

CASH (:class:`Cash`, ``GET /portfolio/balance``). FIX never sends a balance, only
changes to it: every Trade report carries 1703/1704/1705 with 1705=BALANCE (the cash the fill moved: price paid, fees,
$1 per YES+NO pair redeemed; margin: realized PnL less fees), and every
settlement party entry one with 1705=PAYOUT. fixgw adds them up:

* balance = the starting balance (config ``starting_balance``, dollars, or
  ``--start`` on the command line) + every change seen. Without a starting
  balance the figure is the *change since a stated point*: the first change
  this process (gateway) or store (recorder) saw, :attr:`Cash.since`.
* ``balance`` (cents) rounds toward minus infinity, what the account can
  spend; ``balance_dollars`` is the exact sum at 4 dp (a BALANCE change may
  have 4 dp since 2026-05-28); ``updated_ts`` the Unix seconds of the latest
  change (the latest, whatever order changes are folded in: a recorder folds its
  reports, then its settlements): the report's TransactTime(60), a settlement's
  SendingTime(52).
* A report counts once: an ExecID (or settlement report id and party) seen
  before - a resend, or the same report on a listener - is ignored.
* Kept per product and per FCM sub-trader (None: the account itself).

The simulator keeps the same sums independently (:mod:`fixgw.sim.cash`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from fixgw.models.fcm import Balance
from fixgw.models.fix import CollateralChange, ExecutionReport
from fixgw.models.rest import (EventPosition, Fill, MarginFill, MarginPosition, MarketPosition,
                               MarketPositionUpdate)

ZERO = Decimal(0)
ONE = Decimal(1)
Q6 = Decimal("0.000001")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)

Key = tuple[int, str]  # (subaccount, ticker)


def event_ticker(ticker: str) -> str:
    """``KXHIGHNY-26NOV21-T50`` -> ``KXHIGHNY-26NOV21`` (a ticker without ``-`` is its own event)."""
    head, sep, _ = ticker.rpartition("-")
    return head if sep else ticker


@dataclass
class EventBook:
    """One event-contract market's running numbers (see module docstring)."""

    P: Decimal = ZERO
    C: Decimal = ZERO
    R: Decimal = ZERO
    F: Decimal = ZERO
    T: Decimal = ZERO
    V: Decimal = ZERO
    exchange_index: int = 0
    updated: dt.datetime = EPOCH

    def apply(self, yes: bool, q: Decimal, yes_price: Decimal, fee: Decimal) -> None:
        px = yes_price if yes else ONE - yes_price
        self.T += q * px
        self.V += q
        self.F += fee
        if self.P == 0 or (self.P > 0) == yes:
            self.P += q if yes else -q
            self.C += q * px
            return
        held = abs(self.P)
        k = min(q, held)
        removed = (self.C * k / held).quantize(Q6, ROUND_HALF_EVEN)
        self.C -= removed
        self.R += k - removed - k * px
        self.P += k if self.P < 0 else -k
        if q > k:
            self.P = (q - k) if yes else -(q - k)
            self.C = (q - k) * px


def roll_up(groups: Mapping[str, list[EventBook]]) -> list[EventPosition]:
    """EventPositions of market books grouped by event ticker, sorted by event ticker."""
    out = []
    for event in sorted(groups):
        books = groups[event]
        cost = sum((b.C for b in books), ZERO)
        out.append(EventPosition(
            event_ticker=event, total_cost_dollars=cost,
            total_cost_shares_fp=sum((abs(b.P) for b in books), ZERO), event_exposure_dollars=cost,
            realized_pnl_dollars=sum((b.R for b in books), ZERO),
            fees_paid_dollars=sum((b.F for b in books), ZERO)))
    return out


@dataclass
class MarginBook:
    """One margin market's running numbers (see module docstring)."""

    P: Decimal = ZERO
    E: Decimal = ZERO
    R: Decimal = ZERO
    F: Decimal = ZERO

    def apply(self, bid: bool, q: Decimal, x: Decimal, fee: Decimal) -> Decimal:
        """Fold one fill; returns this fill's realized PnL."""
        realized = ZERO
        if self.P == 0 or (self.P > 0) == bid:
            held = abs(self.P)
            self.E = ((held * self.E + q * x) / (held + q)).quantize(Q6, ROUND_HALF_EVEN)
            self.P += q if bid else -q
        else:
            k = min(q, abs(self.P))
            realized = k * (x - self.E) if self.P > 0 else k * (self.E - x)
            self.R += realized
            self.P += k if self.P < 0 else -k
            if q > k:
                self.P = (q - k) if bid else -(q - k)
                self.E = x
            if self.P == 0:
                self.E = ZERO
        self.F += fee  # cumulative: never reset (module docstring)
        return realized


class Ledger:
    """Per-(subaccount, ticker) positions built from fills, in REST shapes.

    Feed event-contract :class:`Fill`s to :meth:`add` and margin fills to
    :meth:`add_margin`; read :meth:`market_positions`, :meth:`event_positions`
    and :meth:`margin_positions`. Not thread-safe: one feeder at a time.
    """

    def __init__(self, *, user_id: str = "") -> None:
        self.user_id = user_id
        self.events: dict[Key, EventBook] = {}
        self.margins: dict[Key, MarginBook] = {}
        self._seen: set[tuple[str, str, str]] = set()
        self.settled: set[Key] = set()

    # ------------------------------------------------------------ event contracts
    def add(self, fill: Fill) -> MarketPositionUpdate | None:
        """Fold one fill; returns the WebSocket update, or None for an already-seen fill."""
        return self.position_update(fill.subaccount_number or 0, fill.ticker) if self.fold(fill) else None

    def fold(self, fill: Fill) -> bool:
        """:meth:`add` without building the update (a replay); False for an already-seen fill."""
        if not self._first("event", fill.fill_id, fill.order_id):
            return False
        sub = fill.subaccount_number or 0
        book = self.events.setdefault((sub, fill.ticker), EventBook())
        book.apply(fill.outcome_side == "yes", fill.count_fp, fill.yes_price_dollars, fill.fee_cost)
        book.exchange_index = fill.exchange_index
        if fill.created_time is not None:
            book.updated = fill.created_time
        elif fill.ts is not None:
            book.updated = dt.datetime.fromtimestamp(fill.ts, dt.timezone.utc)
        return True

    def position_update(self, subaccount: int, ticker: str) -> MarketPositionUpdate | None:
        """The WebSocket ``market_position`` message for one market (None if never traded)."""
        book = self.events.get((subaccount, ticker))
        if book is None:
            return None
        return MarketPositionUpdate(
            user_id=self.user_id, market_ticker=ticker, position_fp=book.P, position_cost_dollars=book.C,
            realized_pnl_dollars=book.R, fees_paid_dollars=book.F, position_fee_cost_dollars=book.F,
            volume_fp=book.V, subaccount=subaccount)

    def market_position(self, subaccount: int, ticker: str) -> MarketPosition | None:
        book = self.events.get((subaccount, ticker))
        if book is None:
            return None
        return MarketPosition(
            ticker=ticker, exchange_index=book.exchange_index, total_traded_dollars=book.T,
            position_fp=book.P, market_exposure_dollars=book.C, realized_pnl_dollars=book.R,
            fees_paid_dollars=book.F, last_updated_ts=book.updated)

    def market_positions(self, subaccount: int = 0) -> list[MarketPosition]:
        """Every market this subaccount has traded, sorted by ticker."""
        tickers = sorted(t for s, t in self.events if s == subaccount and (s, t) not in self.settled)
        return [self.market_position(subaccount, t) for t in tickers]  # type: ignore[misc]

    def event_positions(self, subaccount: int = 0) -> list[EventPosition]:
        """Roll-ups per event ticker, sorted by event ticker."""
        groups: dict[str, list[EventBook]] = {}
        for (s, t), book in self.events.items():
            if s == subaccount and (s, t) not in self.settled:
                groups.setdefault(event_ticker(t), []).append(book)
        return roll_up(groups)

    def settle(self, subaccount: int, ticker: str, yes_value: Decimal) -> None:
        """Close a settled market: R += what the contracts are worth - C; P = C = 0.

        ``yes_value`` is what one YES contract pays (1 or 0; the scalar value in
        dollars), a NO contract pays 1 - yes_value. A settled market leaves
        :meth:`market_positions`, as REST's default ``settlement_status=unsettled``.
        """
        book = self.events.get((subaccount, ticker))
        if book is None:
            return
        worth = book.P * yes_value if book.P > 0 else -book.P * (ONE - yes_value)
        book.R += worth - book.C
        book.P, book.C = ZERO, ZERO
        self.settled.add((subaccount, ticker))

    def cost_basis(self, subaccount: int, ticker: str) -> tuple[Decimal, Decimal]:
        """(YES cost, NO cost) of the open position: what a Settlement reports."""
        book = self.events.get((subaccount, ticker))
        if book is None or book.P == 0:
            return ZERO, ZERO
        return (book.C, ZERO) if book.P > 0 else (ZERO, book.C)

    # ------------------------------------------------------------ margin
    def add_margin(self, fill: MarginFill, *, subaccount: int = 0) -> MarginFill:
        """Fold one margin fill; returns it with the ledger's entry_price and realized_pnl.

        An already-seen fill is not applied again; it comes back unchanged.
        """
        if not self._first("margin", fill.fill_id, fill.order_id):
            return fill
        book = self.margins.setdefault((subaccount, fill.ticker), MarginBook())
        realized = book.apply(fill.side == "bid", fill.count, fill.price, fill.fees)
        return fill.model_copy(update={"entry_price": book.E.quantize(Q6, ROUND_HALF_EVEN),
                                       "realized_pnl": realized.quantize(Q6, ROUND_HALF_EVEN)})

    def margin_position(self, subaccount: int, ticker: str, mark: Decimal | None = None) -> MarginPosition | None:
        book = self.margins.get((subaccount, ticker))
        if book is None:
            return None
        unrealized = (mark - book.E) * book.P if mark is not None else None
        return MarginPosition(subaccount=subaccount, market_ticker=ticker, position=book.P,
                              entry_price=book.E, unrealized_pnl=unrealized, fees=book.F)

    def margin_positions(self, subaccount: int = 0,
                         marks: Mapping[str, Decimal] | None = None) -> list[MarginPosition]:
        """Every margin market this subaccount has traded, sorted by ticker."""
        marks = marks or {}
        tickers = sorted(t for s, t in self.margins if s == subaccount)
        return [self.margin_position(subaccount, t, marks.get(t)) for t in tickers]  # type: ignore[misc]

    def _first(self, kind: str, fill_id: str, order_id: str) -> bool:
        key = (kind, fill_id, order_id)
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


def post_position_of(er: ExecutionReport, ledger: Decimal | None) -> Decimal | None:
    """Net position after a fill: 704 LongQty - 705 ShortQty when sent, else the ledger's."""
    if er.long_qty is None and er.short_qty is None:
        return ledger
    return (er.long_qty or Decimal(0)) - (er.short_qty or Decimal(0))


# ---------------------------------------------------------------- cash
KINDS = frozenset({"BALANCE", "PAYOUT", None})  # None: an entry without 1705 (old reports)


class Cash:
    """The account's cash changes per (product, sub-trader), summed once per report (see CASH above)."""

    def __init__(self, start: Decimal | None = None) -> None:
        self.start = start
        self.since: dt.datetime | None = None  # the first change seen (the stated point without a start)
        self._sum: dict[tuple[str, str | None], Decimal] = {}
        self._updated: dict[tuple[str, str | None], dt.datetime] = {}
        self._seen: set[str] = set()

    def add(self, key: str, product: str, subtrader: str | None, changes: tuple[CollateralChange, ...],
            when: dt.datetime | None) -> bool:
        """Fold one report's changes once (``key``: its ExecID, or report id + party); False if seen."""
        if key in self._seen:
            return False
        self._seen.add(key)
        amount = sum((c.amount for c in changes if c.kind in KINDS), ZERO)
        if not changes:
            return True
        scope = (product, subtrader)
        self._sum[scope] = self._sum.get(scope, ZERO) + amount
        if when is not None:
            if scope not in self._updated or when > self._updated[scope]:  # the latest change, in any order
                self._updated[scope] = when
            if self.since is None or when < self.since:
                self.since = when
        return True

    def balance(self, product: str = "event", subtrader: str | None = None,
                start: Decimal | None = None) -> Balance:
        """The Balance shape; ``start`` overrides the configured starting balance."""
        begin = start if start is not None else self.start
        total = (begin or ZERO) + self._sum.get((product, subtrader), ZERO)
        when = self._updated.get((product, subtrader))
        return Balance(balance=int((total * 100).to_integral_value(ROUND_FLOOR)), balance_dollars=total,
                       updated_ts=int(when.timestamp()) if when is not None else None)
