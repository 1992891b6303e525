"""Schema profiles: the same REST models rendered as Kalshi returns them today, or as the seeds describe (pure core).

* ``default``: today's JSON, exactly what :mod:`fixgw.models.rest` dumps
  (``*_dollars`` strings, ``*_fp`` counts, no integer cents).
* ``seed``: the schema the seed documents were written against - OpenAPI
  3.8 GetPositionsResponse (seed 001) and the GET /fcm/positions example
  (seed 002): next to every ``*_dollars`` field its integer-cents twin
  (``total_traded``, ``market_exposure``, ``realized_pnl``, ``fees_paid``;
  ``total_cost``, ``event_exposure``), next to ``*_fp`` the integer count
  (``position``, ``total_cost_shares``), and ``resting_orders_count`` - the
  contracts still resting in the market (in the event, for event rows). Seed
  002 spells the event rows' field ``resting_order_count``; GET /fcm/positions
  bodies follow it, GET /portfolio/positions bodies follow 001. The WebSocket
  ``market_position`` message is seed 003's: money in integer centi-cents
  (:meth:`~fixgw.models.rest.MarketPositionUpdate.legacy`).

Integer cents are the dollar amount x 100 rounded half-even (Kalshi's
sub-penny amounts have no exact integer-cent form); integer counts are whole
contracts. A seed-profile positions body always has ``cursor`` (``""`` when
there is no next page: seed 002's example carries it, and Kalshi documents the
empty value as "no next page"). Bodies the seeds do not describe (fills, orders, settlements,
margin, balance, FcmFill) are the same in both profiles.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Iterable, Mapping

from fixgw.models.rest import EventPosition, MarketPosition, MarketPositionUpdate

PROFILES = ("default", "seed")
ZERO = Decimal(0)


def check(profile: str | None) -> str:
    profile = profile or "default"
    if profile not in PROFILES:
        raise ValueError(f"profile {profile!r} must be one of {', '.join(PROFILES)}")
    return profile


def cents(d: Decimal) -> int:
    return int((d * 100).to_integral_value(ROUND_HALF_EVEN))


def whole(d: Decimal) -> int:
    return int(d.to_integral_value(ROUND_HALF_EVEN))


def resting(orders: Iterable) -> dict[str, Decimal]:
    """Contracts still resting per market ticker, from REST Orders."""
    out: dict[str, Decimal] = {}
    for o in orders:
        if o.status == "resting":
            out[o.ticker] = out.get(o.ticker, ZERO) + o.remaining_count_fp
    return out


def dump(model: Any, profile: str | None = None) -> dict:
    """One model as JSON data (WebSocket market_position: centi-cents in the seed profile)."""
    if check(profile) == "seed" and isinstance(model, MarketPositionUpdate):
        return model.legacy()
    return json.loads(model.model_dump_json())


def market_position(p: MarketPosition, profile: str, resting_count: Decimal = ZERO) -> dict:
    row = json.loads(p.model_dump_json())
    if check(profile) == "default":
        return row
    return {"ticker": p.ticker, "exchange_index": p.exchange_index,
            "total_traded": cents(p.total_traded_dollars), "total_traded_dollars": row["total_traded_dollars"],
            "position": whole(p.position_fp), "position_fp": row["position_fp"],
            "market_exposure": cents(p.market_exposure_dollars),
            "market_exposure_dollars": row["market_exposure_dollars"],
            "realized_pnl": cents(p.realized_pnl_dollars), "realized_pnl_dollars": row["realized_pnl_dollars"],
            "resting_orders_count": whole(resting_count),
            "fees_paid": cents(p.fees_paid_dollars), "fees_paid_dollars": row["fees_paid_dollars"],
            "last_updated_ts": row["last_updated_ts"]}


def event_position(e: EventPosition, profile: str, resting_count: Decimal = ZERO, *, fcm: bool = False) -> dict:
    row = json.loads(e.model_dump_json())
    if check(profile) == "default":
        return row
    return {"event_ticker": e.event_ticker,
            "total_cost": cents(e.total_cost_dollars), "total_cost_dollars": row["total_cost_dollars"],
            "total_cost_shares": whole(e.total_cost_shares_fp), "total_cost_shares_fp": row["total_cost_shares_fp"],
            "event_exposure": cents(e.event_exposure_dollars), "event_exposure_dollars": row["event_exposure_dollars"],
            "realized_pnl": cents(e.realized_pnl_dollars), "realized_pnl_dollars": row["realized_pnl_dollars"],
            ("resting_order_count" if fcm else "resting_orders_count"): whole(resting_count),
            "fees_paid": cents(e.fees_paid_dollars), "fees_paid_dollars": row["fees_paid_dollars"]}


def positions(body: Mapping, profile: str | None = None, resting_counts: Mapping[str, Decimal] | None = None,
              *, fcm: bool = False) -> dict:
    """A positions body (:func:`fixgw.query.positions_body`) as JSON data in ``profile``.

    ``resting_counts`` (:func:`resting`) feeds the seed profile's resting_orders_count;
    ``fcm`` says the body answers GET /fcm/positions.
    """
    profile = check(profile)
    counts = resting_counts or {}
    events: dict[str, Decimal] = {}
    for ticker, n in counts.items():
        head, sep, _ = ticker.rpartition("-")
        events[head if sep else ticker] = events.get(head if sep else ticker, ZERO) + n
    out: dict = {}
    if body.get("cursor") or profile == "seed":  # seed 002 always shows it: "" = no next page
        out["cursor"] = body.get("cursor") or ""
    out["market_positions"] = [market_position(p, profile, counts.get(p.ticker, ZERO))
                               for p in body["market_positions"]]
    out["event_positions"] = [event_position(e, profile, events.get(e.event_ticker, ZERO), fcm=fcm)
                              for e in body["event_positions"]]
    return out
