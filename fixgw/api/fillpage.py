"""GET /portfolio/fills for event contracts: one page read from the store's key, each fill written as JSON text.

The generic view (:meth:`fixgw.recorder.views.Query.fills`) decodes every stored
report into a typed ExecutionReport and pages by counting rows from the first;
a page of 1,000 fills near the end of a big store decoded the whole store. Here:

* the cursor is the store key ``(exchange_index, clock, event)`` of the page's
  last report, so the next page's read starts right after it in the store's
  index (the rows before it are never read);
* the store keeps Trade reports only (in SQL) and hands over each row's key and
  text (:meth:`~fixgw.recorder.sqlbase.SqlReads.texts`), ``limit + 1`` rows per
  query: the one past the page says whether there is a next one;
* each fill's JSON text is written from the stored text by
  :func:`fixgw.fastfill.fill_json` (property-tested equal to the model path's
  ``model_dump_json()``, which it falls back to for anything unusual), and the
  body is those texts joined: no model, no encoder pass;
* a report carrying parties (453) is decoded in full, so a sub-trader's fills stay
  out of the member's own list exactly as in the view.

The rows, their order and their filters are the view's: ticker, subaccount,
event_ticker, order_id, min_ts/max_ts inclusive on whole seconds of the fill time.
"""

from __future__ import annotations

import json
import logging

from fixgw import fastfill, translate
from fixgw.fix import codec, tags
from fixgw.api.params import Params, bad, decode, encode
from fixgw.errors import DecodeError
from fixgw.positions import event_ticker as event_of
from fixgw.pricing import Units

log = logging.getLogger("fixgw.api")
TAG = "fill"
_PARTIES = f"\x01{tags.NO_PARTY_IDS}="


def key_cursor(key: tuple[int, int, int]) -> str:
    return encode(TAG, ".".join(map(str, key)))


def key_of(cursor: str) -> tuple[int, int, int]:
    parts = decode(TAG, cursor).split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise bad("cursor", f"{cursor!r} is not a cursor this server returned")
    return int(parts[0]), int(parts[1]), int(parts[2])


def _fill(raw: str, units: Units) -> tuple[str, int | None, str] | None:
    """``(order_id, second, JSON text)`` of the member's own Fill of one stored report (its prices
    in ``units``, as stored with it), or None (not a Trade, or a sub-trader's)."""
    if _PARTIES not in raw:
        return fastfill.fill_json(raw, units)
    er = codec.decode_raw(raw, units)
    return None if er.subtrader is not None else fastfill.as_json(translate.fill_from_report(er))


def _inside(second: int | None, p: Params) -> bool:
    if p.min_ts is None and p.max_ts is None:
        return True
    return second is not None and (p.min_ts is None or second >= p.min_ts) and (p.max_ts is None or second <= p.max_ts)


def rows(src, p: Params, after: tuple[int, int, int] | None = None, size: int = 1000):
    """``(key, JSON text)`` of every matching fill after the key ``after``, in store order
    (``size``: rows per store query)."""
    for index, clock, event, exec_id, symbol, raw, units in src.store.texts(
            src.account, "event", ticker=p.ticker, subaccount=p.subaccount, after=after, trades=True, size=size):
        if p.event_ticker and event_of(symbol) != p.event_ticker:
            continue
        try:
            made = _fill(raw, units)
        except (DecodeError, ValueError) as e:  # as the view does: name it, serve the rest
            log.warning("skipped stored report ExecID %s (%s, event): %s", exec_id, src.account, e)
            continue
        if made is None or (p.order_id is not None and made[0] != p.order_id) or not _inside(made[1], p):
            continue
        yield (index, clock, event), made[2]


def answer(src, p: Params) -> str:
    """The response body, already JSON: each fill's text joined (what ``FillsResponse.model_dump_json()``
    gives for the same fills, byte for byte)."""
    after = key_of(p.cursor) if p.cursor else None
    page, more, last = [], False, None
    for key, text in rows(src, p, after, p.limit + 1):
        if len(page) == p.limit:
            more = True
            break
        page.append(text)
        last = key
    cursor = key_cursor(last) if more else ""
    return f'{{"fills":[{",".join(page)}],"cursor":{json.dumps(cursor)}}}'
