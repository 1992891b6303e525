"""Fills, orders and positions derived from stored reports by the core translation code.

The recorder's answer must equal the order-entry gateway's, so this module
does nothing of its own: it replays the stored ExecutionReports, in ExecID
order, through :mod:`fixgw.translate` and :mod:`fixgw.positions`. Positions,
balances and settlements start from the kept checkpoint (:mod:`fixgw.recorder.kept`)
and fold only the reports after it; a page of fills (:meth:`Query.fills_page`)
reads only that page's reports.

Reports are stored as received, in the units of the session that received
them. Margin prices are always dollars; an event-contract price is strictly
between $0 and $1, so a report whose price fields (6, 31, 44) reach 1 or more
was written in cents (UseDollars off) and one whose prices stay below 1 in
dollars.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterator

from decimal import Decimal

from fixgw import fields, translate
from fixgw.models.fix import ExecType, ExecutionReport
from fixgw.positions import Ledger, event_ticker as event_of
from fixgw.pricing import Units
from fixgw.recorder.store import Store, StoredReport, exec_key


_PRICE_TAGS = ("\x016=", "\x0131=", "\x0144=")


def units_of(raw: str, product: str) -> Units:
    if product == "margin":
        return Units.DOLLARS
    for tag in _PRICE_TAGS:
        start = raw.find(tag)
        if start >= 0:
            value = raw[start + len(tag):raw.find("\x01", start + 1)]
            try:
                if Decimal(value) >= 1:
                    return Units.CENTS
            except ArithmeticError:
                continue
    return Units.DOLLARS


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
    subtrader: str | None = None  # FCM: one sub-trader's reports; None: the account's own (no 452=24 party)
    settlement_status: str | None = None  # positions: unsettled (default) | settled | all
    count_filter: str | None = None
    limit: int | None = None
    cursor: str | None = None
    party_id: str | None = None  # this account's 20109 in settlement reports (config party_id)

    def _since(self) -> dt.datetime | None:
        return dt.datetime.fromtimestamp(self.min_ts, dt.timezone.utc) if self.min_ts is not None else None

    def _until(self) -> dt.datetime | None:
        return dt.datetime.fromtimestamp(self.max_ts, dt.timezone.utc) if self.max_ts is not None else None

    def reports(self, *, filtered: bool = True) -> Iterator[ExecutionReport]:
        for _, er in self._stored(filtered=filtered):
            yield er

    def _stored(self, *, filtered: bool = True, **more) -> Iterator[tuple[StoredReport, ExecutionReport]]:
        kw = dict(ticker=self.ticker, since=self._since(), until=self._until(), subaccount=self.subaccount) \
            if filtered else {}
        for r in self.store.reports(self.account, self.product, **kw, **more):
            er = fields.decode_raw(r.raw, units_of(r.raw, self.product))
            if self.event_ticker and event_of(er.symbol) != self.event_ticker:
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
        if self.product == "margin":
            ledger = Ledger()
            for r, er in self._stored(trades=True):
                fill = translate.margin_fill_from_report(er, ledger)
                if after is None or r.key > after:
                    out.append(fill)
                    if len(out) == limit:
                        return out, r.exec_id
            return out, None
        for r, er in self._stored(trades=True, after=after):
            out.append(translate.fill_from_report(er))
            if len(out) == limit:
                return out, r.exec_id
        return out, None

    def fills(self) -> Iterator:
        ledger = Ledger()
        for er in self.reports():
            if er.exec_type is not ExecType.TRADE:
                continue
            if self.product == "margin":
                # entry price and realized PnL depend on every earlier fill: replay unfiltered ledger state
                yield translate.margin_fill_from_report(er, ledger)
            else:
                yield translate.fill_from_report(er)

    def orders(self) -> list:
        orders = translate.Orders()
        for er in self.reports():
            orders.apply(er)
        return orders.orders()

    def positions(self) -> dict:
        """Positions come from every stored fill and settlement (time filters do not apply; REST's do
        not either); event contracts: the body of GET /portfolio/positions (or /fcm/positions with a
        sub-trader) from :func:`fixgw.query.positions_body`."""
        sub = self.subaccount or 0
        if self.product == "event":
            from fixgw.query import positions_body
            from fixgw.recorder.replay import replay

            books = replay(self.store, self.account, self.product, party_id=self.party_id).books(self.subtrader)
            return positions_body(books.ledger, sub, ticker=self.ticker, event_ticker=self.event_ticker,
                                  count_filter=self.count_filter, settlement_status=self.settlement_status,
                                  limit=self.limit, cursor=self.cursor)
        from fixgw.recorder.replay import replay

        ledger = replay(self.store, self.account, self.product).books(self.subtrader).ledger
        return {"positions": [p for p in ledger.margin_positions(sub)
                              if (self.ticker is None or p.market_ticker == self.ticker)
                              and (self.event_ticker is None or event_of(p.market_ticker) == self.event_ticker)]}

    def positions_json(self, profile: str | None = None) -> dict:
        """:meth:`positions` (event contracts) as the JSON body in a schema profile (:mod:`fixgw.profiles`)."""
        from fixgw import profiles
        from fixgw.query import positions_body
        from fixgw.recorder.replay import replay

        books = replay(self.store, self.account, self.product, party_id=self.party_id).books(self.subtrader)
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

        rows = replay(self.store, self.account, self.product, party_id=self.party_id).settlements_of(self.subtrader)
        return [s for s in rows if (self.ticker is None or s.ticker == self.ticker)
                and (self.event_ticker is None or s.event_ticker == self.event_ticker)
                and (self.min_ts is None or s.settled_time.timestamp() >= self.min_ts)
                and (self.max_ts is None or s.settled_time.timestamp() < self.max_ts + 1)]

    def balance(self, start=None):
        """GET /portfolio/balance: ``(Balance, since)`` from ``start`` dollars plus every stored
        BALANCE/PAYOUT change; ``since`` is the first change (the stated point when there is no start)."""
        from fixgw.recorder.replay import replay

        cash = replay(self.store, self.account, self.product, party_id=self.party_id).cash
        return cash.balance(self.product, self.subtrader, start), cash.since

    def fcm_fills(self) -> list:
        """GET /fcm/fills: one FcmFill per trade across the sub-traders (``min_ts``/``max_ts`` inclusive)."""
        from fixgw.recorder.replay import replay

        return replay(self.store, self.account, self.product, kept=False).subtraders.fills(self.min_ts, self.max_ts)
