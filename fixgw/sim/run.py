"""Run the simulator in the foreground until SIGTERM/SIGINT."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path

from decimal import Decimal

from fixgw.config import Product
from fixgw.fix import tags
from fixgw.sim.book import owner
from fixgw.sim import control
from fixgw.sim.exchange import SimOptions, Simulator
from fixgw.sim.faults import Fault


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
        if cmd == "ledger":  # "subtrader": one FCM sub-trader's books
            engine = router.engines[Product(req["product"])]
            name = owner(req["account"], req.get("subtrader"))
            with router.locked():
                out = {"fills": engine.ledger.fills(name), "positions": engine.ledger.positions(name),
                       "settlements": engine.ledger.settlements(name),
                       "balance": engine.cash.balance(name, Decimal(str(req.get("start", "0")))),
                       "user_id": engine.ledger.user_id(req["account"])}
                out["orders"] = engine.ledger.margin_orders(req["account"]) if engine.product == "margin" \
                    else engine.ledger.event_orders(name)
                return out
        if cmd == "dropcopy":
            with router.locked():
                return {"exec_ids": router.dropcopy.exec_ids(req["account"], req.get("product", "event"))}
        if cmd == "burst":
            product = Product(req.get("product", "event"))
            threading.Thread(target=router.burst, daemon=True, name="sim-burst", args=(
                product, req["account"], int(req["count"]), float(req.get("rate", 1000)),
                req.get("symbol", "KXBURST-26NOV21-T50"))).start()
            return {}
        if cmd == "withhold":
            key = (req["account"], Product(req.get("product", "event")))
            with router.locked():
                (router.withheld.add if req.get("on", True) else router.withheld.discard)(key)
            return {}
        if cmd == "duplicate":
            router.duplicate_replays = bool(req.get("on", True))
            return {}
        if cmd == "advance":
            router.clock_offset += float(req["seconds"])
            return {"offset": router.clock_offset}
        if cmd == "drop":
            sim.app.drop(sim.session(req["target"], req["api_key_id"]).getSessionID())
            return {}
        if cmd == "corrupt":  # a report whose OrdStatus is not a valid value
            return {"seq": sim.send(req["target"], req["api_key_id"], "8", [
                (tags.ORDER_ID, "corrupt"), (tags.EXEC_ID, "1;1"), (tags.EXEC_TYPE, "F"), (tags.ORD_STATUS, "Z"),
                (tags.SIDE, "1"), (tags.SYMBOL, "KXCORRUPT"), (tags.CUM_QTY, "0"), (tags.LEAVES_QTY, "0")])}
        if cmd == "expire":  # GTD/Day orders whose time has come (after "advance", say)
            product = Product(req.get("product", "event"))
            with router.locked():
                router.route(product, router.engines[product].expire())
            return {}
        if cmd == "fault":  # spoil the next Trade reports to some sessions (fixgw.sim.faults)
            return {"armed": router.faults.arm(Fault.from_request(req))}
        if cmd == "faults":
            with router.faults.lock:
                return {"applied": list(router.faults.applied), "armed": len(router.faults.armed)}
        if cmd == "settle":
            product = Product(req.get("product", "event"))
            with router.locked():
                router.route(product, router.engines[product].settle(
                    req["symbol"], req["result"], Decimal(str(req["value"])) if req.get("value") is not None else None))
            return {}
        raise ValueError(f"unknown command {cmd!r}; known: status, send, received, refusals, ledger, expire, settle, dropcopy, burst, withhold, duplicate, advance, drop, corrupt, fault, faults")
    return handle


def rest_server(sim: Simulator, keys_dir: Path, port: int):
    """The ledger's REST endpoints on 127.0.0.1:``port`` (uvicorn in a thread); returns the server."""
    import uvicorn

    from fixgw.api.auth import Verifier
    from fixgw.sim import rest
    from fixgw.sim.exchange import register_keys

    accounts = {key_id: account for (_, key_id), (_, account) in register_keys(keys_dir).items()}
    router = sim.app.router

    def ledger(account: str, subaccount: int | None, subtrader: str | None = None) -> dict:
        engine = router.engines[Product.EVENT]
        name = owner(account, subtrader)
        with router.locked():
            return {"fills": engine.ledger.fills(name, subaccount),
                    "positions": engine.ledger.positions(name, subaccount or 0),
                    "balance": engine.cash.balance(name)}

    app = rest.build(Verifier(sim.public_keys), accounts.__getitem__, ledger)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    threading.Thread(target=server.run, name="sim-rest", daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server


def run(opts: SimOptions, control_path: Path, ready_out=sys.stdout, rest_port: int | None = None) -> int:
    sim = Simulator(opts).start()
    server = control.serve(control_path, handler(sim))
    rest = rest_server(sim, opts.keys_dir, rest_port) if rest_port is not None else None
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    ports = sorted({(s.product.value, s.target, s.port) for s in sim.sessions.values()})
    print(json.dumps({"ready": True, "control": str(control_path), "rest_port": rest_port,
                      "ports": [{"product": p, "target": t, "port": n} for p, t, n in ports]}),
          file=ready_out, flush=True)
    stop.wait()
    if rest is not None:
        rest.should_exit = True
    server.shutdown()
    sim.stop()
    return 0
