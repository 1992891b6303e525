"""The simulator's cash books: every BALANCE and PAYOUT change it reports, per owner (pure core).

The oracle for ``GET /portfolio/balance``: an owner (an account, or an FCM
account's sub-trader, :func:`fixgw.sim.book.owner`) starts at 0 and moves by
exactly the CollateralAmountChange(1704) the engine puts on each Trade report
(BALANCE) and each settlement party (PAYOUT). ``balance`` is cents rounded
toward minus infinity (what the account can spend), ``balance_dollars`` the
exact amount at 4 dp, ``updated_ts`` the Unix seconds of the last change.
Kept apart from :mod:`fixgw.sim.ledger` (positions) because cash has its own
reason to change: a deposit moves it without a fill.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_FLOOR, Decimal

ZERO = Decimal(0)


class Cash:
    def __init__(self) -> None:
        self._balance: dict[str, Decimal] = {}
        self._updated: dict[str, dt.datetime] = {}

    def credit(self, owner: str, amount: Decimal, when: dt.datetime) -> None:
        """Add one reported change (negative: cash paid out)."""
        self._balance[owner] = self._balance.get(owner, ZERO) + amount
        self._updated[owner] = when

    def balance(self, owner: str, start: Decimal = ZERO) -> dict:
        """REST Balance from ``start`` dollars plus every change since."""
        total = start + self._balance.get(owner, ZERO)
        when = self._updated.get(owner)
        return {"balance": int((total * 100).to_integral_value(ROUND_FLOOR)),
                "balance_dollars": f"{total.quantize(Decimal('0.0001')):f}",
                "updated_ts": int(when.timestamp()) if when is not None else None}
