"""``fixgw reconcile``: the recorder's books against Kalshi's REST answers (pure core).

Both sides are REST JSON: Kalshi's from ``GET /portfolio/fills`` and
``/portfolio/positions`` (every page, signed with the account's REST key),
the recorder's from :mod:`fixgw.recorder.views`. A break is one difference,
named by ticker:

* a fill (by fill_id) on one side only, or one whose count, price, fee, side,
  taker flag, order or time differ;
* a market position on one side only, or one whose position, exposure,
  realized PnL, fees or total traded differ.

Times are compared as instants (``...50.310Z`` and ``...50.31Z`` are the same).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from fixgw.api import auth
from fixgw.signing import Signer

FILL_FIELDS = ("ticker", "order_id", "outcome_side", "book_side", "count_fp", "yes_price_dollars",
               "no_price_dollars", "fee_cost", "is_taker", "created_time", "subaccount_number")
POSITION_FIELDS = ("position_fp", "market_exposure_dollars", "realized_pnl_dollars", "fees_paid_dollars",
                   "total_traded_dollars")


@dataclass(frozen=True)
class Break:
    what: str  # "fill" | "position"
    ticker: str
    text: str

    def __str__(self) -> str:
        return f"BREAK {self.what} {self.ticker}: {self.text}"


class Kalshi:
    """A signed REST client for one API key (httpx)."""

    def __init__(self, base_url: str, key_id: str, signer: Signer, *, timeout: float = 30.0):
        self.base, self.key_id, self.signer = base_url.rstrip("/"), key_id, signer
        self.path = urlsplit(self.base).path
        self.http = httpx.Client(timeout=timeout)

    def get(self, path: str, **params) -> dict:
        headers = auth.headers(self.signer, self.key_id, "GET", self.path + path)
        r = self.http.get(self.base + path, params={k: v for k, v in params.items() if v is not None},
                          headers=headers)
        if r.status_code != 200:
            try:
                err = r.json()["error"]
                why = f"{err.get('code')}: {err.get('message')}"
            except (ValueError, KeyError, TypeError):
                why = r.text[:200]
            raise httpx.HTTPStatusError(f"GET {self.base + path} answered {r.status_code} ({why})",
                                        request=r.request, response=r)
        return r.json()

    def walk(self, path: str, key: str, **params) -> tuple[list, dict]:
        """Every row of a paginated list, and the first page (for its other keys)."""
        rows, cursor, first = [], None, None
        while True:
            body = self.get(path, limit=1000, cursor=cursor, **params)
            first = first or body
            rows += body.get(key) or []
            cursor = body.get("cursor")
            if not cursor:
                return rows, first

    def close(self) -> None:
        self.http.close()


def _same(a, b) -> bool:
    if isinstance(a, str) and isinstance(b, str) and a.endswith("Z") and b.endswith("Z"):
        try:
            return dt.datetime.fromisoformat(a) == dt.datetime.fromisoformat(b)
        except ValueError:
            pass
    return a == b


def compare_fills(ours: list[dict], theirs: list[dict]) -> list[Break]:
    mine = {f["fill_id"]: f for f in ours}
    kalshi = {f["fill_id"]: f for f in theirs}
    out = []
    for fid, f in kalshi.items():
        if fid not in mine:
            out.append(Break("fill", f["ticker"], f"fill {fid} ({f['count_fp']} @ {f['yes_price_dollars']}, "
                                                  f"{f['created_time']}) is at Kalshi, not in the recorder"))
            continue
        diff = [(k, mine[fid].get(k), f.get(k)) for k in FILL_FIELDS if not _same(mine[fid].get(k), f.get(k))]
        if diff:
            out.append(Break("fill", f["ticker"], f"fill {fid}: " + "; ".join(
                f"{k} recorder {a} / Kalshi {b}" for k, a, b in diff)))
    for fid, f in mine.items():
        if fid not in kalshi:
            out.append(Break("fill", f["ticker"], f"fill {fid} ({f['count_fp']} @ {f['yes_price_dollars']}, "
                                                  f"{f['created_time']}) is in the recorder, not at Kalshi"))
    return out


def compare_positions(ours: list[dict], theirs: list[dict]) -> list[Break]:
    mine = {p["ticker"]: p for p in ours}
    kalshi = {p["ticker"]: p for p in theirs}
    out = []
    for ticker in sorted(mine.keys() | kalshi.keys()):
        a, b = mine.get(ticker), kalshi.get(ticker)
        if a is None or b is None:
            held = a or b
            side = "Kalshi" if a is None else "the recorder"
            out.append(Break("position", ticker, f"only {side} has it (position {held['position_fp']})"))
            continue
        diff = [(k, a.get(k), b.get(k)) for k in POSITION_FIELDS if not _same(a.get(k), b.get(k))]
        if diff:
            out.append(Break("position", ticker, "; ".join(f"{k} recorder {x} / Kalshi {y}" for k, x, y in diff)))
    return out
