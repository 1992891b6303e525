"""FCM sub-traders: one set of books per sub-trader, and the rows of GET /fcm/fills (pure core).

Why: an FCM member trades on behalf of sub-traders; each order carries one
party (453=1, 448=sub-trader UUID, 452=24) and Kalshi echoes it on every
ExecutionReport. Positions, orders and PnL are the sub-trader's, never the
member's sum: sub-trader A long 5 YES and sub-trader B long 3 NO are two
positions, not one of +2 with an invented realized PnL. So every report with
a sub-trader party goes to that sub-trader's own :class:`Books` (a position
ledger and an order book, the same code as the account's own), and reports
without one stay with the account.

``GET /fcm/fills`` (OpenAPI ``FcmFill``) has one row per trade with maker_* and
taker_* columns for the side(s) the FCM owns: the two ExecutionReports of a
trade between two of its sub-traders (same 880 TrdMatchID) fill one row.
taker_outcome_side is the taker report's side, or the opposite of the maker's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fixgw.models.fcm import FcmFill
from fixgw.models.rest import Fill
from fixgw.positions import Ledger
from fixgw.translate import Orders


@dataclass
class Books:
    """Everything kept for one scope: positions and orders."""

    ledger: Ledger = field(default_factory=Ledger)
    orders: Orders = field(default_factory=Orders)
    settlements: list = field(default_factory=list)  # REST Settlements of this scope


class Subtraders:
    def __init__(self, *, user_id: str = "") -> None:
        self.user_id = user_id
        self.books: dict[str, Books] = {}
        self._fills: dict[str, FcmFill] = {}  # fill_id -> row, in first-seen order

    def of(self, subtrader: str) -> Books:
        books = self.books.get(subtrader)
        if books is None:
            books = self.books[subtrader] = Books(Ledger(user_id=self.user_id), Orders(user_id=self.user_id), [])
        return books

    def view(self, subtrader: str) -> Books:
        """A sub-trader's books for reading: empty (and not kept) for one never seen."""
        return self.books.get(subtrader) or Books(Ledger(user_id=self.user_id), Orders(user_id=self.user_id), [])

    def add_fill(self, fill: Fill, subtrader: str) -> FcmFill:
        """Fold one side of a trade into its FcmFill row; returns the row after it."""
        side = "taker" if fill.is_taker else "maker"
        taker_side = fill.outcome_side if fill.is_taker else ("no" if fill.outcome_side == "yes" else "yes")
        mine = {f"{side}_order_id": fill.order_id, f"{side}_subtrader_id": subtrader,
                f"{side}_fee_cost": fill.fee_cost}
        row = self._fills.get(fill.fill_id)
        if row is None:
            row = FcmFill(fill_id=fill.fill_id, exchange_index=fill.exchange_index, ticker=fill.ticker,
                          taker_outcome_side=taker_side, count_fp=fill.count_fp,
                          yes_price_dollars=fill.yes_price_dollars, created_time=fill.created_time, **mine)
        else:
            row = row.model_copy(update=mine)
        self._fills[fill.fill_id] = row
        return row

    def fills(self, min_ts: int | None = None, max_ts: int | None = None) -> list[FcmFill]:
        """Rows oldest first; ``min_ts``/``max_ts`` Unix seconds, both inclusive."""
        out = []
        for row in self._fills.values():
            ts = int(row.created_time.timestamp()) if row.created_time is not None else None
            if ts is not None and ((min_ts is not None and ts < min_ts) or (max_ts is not None and ts > max_ts)):
                continue
            out.append(row)
        return out
