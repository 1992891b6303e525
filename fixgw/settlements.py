"""Market settlement reports (35=UMS) applied to this account's books (pure core).

Why: a UMS lists one entry (20108) per party that held the market; only this
account's entries are its settlements, and each one closes a position in the
books it belongs to. The gateway (live) and the recorder (replaying stored
reports) both go through :func:`apply`, so they agree.

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
from decimal import Decimal
from typing import Callable, Container

from fixgw.fix import tags
from fixgw.fix.codec_tables import time_from_wire
from fixgw.models.fix import MarketSettlementReport, SettlementParty
from fixgw.models.rest import Settlement
from fixgw.positions import Ledger
from fixgw.translate import settlement_from_report

ONE, ZERO = Decimal(1), Decimal(0)
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
