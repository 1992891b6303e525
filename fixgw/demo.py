"""`make demo`: the simulator and a gateway with all six order-entry/drop-copy sessions.

Everything runs locally on 127.0.0.1 over TLS with keys and certificates made
for this run under ``var/demo`` (recreated each time).
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from fixgw.gateway import Gateway
from fixgw.sim.launch import SimProcess, gateway_config, make_account
from fixgw.table import render

SIX = [("event", "NR"), ("event", "RT"), ("event", "DC"), ("margin", "NR"), ("margin", "RT"), ("margin", "DC")]
COLUMNS = ["name", "type", "target", "host", "port", "state", "next_out", "next_in", "last_error"]


def status_rows(gw: Gateway) -> list[dict]:
    return [s.as_dict() for s in gw.status()]


def main(root: Path = Path("var/demo")) -> int:
    shutil.rmtree(root, ignore_errors=True)
    sim = SimProcess(root / "sim")
    sessions = [dict(name=f"{p}-{k.lower()}", product=p, type=k, account=make_account(root / "keys", sim.keys, p))
                for p, k in SIX]
    print(f"simulator: TLS on 127.0.0.1, event ports {sim.ports['event']}-{sim.ports['event'] + 2}, "
          f"margin ports {sim.ports['margin']}-{sim.ports['margin'] + 2}; CA {sim.ca_file}")
    sim.start()
    try:
        started = time.perf_counter()
        with Gateway(gateway_config(root / "gateway", sim, sessions)) as gw:
            gw.wait_logged_on(timeout=30)
            print(f"\nall {len(sessions)} sessions logged on with signed Logons in "
                  f"{time.perf_counter() - started:.2f} s\n")
            print(render(status_rows(gw), COLUMNS))
        still = [x["session"] for x in sim.cmd(cmd="status")["sessions"] if x["logged_on"]]
        print(f"\nlogged out: the simulator now has {len(still)} sessions logged on")
        if still:
            return 1
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
