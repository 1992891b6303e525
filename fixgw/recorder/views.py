"""Fills, orders and positions derived from stored reports by the core translation code.

The recorder's answer must equal the order-entry gateway's, so this module
does nothing of its own: it replays the stored ExecutionReports, in ExecID
order, through :mod:`fixgw.translate` and :mod:`fixgw.positions`. Positions,
balances and settlements start from the kept checkpoint (:mod:`fixgw.recorder.kept`)
and fold only the reports after it; a page of fills (:meth:`Query.fills_page`)
reads only that page's reports.

Reports are stored as received, with the units of the session that received
them (UseDollars), and are read in those units.

A stored report that cannot be served (it no longer decodes, or a Trade lacks
LastPx/LastQty) is skipped and named through ``Query.on_skip`` (stderr by
default) with its ExecID and the reason; the rest of the view is served.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from dataclasses import dataclass, field
from typing import Callable, Iterator


from fixgw import translate
from fixgw.fix import lenient
from fixgw.errors import DecodeError
from fixgw.margin import MarginOrders
from fixgw.models.fix import ExecType, ExecutionReport
from fixgw.positions import Ledger, event_ticker as event_of
from fixgw.recorder.store import Store, StoredReport, exec_key


@dataclass
class Query:
    store: Store
    account: str
    product: str = "event"
    ticker: str | None = None
    event_ticker: str | None = None
    subaccount: int | None = None
    min_ts: int | None = None
    max_ts: int | None = None
    user_id: str = ""  # Kalshi's user_id for orders (FIX does not carry it)
    on_skip: Callable[[str, str], None] = field(default=None, repr=False)  # (ExecID, reason)
    skipped: int = 0
    subtrader: str | None = None  # FCM: one sub-trader's reports; None: the account's own (no 452=24 party)
    settlement_status: str | None = None  # positions: unsettled (default) | settled | all
    count_filter: str | None = None
    limit: int | None = None
    cursor: str | None = None
    party_id: str | None = None  # this account's 20109 in settlement reports (config party_id)

    def _skip(self, exec_id: str, reason: object) -> None:
        self.skipped += 1
        if self.on_skip is not None:
            self.on_skip(exec_id, str(reason))
        else:
            print(f"fixgw: skipped stored report ExecID {exec_id} ({self.account}, {self.product}): {reason}",
                  file=sys.stderr, flush=True)

    def within(self, when: dt.datetime | None) -> bool:
        """Is ``when`` inside ``[min_ts, max_ts]``? Both bounds are inclusive, in whole Unix
        seconds, as Kalshi's ``min_ts``/``max_ts`` are: a fill at 12:00:00.325 has ``ts`` 12:00:00
        and is inside ``max_ts`` = that second. Without a time, nothing is inside a bound."""
        if self.min_ts is None and self.max_ts is None:
            return True
        if when is None:
            return False
        ts = math.floor(when.timestamp())
        return (self.min_ts is None or ts >= self.min_ts) and (self.max_ts is None or ts <= self.max_ts)

    def reports(self, *, narrow: bool = True) -> Iterator[ExecutionReport]:
        """Every stored report of this ticker / subaccount / event (``narrow=False``: all of
        them), in ExecID order.

        Time bounds are not applied here: an order's state and a margin fill's entry price
        and realized PnL depend on every earlier report, so the views compute from the whole
        history and filter what they computed (:meth:`within`)."""
        for _, er in self._stored(narrow=narrow):
            yield er

    def _stored(self, *, narrow: bool = True, **more) -> Iterator[tuple[StoredReport, ExecutionReport]]:
        kw = dict(ticker=self.ticker, subaccount=self.subaccount) if narrow else {}
        for r in self.store.reports(self.account, self.product, **kw, **more):
            try:
                er = lenient.decode(r.raw, r.units)[0]  # stored as received
            except (DecodeError, ValueError) as e:
                self._skip(r.exec_id, e)
                continue
            if narrow and self.event_ticker and event_of(er.symbol) != self.event_ticker:
                continue
            if er.subtrader != self.subtrader:  # sub-traders' books are their own (GET /fcm/...)
                continue
            yield r, er

    def fills_page(self) -> tuple[list, str | None]:
        """One page of :meth:`fills`: at most ``limit`` fills after the one whose ExecID is
        ``cursor``, and the cursor of the next page (None on the last). Event contracts read only
        the page's Trade reports from the store; a margin fill's entry price and PnL depend on
        every earlier fill, so margin pages still fold the fills before the page."""
        limit = self.limit or 100
        after = exec_key(self.cursor) if self.cursor else None
        out: list = []
        ledger = Ledger()
        margin = self.product == "margin"
        for r, er in self._stored(trades=True, after=None if margin else after):
            try:
                fill = translate.margin_fill_from_report(er, ledger) if margin else translate.fill_from_report(er)
            except ValueError as e:  # a Trade without LastPx/LastQty: nothing to serve
                self._skip(er.exec_id, e)
                continue
            if (after is None or r.key > after) and self.within(fill.created_time):
                out.append(fill)
                if len(out) == limit:
                    return out, r.exec_id
        return out, None

    def fills(self) -> Iterator:
        # A margin book is per (subaccount, ticker), so the store's ticker/subaccount filters
        # keep every report that moves it; the time bounds are applied to the finished fill.
        ledger = Ledger()
        for er in self.reports():
            if er.exec_type is not ExecType.TRADE:
                continue
            try:
                if self.product == "margin":
                    # entry price and realized PnL depend on every earlier fill: replay unfiltered ledger state
                    fill = translate.margin_fill_from_report(er, ledger)
                else:
                    fill = translate.fill_from_report(er)
            except ValueError as e:  # a Trade without LastPx/LastQty: nothing to serve
                self._skip(er.exec_id, e)
                continue
            if self.within(fill.created_time):
                yield fill

    def orders(self, status: str | None = None) -> list:
        """REST Orders (margin: MarginOrders) from every report of theirs, optionally of one
        status (resting / canceled / executed); the time bounds apply to ``created_time``."""
        orders = MarginOrders(user_id=self.user_id) if self.product == "margin" else \
            translate.Orders(user_id=self.user_id)
        for er in self.reports():
            try:
                orders.apply(er)
            except ValueError as e:
                self._skip(er.exec_id, e)
        return [o for o in orders.orders(status) if self.within(o.created_time)]

    def positions(self, *, whole: bool = False) -> dict:
        """Positions come from every stored fill and settlement (time filters do not apply; REST's do
        not either); event contracts: the body of GET /portfolio/positions (or /fcm/positions with a
        sub-trader) from :func:`fixgw.query.positions_body` — one page of ``limit`` (default 100)
        rows, or with ``whole`` every row (exports and reconciliations compare everything)."""
        sub = self.subaccount or 0
        if self.product == "event":
            from fixgw.query import positions_body
            from fixgw.recorder.replay import replay

            books = replay(self.store, self.account, self.product, party_id=self.party_id, skip=self._skip).view(self.subtrader)
            return positions_body(books.ledger, sub, ticker=self.ticker, event_ticker=self.event_ticker,
                                  count_filter=self.count_filter, settlement_status=self.settlement_status,
                                  limit=self.limit, cursor=self.cursor, whole=whole)
        from fixgw.recorder.replay import replay

        ledger = replay(self.store, self.account, self.product, skip=self._skip).books(self.subtrader).ledger
        return {"positions": [p for p in ledger.margin_positions(sub)
                              if (self.ticker is None or p.market_ticker == self.ticker)
                              and (self.event_ticker is None or event_of(p.market_ticker) == self.event_ticker)]}

    def positions_json(self, profile: str | None = None) -> dict:
        """:meth:`positions` (event contracts) as the JSON body in a schema profile (:mod:`fixgw.profiles`)."""
        from fixgw import profiles
        from fixgw.query import positions_body
        from fixgw.recorder.replay import replay

        books = replay(self.store, self.account, self.product, party_id=self.party_id, skip=self._skip).view(self.subtrader)
        body = positions_body(books.ledger, self.subaccount or 0, ticker=self.ticker, event_ticker=self.event_ticker,
                              count_filter=self.count_filter, settlement_status=self.settlement_status,
                              limit=self.limit, cursor=self.cursor)
        counts = profiles.resting(o for o in books.orders.orders("resting")
                                  if (o.subaccount_number or 0) == (self.subaccount or 0))
        return profiles.positions(body, profile, counts, fcm=self.subtrader is not None)

    def settlements(self) -> list:
        """GET /portfolio/settlements (a sub-trader's with ``subtrader``), oldest first; ``ticker``,
        ``event_ticker`` and ``min_ts``/``max_ts`` (inclusive, on settled_time) filter."""
        from fixgw.recorder.replay import replay

        rows = replay(self.store, self.account, self.product, party_id=self.party_id, skip=self._skip).view(self.subtrader).settlements
        return [s for s in rows if (self.ticker is None or s.ticker == self.ticker)
                and (self.event_ticker is None or s.event_ticker == self.event_ticker)
                and (self.min_ts is None or s.settled_time.timestamp() >= self.min_ts)
                and (self.max_ts is None or s.settled_time.timestamp() < self.max_ts + 1)]

    def balance(self, start=None):
        """GET /portfolio/balance: ``(Balance, since)`` from ``start`` dollars plus every stored
        BALANCE/PAYOUT change; ``since`` is the first change (the stated point when there is no start)."""
        from fixgw.recorder.replay import replay

        cash = replay(self.store, self.account, self.product, party_id=self.party_id, skip=self._skip).cash
        return cash.balance(self.product, self.subtrader, start), cash.since

    def fcm_fills(self) -> list:
        """GET /fcm/fills: one FcmFill per trade across the sub-traders (``min_ts``/``max_ts`` inclusive)."""
        from fixgw.recorder.replay import replay

        return replay(self.store, self.account, self.product, kept=False, skip=self._skip).subtraders.fills(
            self.min_ts, self.max_ts)

    def subtraders(self) -> list[str]:
        """The FCM sub-traders whose reports the store holds, in first-seen order."""
        from fixgw.recorder.replay import replay

        return list(replay(self.store, self.account, self.product, skip=self._skip).subtraders.books)
