"""Where an order -> ack round trip spends its time, fixgw against the bare client.

``python -m bench.stages [orders]`` runs the same set-up as :mod:`bench.rtt`
(IOC orders alternating with the bare QuickFIX client, same simulator) and
stamps each order at four points with one clock (``perf_counter_ns``):

* ``out``: the call until QuickFIX hands the message to ``toApp`` (checks,
  rate limiter, encoding, the message object, QuickFIX's own send work);
* ``wire``: ``toApp`` until ``fromApp`` receives the report (serialising, TLS,
  the simulator, parsing; the same work for both clients);
* ``in``: ``fromApp`` until the ack resolves (decoding, bookkeeping);
* ``wake``: the ack resolving until ``wait()`` returns in the caller.

It prints the median and p99 of each stage per client. The stamps wrap the
callbacks of subclasses, so each adds the cost of one Python call to both.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.bare import Bare, BareApp
from bench.rtt import PACE, SYMBOL, _pct
from fixgw import orders
from fixgw.adapter.application import GatewayApplication
from fixgw.adapter.gateway import Gateway
from fixgw.testing.launch import SimProcess, gateway_config, make_account

_now = time.perf_counter_ns
STAGES = ("out", "wire", "in", "wake", "total")


class _Stamps:
    def __init__(self) -> None:
        self.to_app = self.from_app = self.released = 0


_gw, _bare = _Stamps(), _Stamps()


class StampedApp(GatewayApplication):
    def toApp(self, message, session_id):
        _gw.to_app = _now()
        return super().toApp(message, session_id)

    def fromApp(self, message, session_id):
        _gw.from_app = _now()
        return super().fromApp(message, session_id)


class StampedBare(BareApp):
    def toApp(self, msg, sid):
        _bare.to_app = _now()

    def fromApp(self, msg, sid):
        _bare.from_app = _now()
        if msg.getField(11) == self.expect:
            _bare.released = _now()
            self.got.set()


def _stamp_resolve():
    resolve = orders.Ack.resolve

    def stamped(self, value):
        _gw.released = _now()
        return resolve(self, value)

    orders.Ack.resolve = stamped


def _row(t0: int, s: _Stamps, t1: int) -> tuple[float, ...]:
    return tuple(x / 1000 for x in (s.to_app - t0, s.from_app - s.to_app, s.released - s.from_app,
                                    t1 - s.released, t1 - t0))


def run(n: int = 2000, warmup: int = 200) -> dict[str, list[tuple[float, ...]]]:
    _stamp_resolve()
    root = Path(tempfile.mkdtemp(prefix="fixgw-stages-"))
    sim = SimProcess(root / "sim", log_messages=False)
    a = make_account(root / "keys", sim.keys, "event", account="bench")
    b = make_account(root / "keys", sim.keys, "event", account="bench-bare")
    sim.start()
    rows: dict[str, list] = {"fixgw": [], "bare": []}
    try:
        gw = Gateway(gateway_config(root / "gw", sim, [dict(name="nr", product="event", type="NR", account=a,
                                                            skip_pending=True)], tier="prime", log_messages=False),
                     application=StampedApp)
        gw.start()
        gw.wait_logged_on(timeout=20)
        bare = Bare(gateway_config(root / "bare", sim, [dict(name="bare", product="event", type="NR",
                                                             account=b, skip_pending=True)]), root / "bare")
        bare.app.__class__ = StampedBare
        bare.start()

        def ours():
            t0 = _now()
            gw.new_order("nr", SYMBOL, "buy", "0.01", 1, time_in_force="ioc").wait(10)
            t1 = _now()
            time.sleep(max(0.0, PACE - (t1 - t0) / 1e9))
            return _row(t0, _gw, t1)

        def theirs():
            t0 = _now()
            bare.order(str(uuid.uuid4()), SYMBOL, "1", "1")
            t1 = _now()
            time.sleep(max(0.0, PACE - (t1 - t0) / 1e9))
            return _row(t0, _bare, t1)

        for i in range(warmup + n):
            pair = (ours(), theirs()) if i % 2 else tuple(reversed((theirs(), ours())))
            if i >= warmup:
                rows["fixgw"].append(pair[0])
                rows["bare"].append(pair[1])
        gw.stop()
        bare.stop()
    finally:
        sim.stop()
        shutil.rmtree(root, ignore_errors=True)
    return rows


def main() -> None:
    rows = run(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
    print(f"{'stage':>6} {'fixgw p50':>10} {'bare p50':>9} {'diff':>6} {'fixgw p99':>10} {'bare p99':>9}  (us)")
    for k, name in enumerate(STAGES):
        f, b = [r[k] for r in rows["fixgw"]], [r[k] for r in rows["bare"]]
        print(f"{name:>6} {_pct(f, .5):10.0f} {_pct(b, .5):9.0f} {_pct(f, .5) - _pct(b, .5):+6.0f} "
              f"{_pct(f, .99):10.0f} {_pct(b, .99):9.0f}")


if __name__ == "__main__":
    main()
