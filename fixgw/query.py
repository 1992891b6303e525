"""GET /portfolio/positions and GET /fcm/positions from a ledger: filters and pages (pure core).

Both the order-entry gateway and the recorder answer positions queries through
:func:`positions_body`, so their bodies are equal by construction.

Parameters as Kalshi documents them: ``ticker``; ``event_ticker`` (a
comma-separated list, at most 10); ``count_filter`` (comma-separated
``position``/``total_traded``: keep market rows where any of those is
non-zero); ``settlement_status`` ``unsettled`` (default) / ``settled`` / ``all``;
``limit`` 1-1000 (default 100); ``cursor``. Where Kalshi is silent, fixgw's
rules: market rows sort by ticker; the cursor is the last ticker of the page
(empty when there is no next page, and then left out of the body); event rows
are the roll-ups of the market rows on the page (Kalshi's SDK notes that page
boundaries cut the aggregate); a settled market's row shows its closed
position (0) and the realized PnL including the settlement.
"""

from __future__ import annotations


from fixgw.models.rest import EventPosition, MarketPosition
from fixgw.positions import Ledger, event_ticker as event_of, roll_up

STATUSES = ("unsettled", "settled", "all")
COUNT_FILTERS = ("position", "total_traded")


def positions_body(ledger: Ledger, subaccount: int = 0, *, ticker: str | None = None,
                   event_ticker: str | None = None, count_filter: str | None = None,
                   settlement_status: str | None = None, limit: int | None = None,
                   cursor: str | None = None, whole: bool = False) -> dict:
    """``{"cursor"?, "market_positions": [...], "event_positions": [...]}`` of REST models.

    ``whole``: every row in one body, no page (an export or a reconciliation, not REST)."""
    status = settlement_status or "unsettled"
    if status not in STATUSES:
        raise ValueError(f"settlement_status {status!r} must be one of {', '.join(STATUSES)}")
    limit = 100 if limit is None else limit
    if not 1 <= limit <= 1000:
        raise ValueError(f"limit {limit} must be 1-1000")
    events = set(event_ticker.split(",")) if event_ticker else None
    if events is not None and len(events) > 10:
        raise ValueError("event_ticker takes at most 10 event tickers")
    filters = [f for f in (count_filter or "").split(",") if f]
    for f in filters:
        if f not in COUNT_FILTERS:
            raise ValueError(f"count_filter {f!r} must be one of {', '.join(COUNT_FILTERS)}")
    rows: list[MarketPosition] = []
    for sub, t in sorted(ledger.events, key=lambda k: k[1]):
        if sub != subaccount or (ticker is not None and t != ticker) \
                or (events is not None and event_of(t) not in events) or (cursor and t <= cursor):
            continue
        settled = (sub, t) in ledger.settled
        if (status == "unsettled" and settled) or (status == "settled" and not settled):
            continue
        row = ledger.market_position(sub, t)
        if filters and not any((row.position_fp if f == "position" else row.total_traded_dollars) != 0
                               for f in filters):
            continue
        rows.append(row)
    page, more = (rows, False) if whole else (rows[:limit], len(rows) > limit)
    body: dict = {"market_positions": page, "event_positions": _events(ledger, subaccount, page)}
    if more:
        body = {"cursor": page[-1].ticker, **body}
    return body


def _events(ledger: Ledger, subaccount: int, rows: list[MarketPosition]) -> list[EventPosition]:
    groups: dict[str, list] = {}
    for row in rows:
        groups.setdefault(event_of(row.ticker), []).append(ledger.events[(subaccount, row.ticker)])
    return roll_up(groups)
