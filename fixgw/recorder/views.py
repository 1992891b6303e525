"""Fills, orders and positions derived from stored reports by the core translation code.

The recorder's answer must equal the order-entry gateway's, so this module
does nothing of its own: it replays the stored ExecutionReports, in ExecID
order, through :mod:`fixgw.translate` and :mod:`fixgw.positions`.

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

from fixgw import lenient, translate
from fixgw.models.fix import ExecType, ExecutionReport
from fixgw.positions import Ledger, event_ticker as event_of
from fixgw.pricing import Units
from fixgw.recorder.store import Store


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

    def _since(self) -> dt.datetime | None:
        return dt.datetime.fromtimestamp(self.min_ts, dt.timezone.utc) if self.min_ts is not None else None

    def _until(self) -> dt.datetime | None:
        return dt.datetime.fromtimestamp(self.max_ts, dt.timezone.utc) if self.max_ts is not None else None

    def reports(self, *, filtered: bool = True) -> Iterator[ExecutionReport]:
        kw = dict(ticker=self.ticker, since=self._since(), until=self._until(), subaccount=self.subaccount) \
            if filtered else {}
        for r in self.store.reports(self.account, self.product, **kw):
            er = lenient.decode(r.raw, units_of(r.raw, self.product))[0]  # stored as received
            if self.event_ticker and event_of(er.symbol) != self.event_ticker:
                continue
            yield er

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
        """Positions come from every stored fill (time filters do not apply; REST's do not either)."""
        ledger = Ledger()
        for er in self.reports(filtered=False):
            if er.exec_type is not ExecType.TRADE:
                continue
            if self.product == "margin":
                translate.margin_fill_from_report(er, ledger)
            else:
                ledger.add(translate.fill_from_report(er))
        sub = self.subaccount or 0
        if self.product == "margin":
            return {"positions": [p for p in ledger.margin_positions(sub)
                                  if self.ticker is None or p.market_ticker == self.ticker]}
        return {"market_positions": [p for p in ledger.market_positions(sub)
                                     if (self.ticker is None or p.ticker == self.ticker)
                                     and (self.event_ticker is None or event_of(p.ticker) == self.event_ticker)],
                "event_positions": [e for e in ledger.event_positions(sub)
                                    if self.event_ticker is None or e.event_ticker == self.event_ticker]}
