"""`make demo`: the simulator, a gateway with all six sessions, a few trades, the drop copy.

Everything runs locally on 127.0.0.1 over TLS with keys and certificates made
for this run under ``var/demo`` (recreated each time). alice's gateway runs
NR, RT and DC on both the event-contract and the margin simulator; bob's runs
one NR session per product and takes the other side of her trades; alice's
recorder (a listener and a KalshiDC session per product, keys of their own)
writes her drop copy to SQLite. The fills and positions printed at the end
are the JSON Kalshi's REST API returns.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

from fixgw.adapter.gateway import Gateway
from fixgw.models.rest import MarketPosition
from fixgw.recorder.service import Recorder
from fixgw.recorder.store import open_store
from fixgw.recorder.views import Query
from fixgw.testing.launch import SimProcess, gateway_config, make_account
from fixgw.table import render

SIX = [("event", "NR"), ("event", "RT"), ("event", "DC"), ("margin", "NR"), ("margin", "RT"), ("margin", "DC")]
COLUMNS = ["name", "type", "target", "host", "port", "state", "next_out", "next_in", "last_error"]
EVENT, MARGIN = "KXHIGHNY-26NOV21-T50", "BTC-PERP"


def status_rows(gw: Gateway) -> list[dict]:
    return [s.as_dict() for s in gw.status()]


def show(title: str, models) -> None:
    print(f"\n{title}")
    for m in models:
        print("  " + m.model_dump_json())


def trade(alice: Gateway, bob: Gateway) -> None:
    """A few orders: a resting offer, a partial fill, a NO buy, a cancel, and margin both ways."""
    bob.new_order("bob-event-nr", EVENT, "sell", "0.60", 10).wait()
    print(f"  alice buys 4 YES @ 0.60: {alice.new_order('alice-event-nr', EVENT, 'buy', '0.60', 4).wait().exec_type.name}")
    bob.new_order("bob-event-nr", EVENT, "buy", "0.35", 5).wait()
    print(f"  alice buys 3 NO @ 0.65 (sells YES @ 0.35): "
          f"{alice.new_order('alice-event-nr', EVENT, 'no', '0.35', 3).wait().exec_type.name}")
    rest = alice.new_order("alice-event-rt", EVENT, "buy", "0.20", 5)
    rest.wait()
    print(f"  alice cancels a resting bid: {alice.cancel('alice-event-rt', rest.request.cl_ord_id).wait().exec_type.name}")
    bob.new_order("bob-margin-nr", MARGIN, "ask", "101.2500", 2).wait()
    print(f"  alice bids 3 {MARGIN} @ 101.25: "
          f"{alice.new_order('alice-margin-nr', MARGIN, 'bid', '101.2500', 3).wait().exec_type.name}")
    bob.new_order("bob-margin-nr", MARGIN, "bid", "101.5000", 2).wait()
    print(f"  alice sells 2 @ 101.50: {alice.new_order('alice-margin-nr', MARGIN, 'ask', '101.5000', 2).wait().exec_type.name}")


def main(root: Path = Path("var/demo")) -> int:
    shutil.rmtree(root, ignore_errors=True)
    sim = SimProcess(root / "sim")
    alice = [dict(name=f"alice-{p}-{k.lower()}", product=p, type=k,
                  account=make_account(root / "keys", sim.keys, p, account="alice")) for p, k in SIX]
    bob = [dict(name=f"bob-{p}-nr", product=p, type="NR", use_dollars=True,
                account=make_account(root / "keys", sim.keys, p, account="bob")) for p in ("event", "margin")]
    recording = [dict(name=f"rec-{p}-{k.lower()}", product=p, type=k, listener=(k == "NR"),
                      account=make_account(root / "keys", sim.keys, p, account="alice"))
                 for p in ("event", "margin") for k in ("NR", "DC")]
    print(f"simulator: TLS on 127.0.0.1, event ports {sim.ports['event']}-{sim.ports['event'] + 2}, "
          f"margin ports {sim.ports['margin']}-{sim.ports['margin'] + 2}; CA {sim.ca_file}")
    sim.start()
    store = open_store(f"sqlite:///{root / 'dropcopy.db'}")
    recorder = Recorder(gateway_config(root / "recorder", sim, recording), store, account="alice",
                        out=open(root / "recorder.log", "w"))
    try:
        recorder.start()
        recorder.gateway.wait_logged_on(timeout=30)
        started = time.perf_counter()
        with Gateway(gateway_config(root / "alice", sim, alice)) as gw, \
                Gateway(gateway_config(root / "bob", sim, bob)) as other:
            sub = gw.subscribe()
            gw.wait_logged_on(timeout=30)
            other.wait_logged_on(timeout=30)
            print(f"\nall {len(alice)} of alice's sessions logged on with signed Logons in "
                  f"{time.perf_counter() - started:.2f} s\n")
            print(render(status_rows(gw), COLUMNS))
            print("\ntrading against bob:")
            trade(gw, other)
            gw.dispatcher.flush()
            fills = []
            while True:
                try:
                    event = sub.get(timeout=0.2)
                except Exception:
                    break
                if event.fill is not None:
                    fills.append(event.fill)
            show("alice's fills (GET /portfolio/fills and /margin/fills shapes):", fills)
            positions = gw.positions()
            show("alice's market_positions (GET /portfolio/positions):", positions["market_positions"])
            show("alice's event_positions:", positions["event_positions"])
            show("alice's margin positions (GET /margin/positions):", gw.margin_positions())
            show("alice's margin orders (GET /margin/orders):", gw.margin_orders())
            exchange = sim.cmd(cmd="ledger", product="event", account="alice")["positions"]["market_positions"]
            # compare as REST models: the exchange writes times with 3 fractional digits, fixgw like
            # Kalshi's REST API (trailing zeros trimmed); the values must be equal either way
            same = dump(positions["market_positions"]) == dump(MarketPosition.model_validate(p) for p in exchange)
            print(f"\nthe exchange's own ledger agrees with alice's positions: {'yes' if same else 'NO'}")
            recorder.flush()
            recorded = Query(store, "alice", "event").positions()
            show(f"positions derived from the drop copy recorded in {root / 'dropcopy.db'} "
                 f"({store.count('alice')} reports):", recorded["market_positions"])
            margin = Query(store, "alice", "margin").positions()["positions"]
            agree = (dump(recorded["market_positions"]) == dump(positions["market_positions"])
                     and dump(recorded["event_positions"]) == dump(positions["event_positions"])
                     and dump(margin) == dump(gw.margin_positions())
                     and dump(Query(store, "alice", "margin").orders()) == dump(gw.margin_orders()))
            print(f"\nthe recorder's positions and margin orders equal the order-entry gateway's: "
                  f"{'yes' if agree else 'NO'}")
            same = same and agree
        recorder.stop()
        still = [x["session"] for x in sim.cmd(cmd="status")["sessions"] if x["logged_on"]]
        print(f"\nlogged out: the simulator now has {len(still)} sessions logged on")
        if still or not same:
            return 1
    finally:
        recorder.stop()
        store.close()
        sim.stop()
    return 0


def dump(models) -> list:
    return [json.loads(m.model_dump_json()) for m in models]


if __name__ == "__main__":
    sys.exit(main())
