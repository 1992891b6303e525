"""FCM member accounts in the simulator: sub-traders and the parties rule (pure core).

Kalshi's FIX documents: on 35=D/G/F, "453/448/452: FCM only: 453=1, 448=sub-trader
UUID, 452=24 (Customer Account)", echoed on ExecutionReports; the reject table maps
CUSTOMER_ACCOUNT_NOT_FOUND and PERMISSION_DENIED_FOR_CUSTOMER_ACCOUNT to 103=15
(unknown account), as ExecutionReports 150=8. They do not say which one an FCM
order *without* a party gets. The simulator's choice (see README, "FCM sub-traders"):

* FCM account, no sub-trader party: 150=8, 103=15, 58=CUSTOMER_ACCOUNT_NOT_FOUND
  (the order names no customer account, so none is found).
* FCM account, a UUID that is not one of its sub-traders, or a non-FCM account
  that sends parties: 103=15, 58=PERMISSION_DENIED_FOR_CUSTOMER_ACCOUNT.
* More than one party, or a role other than 24: 103=11, 58=INVALID_ORDER
  ("only one party on requests").

An FCM member is registered by a file ``subtraders`` (one UUID a line) in its
account directory ``<keys>/<product>/<account>/``.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from fixgw.errors import SimulatorError
from fixgw.models.fix import CUSTOMER_ACCOUNT, Party

FILE = "subtraders"


def check(members: dict[str, frozenset[str]], account: str,
          parties: tuple[Party, ...]) -> tuple[int, str] | None:
    """(103, 58) refusing an order's parties, or None when they are right for the account."""
    subtraders = members.get(account)
    if not parties:
        return (15, "CUSTOMER_ACCOUNT_NOT_FOUND") if subtraders is not None else None
    if len(parties) != 1 or parties[0].role != CUSTOMER_ACCOUNT:
        return 11, "INVALID_ORDER"
    if subtraders is None or parties[0].party_id not in subtraders:
        return 15, "PERMISSION_DENIED_FOR_CUSTOMER_ACCOUNT"
    return None


def load(keys_dir: Path, product: str) -> dict[str, frozenset[str]]:
    """account -> its sub-traders, for every account directory with a ``subtraders`` file."""
    out: dict[str, frozenset[str]] = {}
    for f in sorted((keys_dir / product).glob(f"*/{FILE}")):
        ids = [line.strip() for line in f.read_text().splitlines() if line.strip()]
        for s in ids:
            try:
                uuid.UUID(s)
            except ValueError:
                raise SimulatorError(f"{f}: sub-trader {s!r} is not a UUID") from None
        if not ids:
            raise SimulatorError(f"{f}: an FCM member needs at least one sub-trader UUID")
        out[f.parent.name] = frozenset(ids)
    return out
