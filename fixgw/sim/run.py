"""Run the simulator in the foreground until SIGTERM/SIGINT."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

from fixgw.config import Product
from fixgw.sim import control
from fixgw.sim.exchange import SimOptions, Simulator


def handler(sim: Simulator):
    def handle(req: dict) -> dict:
        cmd = req.get("cmd")
        if cmd == "status":
            return {"sessions": sim.status()}
        if cmd == "send":
            fields = [(int(t), str(v)) for t, v in req["fields"]]
            return {"seq": sim.send(req["target"], req["api_key_id"], str(req["msg_type"]), fields)}
        if cmd == "received":
            return {"count": len(sim.app.received)}
        if cmd == "refusals":
            return {"refusals": [list(r) for r in sim.app.refusals]}
        router = sim.app.router
        if cmd == "ledger":
            engine = router.engines[Product(req["product"])]
            with router.lock:
                return {"fills": engine.ledger.fills(req["account"]),
                        "positions": engine.ledger.positions(req["account"])}
        if cmd == "settle":
            product = Product(req.get("product", "event"))
            with router.lock:
                router.route(product, router.engines[product].settle(req["symbol"], req["result"]))
            return {}
        raise ValueError(f"unknown command {cmd!r}; known: status, send, received, refusals, ledger, settle")
    return handle


def run(opts: SimOptions, control_path: Path, ready_out=sys.stdout) -> int:
    sim = Simulator(opts).start()
    server = control.serve(control_path, handler(sim))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    ports = sorted({(s.product.value, s.target, s.port) for s in sim.sessions.values()})
    print(json.dumps({"ready": True, "control": str(control_path),
                      "ports": [{"product": p, "target": t, "port": n} for p, t, n in ports]}),
          file=ready_out, flush=True)
    stop.wait()
    server.shutdown()
    sim.stop()
    return 0
