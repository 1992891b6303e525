"""Cash: GET /portfolio/balance from the CollateralAmountChanges Kalshi reports (pure core).

Why: FIX never sends a balance, only changes to it: every Trade report carries
1703/1704/1705 with 1705=BALANCE (the cash the fill moved: price paid, fees,
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
from decimal import ROUND_FLOOR, Decimal

from fixgw.models.fcm import Balance
from fixgw.models.fix import CollateralChange

ZERO = Decimal(0)
KINDS = frozenset({"BALANCE", "PAYOUT", None})  # None: an entry without 1705 (old reports)


class Cash:
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
