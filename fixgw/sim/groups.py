"""Order groups: a contracts limit over a rolling 15-second window of fills (pure core).

Kalshi's order groups are a kill switch: once the contracts filled by a group's
orders in the last 15 s exceed its limit (or the client triggers it, or lowers
the limit below what already traded), every resting order in the group is
canceled and new orders in it are refused until a Reset. This module keeps
the groups and answers UOG requests; the engine does the canceling.
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

from fixgw.models.fix import BusinessMessageReject, OrderGroupAction, OrderGroupRequest, OrderGroupResponse

WINDOW = 15.0  # seconds
MAX_LIMIT = 1_000_000


@dataclass
class Group:
    group_id: str
    account: str
    subaccount: int
    limit: int
    blocked: bool = False
    fills: deque[tuple[float, Decimal]] = field(default_factory=deque)

    def volume(self, now: float) -> Decimal:
        """Contracts filled in (now - 15 s, now]."""
        while self.fills and self.fills[0][0] <= now - WINDOW:
            self.fills.popleft()
        return sum((q for _, q in self.fills), Decimal(0))

    def exceeded(self, now: float) -> bool:
        return self.volume(now) > self.limit


class Groups:
    def __init__(self) -> None:
        self._groups: dict[tuple[str, str], Group] = {}

    def find(self, account: str, group_id: str | None, alloc_account: int | None) -> Group | None:
        """A group is only visible under the subaccount it was created for (else: not found)."""
        g = self._groups.get((account, group_id or ""))
        return g if g is not None and g.subaccount == (alloc_account or 0) else None

    def record_fill(self, account: str, group_id: str, qty: Decimal, now: float) -> Group | None:
        """Count a fill; return the group if this fill just pushed it over its limit."""
        g = self._groups.get((account, group_id))
        if g is None:
            return None
        g.fills.append((now, qty))
        if not g.blocked and g.exceeded(now):
            g.blocked = True
            return g
        return None

    def request(self, account: str, req: OrderGroupRequest,
                now: float) -> tuple[OrderGroupResponse | BusinessMessageReject, Group | None]:
        """Answer one UOG; the second item is a group whose resting orders must be canceled now."""
        act = req.action
        if act in (OrderGroupAction.CREATE, OrderGroupAction.UPDATE):
            if req.contracts_limit is None:
                return _reject(5, "MISSING_CONTRACTS_LIMIT", req.order_group_id), None
            if not 1 <= req.contracts_limit <= MAX_LIMIT:
                return _reject(0, "INVALID_CONTRACTS_LIMIT", req.order_group_id), None
        if act is OrderGroupAction.CREATE:
            g = Group(str(uuid.uuid4()), account, req.alloc_account or 0, req.contracts_limit)
            self._groups[(account, g.group_id)] = g
            return self._ok(g, req, limit=True), None
        if not req.order_group_id:
            return _reject(5, "MISSING_ORDER_GROUP_ID", None), None
        g = self.find(account, req.order_group_id, req.alloc_account)
        if g is None:
            return _reject(0, "ORDER_GROUP_NOT_FOUND", req.order_group_id), None
        cancel: Group | None = None
        if act is OrderGroupAction.RESET:
            # Kalshi's reset zeroes the matched-contracts counter as well as unblocking.
            g.blocked = False
            g.fills.clear()
        elif act is OrderGroupAction.DELETE:
            del self._groups[(account, g.group_id)]
            cancel = g
        elif act is OrderGroupAction.TRIGGER:
            g.blocked, cancel = True, g
        elif act is OrderGroupAction.UPDATE:
            g.limit = req.contracts_limit
            if g.exceeded(now):
                g.blocked, cancel = True, g
        return self._ok(g, req, limit=act is OrderGroupAction.UPDATE), cancel

    @staticmethod
    def _ok(g: Group, req: OrderGroupRequest, *, limit: bool) -> OrderGroupResponse:
        return OrderGroupResponse(order_group_id=g.group_id, action=req.action,
                                  contracts_limit=g.limit if limit else None,
                                  alloc_account=req.alloc_account)


def _reject(reason: int, text: str, ref_id: str | None) -> BusinessMessageReject:
    return BusinessMessageReject(ref_msg_type="UOG", reason=reason, ref_id=ref_id, text=text)
