"""The recorder's books: every stored report and settlement replayed through the gateway's code (pure core).

The order-entry gateway folds reports as they arrive into the account's own
books and one set per FCM sub-trader (:mod:`fixgw.fcm`), and applies
settlement reports with :mod:`fixgw.settlements`. The recorder does the same
with what it stored: every ExecutionReport in ExecID order (never a filtered
subset: a filter must not change a number), then every settlement report in
the order it was stored (a market settles after its last fill). Views filter
the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from fixgw import fields, lenient, settlements, translate
from fixgw.cash import Cash
from fixgw.fcm import Books, Subtraders
from fixgw.models.fix import ExecType, MarketSettlementReport
from fixgw.pricing import Units
from fixgw.recorder.store import Store


@dataclass
class Replayed:
    own: Books = field(default_factory=Books)
    subtraders: Subtraders = field(default_factory=Subtraders)
    cash: Cash = field(default_factory=Cash)  # GET /portfolio/balance (no starting balance: see fixgw.cash)

    def books(self, subtrader: str | None) -> Books:
        """Books to fold into (a sub-trader's are created on first use)."""
        return self.own if subtrader is None else self.subtraders.of(subtrader)

    def view(self, subtrader: str | None) -> Books:
        """Books to read (a sub-trader never seen has empty ones)."""
        return self.own if subtrader is None else self.subtraders.view(subtrader)



def replay(store: Store, account: str, product: str, *, party_id: str | None = None,
           skip: Callable[[str, Exception], None] | None = None) -> Replayed:
    """``skip(exec_id, error)`` is told of a stored report that cannot be decoded or applied (a
    Trade without LastPx, say); the rest are served. Without ``skip`` such a report raises."""
    from fixgw.recorder.views import units_of  # the views decide a stored report's units

    out = Replayed()
    for r in store.reports(account, product):
        try:  # everything that can refuse a report does so before anything is applied
            er = lenient.decode(r.raw, units_of(r.raw, product))[0]  # stored as received
            sub = er.subtrader
            books = out.books(sub)
            if product == "margin":
                if er.exec_type is ExecType.TRADE:
                    translate.margin_fill_from_report(er, books.ledger)
            elif er.exec_type is ExecType.TRADE:
                translate.check_trade(er)
        except ValueError as e:  # DecodeError is a ValueError
            if skip is None:
                raise
            skip(r.exec_id, e)
            continue
        if er.collateral:
            out.cash.add(f"{product}:{er.exec_id}", product, sub, er.collateral, er.transact_time)
        if product == "margin":
            continue
        books.orders.apply(er)
        if er.exec_type is ExecType.TRADE:
            fill = translate.fill_from_report(er)
            books.ledger.add(fill)
            if sub is not None:
                out.subtraders.add_fill(fill, sub)
    if product != "event":
        return out
    for s in store.settlements(account, product):
        ums = fields.decode_raw(s.raw, Units.DOLLARS)  # UMS prices are cents on every session (730)
        if not isinstance(ums, MarketSettlementReport):
            raise ValueError(f"stored settlement {s.report_id} is not a 35=UMS")
        when = settlements.sending_time(s.raw)
        for who, party, settlement in settlements.apply(ums, when, party_id, out.subtraders.books,
                                                        lambda w: out.books(w).ledger):
            out.books(who).settlements.append(settlement)
            out.cash.add(f"UMS:{ums.report_id}:{party.party_id}", product, who, party.collateral, when)
    return out
