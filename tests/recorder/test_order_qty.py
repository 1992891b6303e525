"""The recorder's REST Orders know an order's initial quantity even when no report it stores says it.

Kalshi's default OrderQty(38) is CumQty + LeavesQty: an IOC that found nothing
is reported canceled with 38=0, and the only report with the asked quantity is
the pending one, which listeners and KalshiDC never carry. Found by the
randomized session: the recorder showed initial_count_fp "0.00" where the
gateway and the exchange showed "9.00". Listener and KalshiDC sessions now log
on with PreserveOriginalOrderQty (21008), and the simulator words each copy as
its receiving session asked.
"""

from __future__ import annotations

import io
import json
import time

from fixgw.adapter.gateway import Gateway
from fixgw.models.fix import ExecType
from fixgw.recorder.service import Recorder
from fixgw.recorder.store import open_store
from fixgw.recorder.views import Query
from fixgw.sim.ledger import Ledger as SimLedger
from harness import gateway_config, make_account

EV = "KXHIGHNY-26NOV21-T50"


def wait_for(predicate, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_an_unfilled_ioc_keeps_its_initial_count_in_the_recorder(tmp_path, sim):
    keys = {n: make_account(tmp_path, sim.keys, "event", account="erin") for n in ("nr", "rt", "dc")}
    sim.start()
    url = f"sqlite:///{tmp_path / 'erin.db'}"
    store = open_store(url)
    said = io.StringIO()
    recorder = Recorder(gateway_config(tmp_path / "rec", sim, [
        dict(name="listener", product="event", type="RT", listener=True, account=keys["rt"]),
        dict(name="dc", product="event", type="DC", account=keys["dc"])]), store, account="erin",
        flush_s=0.01, out=said).start()
    gw = Gateway(gateway_config(tmp_path / "erin", sim, [dict(name="erin-nr", product="event", type="NR",
                                                             account=keys["nr"])], user_id=SimLedger.user_id("erin")))
    try:
        gw.start()
        for g in (gw, recorder.gateway):
            g.wait_logged_on(timeout=20)
        wait_for(lambda: "recording from the live stream" in said.getvalue(), "the live stream")
        ioc = gw.new_order("erin-nr", EV, "buy", "0.10", 9, time_in_force="ioc").wait(10)
        assert ioc.exec_type is ExecType.CANCELED and ioc.cum_qty == 0
        final = set(sim.cmd(cmd="dropcopy", account="erin")["exec_ids"])
        wait_for(lambda: store.exec_ids("erin", "event") == final, "the recorder to store the report")
        theirs = sim.cmd(cmd="ledger", product="event", account="erin")["orders"]
        ours = [json.loads(o.model_dump_json()) for o in Query(store, "erin", user_id=theirs[0]["user_id"]).orders()]
        assert [o["initial_count_fp"] for o in ours] == ["9.00"] == [o["initial_count_fp"] for o in theirs]
        [gateway] = [json.loads(o.model_dump_json()) for o in gw.orders()]
        diff = {k: (ours[0].get(k), gateway.get(k), theirs[0].get(k)) for k in ours[0].keys() | gateway.keys()
                | theirs[0].keys() if not ours[0].get(k) == gateway.get(k) == theirs[0].get(k)}
        assert diff == {}, "(recorder, gateway, exchange)"
    finally:
        gw.stop()
        recorder.stop()
        store.close()
