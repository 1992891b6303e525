"""Order -> ack round trip through fixgw's API against a bare QuickFIX initiator.

Both talk TLS to the same simulator process on 127.0.0.1 with their own keys,
and send the same NewOrderSingle: an IOC that finds nothing to trade, so the
exchange answers with one Canceled report and the book never grows. fixgw's
path includes validation, the rate limiter, encoding, decoding a typed
ExecutionReport and resolving the ack; the bare one builds the message by hand
and wakes on the raw ClOrdID. The two alternate order by order so drift hits both.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from bench.bare import Bare
from fixgw.adapter.gateway import Gateway
from fixgw.testing.launch import SimProcess, gateway_config, make_account

# 4,000 orders each: a p99 from 2,400 swung by up to 0.09 between two identical bare clients here,
# from 4,000 by up to 0.06 (its 40 slowest samples are what a VM hiccup lands on).
ROUNDS, PER_ROUND, WARMUP = 10, 400, 200
PACE = 0.004  # seconds per order: 250 orders/s stays inside Kalshi's Prime budget (400 writes/s)
SYMBOL = "KXBENCH-26NOV21-T50"


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def run():
    root = Path(tempfile.mkdtemp(prefix="fixgw-bench-"))
    sim = SimProcess(root / "sim", log_messages=False)
    a = make_account(root / "keys", sim.keys, "event", account="bench")
    b = make_account(root / "keys", sim.keys, "event", account="bench-bare")
    sim.start()
    try:
        gw = Gateway(gateway_config(root / "gw", sim, [dict(name="nr", product="event", type="NR", account=a,
                                                            skip_pending=True)], tier="prime",
                                    log_messages=False))
        gw.start()
        gw.wait_logged_on(timeout=20)
        bare = Bare(gateway_config(root / "bare", sim, [dict(name="bare", product="event", type="NR",
                                                             account=b, skip_pending=True)]), root / "bare")
        bare.start()

        def ours() -> float:
            t = time.perf_counter()
            gw.new_order("nr", SYMBOL, "buy", "0.01", 1, time_in_force="ioc").wait(10)
            took = time.perf_counter() - t
            time.sleep(max(0.0, PACE - took))
            return took

        def theirs() -> float:
            t = time.perf_counter()
            bare.order(str(uuid.uuid4()), SYMBOL, "1", "1")
            took = time.perf_counter() - t
            time.sleep(max(0.0, PACE - took))
            return took

        for _ in range(WARMUP):
            ours(), theirs()
        fx, bx = [], []
        for i in range(ROUNDS * PER_ROUND):  # alternate order by order so drift hits both alike
            if i % 2:
                fx.append(ours())
                bx.append(theirs())
            else:
                bx.append(theirs())
                fx.append(ours())
        gw.stop()
        bare.stop()
    finally:
        sim.stop()
        shutil.rmtree(root, ignore_errors=True)
    for name, p in (("order_ack_rtt_p50_us", 0.50), ("order_ack_rtt_p99_us", 0.99)):
        ours_us, bare_us = _pct(fx, p) * 1e6, _pct(bx, p) * 1e6
        yield (name, ours_us, "us", bare_us, ours_us / bare_us)
    yield ("order_ack_rtt_mean_us", statistics.fmean(fx) * 1e6, "us", statistics.fmean(bx) * 1e6,
           statistics.fmean(fx) / statistics.fmean(bx))
