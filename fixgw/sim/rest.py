"""The simulator's Kalshi REST endpoints, answered from its own ledger (pure core).

``GET /trade-api/v2/portfolio/fills`` and ``/portfolio/positions`` as Kalshi
serves them, signed the same way (:mod:`fixgw.api.auth`) with any key the
simulator has registered; the key's account is whose books are read. This is
what ``fixgw reconcile`` is tested against: the numbers come from
:class:`fixgw.sim.ledger.Ledger`, written from the rules alone, never from
the gateway's views. Positions are those of one subaccount (``subaccount``,
default 0), as the ledger keeps them.
"""

from __future__ import annotations

from typing import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fixgw.api import rest
from fixgw.api.auth import Refusal, Verifier
from fixgw.api.rest import ApiError

FILLS = frozenset({"ticker", "order_id", "min_ts", "max_ts", "limit", "cursor", "subaccount"})
POSITIONS = frozenset({"ticker", "event_ticker", "limit", "cursor", "subaccount"})


def build(verifier: Verifier, account_of: Callable[[str], str],
          ledger: Callable[[str, int | None], dict]) -> Starlette:
    """``ledger(account, subaccount)`` -> the simulator's ``{"fills": [...], "positions": {...}}``
    (subaccount None: fills of every subaccount, positions of the primary one)."""

    def answer(request: Request, allowed: frozenset[str], body: Callable[[dict, rest.Params], dict]):
        who = verifier.check(request.headers.get, request.method, request.url.path)
        try:
            if isinstance(who, Refusal):
                raise ApiError(401, who.code, who.message)
            p = rest.parse(request.query_params, allowed)
            return JSONResponse(body(ledger(account_of(who), p.subaccount), p))
        except ApiError as e:
            return JSONResponse(e.body(), status_code=e.status)

    def fills(books: dict, p: rest.Params) -> dict:
        rows = [f for f in books["fills"]
                if (p.ticker is None or f["ticker"] == p.ticker)
                and (p.order_id is None or f["order_id"] == p.order_id)
                and (p.min_ts is None or f["ts"] >= p.min_ts) and (p.max_ts is None or f["ts"] <= p.max_ts)]
        items, cursor = rest.page(rows, p)
        return {"fills": items, "cursor": cursor}

    def positions(books: dict, p: rest.Params) -> dict:
        pos = books["positions"]
        market = [m for m in pos["market_positions"] if p.ticker is None or m["ticker"] == p.ticker]
        items, cursor = rest.page(market, p)
        return {"market_positions": items, "event_positions": pos["event_positions"], "cursor": cursor}

    async def get_fills(request: Request) -> Response:
        return answer(request, FILLS, fills)

    async def get_positions(request: Request) -> Response:
        return answer(request, POSITIONS, positions)

    return Starlette(routes=[Route(rest.PREFIX + "/portfolio/fills", get_fills),
                             Route(rest.PREFIX + "/portfolio/positions", get_positions)])
