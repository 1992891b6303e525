"""Market settlement reports (35=UMS) applied to this account's books (pure core).

Why: a UMS lists one entry (20108) per party that held the market; only this
account's entries are its settlements, and each one closes a position in the
books it belongs to. The gateway (live) and the recorder (replaying stored
reports) both go through :func:`apply`, so they agree; :func:`settlement_from_report`
makes one entry's REST ``Settlement`` (``GET /portfolio/settlements``).

Which entries are this account's:

* an entry whose 20109 is one of the account's FCM sub-traders (a UUID seen
  as 448 with 452=24 on its ExecutionReports) belongs to that sub-trader;
* an entry whose 20109 is the configured ``party_id`` (Kalshi's example shows
  a user id, ``user-456``) is the account's own (subaccount 0);
* without a configured ``party_id``, the one entry that is no sub-trader's is
  the account's own when there is exactly one (Kalshi sends each account its
  own report); with several such entries nothing is guessed: ValueError
  names them, and the caller reports it.

settled_time is the report's own time: SendingTime(52) of its header (the
report carries no other; 715 is only a business date).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Callable, Container

from fixgw.fix import tags
from fixgw.fix.codec_tables import time_from_wire
from fixgw.models.fix import MarketSettlementReport, SettlementParty
from fixgw.models.rest import Settlement
from fixgw.positions import Cash, Ledger, event_ticker

if TYPE_CHECKING:
    from fixgw.fcm import Subtraders

ONE, ZERO, HUNDRED = Decimal(1), Decimal(0), Decimal(100)
_SENDING_TIME = f"\x01{tags.SENDING_TIME}="


def sending_time(raw: str) -> dt.datetime:
    """SendingTime(52) of a FIX message's header; ValueError when it has none."""
    start = raw.find(_SENDING_TIME)
    if start < 0:
        raise ValueError("the message has no SendingTime(52)")
    start += len(_SENDING_TIME)
    return time_from_wire(raw[start:raw.find("\x01", start)])


def mine(ums: MarketSettlementReport, party_id: str | None,
         subtraders: Container[str]) -> list[tuple[str | None, SettlementParty]]:
    """(sub-trader or None for the account itself, entry) for this account's entries."""
    out: list[tuple[str | None, SettlementParty]] = []
    others = []
    for p in ums.parties:
        if p.party_id in subtraders:
            out.append((p.party_id, p))
        elif party_id is not None:
            if p.party_id == party_id:
                out.append((None, p))
        else:
            others.append(p)
    if len(others) == 1:
        out.append((None, others[0]))
    elif others:
        raise ValueError(f"settlement report {ums.report_id} ({ums.symbol}) has parties "
                         f"{', '.join(p.party_id for p in others)}: set party_id in the config to say which "
                         "is this account")
    return out


def apply(ums: MarketSettlementReport, settled_time: dt.datetime, party_id: str | None,
          subtraders: Container[str], ledger_of: Callable[[str | None], Ledger],
          exchange_index: int = 0) -> list[tuple[str | None, SettlementParty, Settlement]]:
    """Settle this account's entries: (whose, the entry, its Settlement), its position closed in its ledger."""
    value = ums.settlement_price if ums.settlement_price is not None else \
        (ONE if ums.market_result == "yes" else ZERO)
    out = []
    for who, party in mine(ums, party_id, subtraders):
        ledger = ledger_of(who)
        # The report names the account, not a subaccount (79): every subaccount's position in the
        # market settles, and the Settlement's costs are theirs together.
        subs = sorted({sub for sub, ticker in ledger.events if ticker == ums.symbol}) or [0]
        costs = [ledger.cost_basis(sub, ums.symbol) for sub in subs]
        out.append((who, party, settlement_from_report(
            ums, party_id=party.party_id, exchange_index=exchange_index,
            yes_total_cost=sum((c[0] for c in costs), ZERO), no_total_cost=sum((c[1] for c in costs), ZERO),
            settled_time=settled_time)))
        for sub in subs:
            ledger.settle(sub, ums.symbol, value)
    return out


def settle(ums: MarketSettlementReport, raw: str | None, party_id: str | None, ledger: Ledger,
           subtraders: "Subtraders", cash: Cash) -> Settlement | None:
    """The live gateway's settlement (the dispatcher's): this account's entries settle their books
    and move the cash; returns the account's own Settlement (or None).

    Sub-traders' settlements are kept with their books (``subtraders.of(id).settlements``).
    """
    if raw is None:
        raise ValueError(f"settlement report {ums.report_id} came without its FIX text (SendingTime)")
    own = None
    when = sending_time(raw)
    done = apply(ums, when, party_id, subtraders.books,
                 lambda who: ledger if who is None else subtraders.of(who).ledger)
    for who, party, settlement in done:
        cash.add(f"UMS:{ums.report_id}:{party.party_id}", "event", who, party.collateral, when)
        if who is None:
            own = settlement
        else:
            subtraders.of(who).settlements.append(settlement)
    return own


def settlement_from_report(ums: MarketSettlementReport, *, settled_time: dt.datetime,
                           party_id: str | None = None, exchange_index: int = 0,
                           yes_total_cost: Decimal = ZERO, no_total_cost: Decimal = ZERO) -> Settlement:
    """The REST Settlement of one party in a 35=UMS report.

    The report's body carries neither cost basis nor a time: pass the ledger's
    (:meth:`fixgw.positions.Ledger.cost_basis`) and the report's own time, its
    SendingTime(52) (:func:`mine` picks this account's entries).
    ``party_id`` picks the 20109 entry (default: the only one; ValueError when
    there are several). revenue = Σ PAYOUT 1704 in cents (computed
    from the counts and result when there is none); fee_cost = the party's Σ137;
    value = 730 in cents, else 100 / 0 for a yes / no result.
    """
    if party_id is None and len(ums.parties) > 1:
        raise ValueError(f"settlement report {ums.report_id} has {len(ums.parties)} parties: name one")
    party = next((p for p in ums.parties if party_id is None or p.party_id == party_id), None)
    if party_id is not None and party is None:
        raise ValueError(f"settlement report {ums.report_id} has no party {party_id!r}")
    yes_n = (party.long_qty if party else None) or ZERO
    no_n = (party.short_qty if party else None) or ZERO
    if ums.settlement_price is not None:
        value: int | None = int((ums.settlement_price * HUNDRED).to_integral_value(ROUND_HALF_EVEN))
    else:
        value = {"yes": 100, "no": 0}.get(ums.market_result)
    payouts = [c.amount for c in (party.collateral if party else ()) if c.kind in (None, "PAYOUT")]
    if payouts:
        revenue = sum(payouts, ZERO) * HUNDRED
    else:
        per_yes = Decimal(value if value is not None else 0)
        revenue = yes_n * per_yes + no_n * (HUNDRED - per_yes)
    fee = sum((f.amount for f in (party.fees if party else ())), ZERO)
    return Settlement(
        ticker=ums.symbol, exchange_index=exchange_index, event_ticker=event_ticker(ums.symbol),
        market_result=ums.market_result, yes_count_fp=yes_n, yes_total_cost_dollars=yes_total_cost,
        no_count_fp=no_n, no_total_cost_dollars=no_total_cost,
        revenue=int(revenue.to_integral_value(ROUND_HALF_EVEN)), settled_time=settled_time,
        fee_cost=fee, value=value)
