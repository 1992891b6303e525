"""ExecutionReport -> REST Fill throughput against bare QuickFIX parsing of the same messages.

fixgw: split the raw string, decode a typed ExecutionReport (Decimal prices,
fee and collateral groups) and translate it to a REST ``Fill`` (the live path,
where subscribers get the typed report too); and the raw-text lane
(:mod:`fixgw.fastfill`) the recorder reads stored reports with. Baseline:
QuickFIX parsing the same string into a ``quickfix.Message`` with the same
dictionaries (the work a bare QuickFIX application gets for free before
``fromApp``) — no typed model, no translation.
"""

from __future__ import annotations

import time
import uuid

import quickfix as fix

from fixgw import fastfill, translate
from fixgw.adapter import encode as codec
from fixgw.fix import dictionary, codec as fields
from fixgw.models.fix import CollateralChange, ExecType, ExecutionReport, MiscFee, OrdStatus, Side
from fixgw.pricing import Units

N = 50_000


def sample_reports(n: int) -> list[str]:
    import datetime as dt
    from decimal import Decimal
    out = []
    t0 = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.timezone.utc)
    for i in range(n):
        er = ExecutionReport(
            order_id=str(uuid.uuid4()), exec_id=f"{1000 + i};{5000 + i}", exec_type=ExecType.TRADE,
            ord_status=OrdStatus.PARTIALLY_FILLED, side=Side.BUY if i % 2 else Side.SELL,
            symbol=f"KXHIGHNY-26NOV21-T{50 + i % 10}", cum_qty=Decimal("4"), leaves_qty=Decimal("6"),
            cl_ord_id=str(uuid.uuid4()), order_qty=Decimal("10"), price=Decimal("0.60"), avg_px=Decimal("0.60"),
            last_px=Decimal("0.60"), last_qty=Decimal("4"), last_mkt=0, transact_time=t0 + dt.timedelta(seconds=i),
            long_qty=Decimal("4"), short_qty=Decimal("0"), trd_match_id=str(uuid.uuid4()), aggressor=True,
            fees=(MiscFee(amount=Decimal("0.07"), currency="USD", fee_type="4", basis=0),),
            collateral=(CollateralChange(amount=Decimal("-2.47"), kind="BALANCE"),))
        msg_type, pairs = fields.encode(er, Units.CENTS)
        m = codec.to_message(msg_type, pairs, "event")
        h = m.getHeader()
        for tag, value in ((8, "FIXT.1.1"), (49, "KalshiNR"), (56, "key"), (34, str(i + 2)),
                           (52, "20261121-12:00:00.000")):
            h.setField(fix.StringField(tag, value))
        out.append(m.toString())
    return out


def fixgw_rate(raws: list[str]) -> float:
    decode, fill = fields.decode_raw_with_unknown, translate.fill_from_report
    t = time.perf_counter()
    for raw in raws:
        fill(decode(raw, Units.CENTS)[0])
    return len(raws) / (time.perf_counter() - t)


def lane_rate(raws: list[str]) -> float:
    fill, cents = fastfill.fill, Units.CENTS
    t = time.perf_counter()
    for raw in raws:
        fill(raw, cents)
    return len(raws) / (time.perf_counter() - t)


def bare_rate(raws: list[str]) -> float:
    tdd = fix.DataDictionary(str(dictionary.transport_path()))
    add = fix.DataDictionary(str(dictionary.path("event")))
    t = time.perf_counter()
    for raw in raws:
        m = fix.Message(raw, tdd, add, False)
        m.getField(17)  # touch it, as fromApp would
    return len(raws) / (time.perf_counter() - t)


def parse_rate() -> float:
    """QuickFIX's own parse of ExecutionReport strings into Messages, best of three."""
    raws = sample_reports(N // 2)
    bare_rate(raws[:2000])
    return max(bare_rate(raws) for _ in range(3))


def run():
    raws = sample_reports(N)
    fixgw_rate(raws[:2000]), bare_rate(raws[:2000])  # warm up
    lane_rate(raws[:2000])
    ours = max(fixgw_rate(raws) for _ in range(3))
    lane = max(lane_rate(raws) for _ in range(3))
    bare = max(bare_rate(raws) for _ in range(3))
    yield ("er_to_fill_per_s", ours, "reports/s", bare, ours / bare)
    yield ("er_to_fill_lane_per_s", lane, "reports/s", bare, lane / bare)
