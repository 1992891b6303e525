"""The recorder's books: every stored report and settlement replayed through the gateway's code (pure core).

The order-entry gateway folds reports as they arrive into the account's own
books and one set per FCM sub-trader (:mod:`fixgw.fcm`), and applies
settlement reports with :mod:`fixgw.settlements`. The recorder does the same
with what it stored: every ExecutionReport in ExecID order (never a filtered
subset: a filter must not change a number), then every settlement report in
the order it was stored (a market settles after its last fill). Views filter
the result.

Two steps, shared by every path: :meth:`Replayed.apply` folds one report and
:meth:`Replayed.settle` applies the stored settlements. A full replay folds
every report; a kept read (:mod:`fixgw.recorder.kept`) starts from the
checkpoint of all reports up to its key and folds only the ones after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from fixgw import settlements, translate
from fixgw.fix import lenient
from fixgw.positions import Cash
from fixgw.fcm import Books, Subtraders
from fixgw.models.fix import ExecType, ExecutionReport, MarketSettlementReport
from fixgw.pricing import Units
from fixgw.recorder.store import Store, StoredReport


def decode(r: StoredReport, product: str) -> ExecutionReport:
    """A stored report as the model every replay folds, in the units it was received in, decoded
    leniently: it is stored as it was received, novel values and all."""
    return lenient.decode(r.raw, r.units)[0]


@dataclass
class Replayed:
    own: Books = field(default_factory=Books)
    subtraders: Subtraders = field(default_factory=Subtraders)
    cash: Cash = field(default_factory=Cash)  # GET /portfolio/balance (no starting balance: see fixgw.positions)

    def books(self, subtrader: str | None) -> Books:
        """Books to fold into (a sub-trader's are created on first use)."""
        return self.own if subtrader is None else self.subtraders.of(subtrader)

    def view(self, subtrader: str | None) -> Books:
        """Books to read (a sub-trader never seen has empty ones)."""
        return self.own if subtrader is None else self.subtraders.view(subtrader)

    def apply(self, er: ExecutionReport, product: str) -> None:
        """Fold one stored ExecutionReport (callers go in key order, each report once).

        A report that cannot be applied (a Trade without LastPx, say) raises ValueError before
        anything is changed, so a caller may skip it and go on."""
        sub = er.subtrader
        books = self.books(sub)
        trade = er.exec_type is ExecType.TRADE
        if product == "margin":
            if trade:
                translate.margin_fill_from_report(er, books.ledger)  # checks 31, 32 and a time first
        elif trade:
            translate.check_trade(er)
        if er.collateral:
            self.cash.add(f"{product}:{er.exec_id}", product, sub, er.collateral, er.transact_time)
        if product == "margin":
            return
        books.orders.fold(er)
        if trade:
            fill = translate.fill_from_report(er)
            books.ledger.fold(fill)
            if sub is not None:
                self.subtraders.add_fill(fill, sub)

    def settle(self, store: Store, account: str, product: str, party_id: str | None = None,
               skip: Callable[[str, Exception], None] | None = None) -> Replayed:
        """Apply every stored settlement report, after the last fill (event contracts only).

        Read leniently, as reports are (stored as received); ``skip(report_id, error)`` is told
        of one that cannot be read or applied, and the others are applied. Without ``skip`` it raises."""
        if product != "event":
            return self
        for s in store.settlements(account, product):
            try:  # UMS prices are cents on every session (730), whatever the units
                ums = lenient.decode(s.raw, Units.DOLLARS)[0]
                if not isinstance(ums, MarketSettlementReport):
                    raise ValueError(f"stored settlement {s.report_id} is not a 35=UMS")
                when = settlements.sending_time(s.raw)
                done = settlements.apply(ums, when, party_id, self.subtraders.books, lambda w: self.books(w).ledger)
            except ValueError as e:  # DecodeError is a ValueError
                if skip is None:
                    raise
                skip(s.report_id, e)
                continue
            for who, party, settlement in done:
                self.books(who).settlements.append(settlement)
                self.cash.add(f"UMS:{ums.report_id}:{party.party_id}", product, who, party.collateral, when)
        return self


def replay(store: Store, account: str, product: str, *, party_id: str | None = None,
           kept: bool = True, skip: Callable[[str, Exception], None] | None = None) -> Replayed:
    """The books of every stored report and settlement.

    ``kept`` (the default) starts from the kept checkpoint, when there is one of
    this code's version, and folds only the reports after it; ``kept=False`` folds
    every stored report. Both give the same books (tests/recorder/test_kept.py);
    FCM fill rows (:meth:`Subtraders.fills`) are not kept: ask with ``kept=False``.
    ``skip(exec_id, error)`` is told of a stored report that cannot be decoded or applied; the
    rest are served. Without ``skip`` such a report raises.
    """
    from fixgw.recorder import kept as keeping

    out, after = keeping.load(store, account, product) if kept else (Replayed(), None)
    for r in store.reports(account, product, after=after):
        try:
            out.apply(decode(r, product), product)
        except ValueError as e:  # DecodeError is a ValueError
            if skip is None:
                raise
            skip(r.exec_id, e)
    return out.settle(store, account, product, party_id, skip)
