"""The API server's own process (fixgw.api.worker) beside `fixgw serve`'s recorder: its death is loud,
and a new server follows the store from where it stands."""

from __future__ import annotations

import os
import re
import signal

from apiharness import Client, ServeProcess, serve_config, wait_for
from fixgw.signing import Signer, generate_keypair
from fixgw.testing.launch import SimProcess


def test_a_dead_api_server_process_stops_fixgw_serve_non_zero_naming_it(tmp_path):
    sim = SimProcess(tmp_path / "sim")
    priv, pub = generate_keypair(tmp_path / "reader.pem")
    cfg = serve_config(tmp_path, sim, f"sqlite:///{tmp_path / 'd.db'}", pub)
    sim.start()
    try:
        server = ServeProcess(cfg, tmp_path / "serve.log")
        client = Client(server.base, Signer.from_file(priv))
        assert client.get("/portfolio/fills").status_code == 200
        pid = int(re.search(r"\(server process ([0-9]+)\)", server.output()).group(1))
        os.kill(pid, signal.SIGKILL)
        rc = server.proc.wait(30)
    finally:
        sim.stop()
    assert rc != 0
    assert f"the API server process on 127.0.0.1:{server.base.rsplit(':', 1)[1]} (pid {pid}) exited with " \
           f"status -9" in server.output()


def test_across_restarts_nothing_is_lost_and_a_new_subscriber_starts_after_the_store(tmp_path):
    """What a subscriber sees when the server (here: all of `fixgw serve`) restarts: its connection
    ends; fills stored meanwhile (the recorder backfills them from KalshiDC) are on the REST paths;
    after subscribing again it gets each fill stored from then on, seq from 1."""
    from apiharness import Subscriber

    sim = SimProcess(tmp_path / "sim")
    priv, pub = generate_keypair(tmp_path / "reader.pem")
    cfg = serve_config(tmp_path, sim, f"sqlite:///{tmp_path / 'd.db'}", pub)
    sim.start()
    subs = []

    def fills(client):
        return client.get("/portfolio/fills", limit=1000).json()["fills"]

    def burst(n, symbol):
        sim.cmd(cmd="burst", account="alice", product="event", count=n, rate=200, symbol=symbol)

    try:
        first = ServeProcess(cfg, tmp_path / "serve1.log")
        client = Client(first.base, Signer.from_file(priv))
        subs.append(Subscriber(client).start())
        burst(3, "KXONE-26NOV21-T1")
        wait_for(lambda: len(subs[0].of("fill")) == 3, 30, "the first server's three fill frames")
        subs[0].stop.set()
        subs[0].thread.join(5)
        assert first.stop() == 0
        burst(2, "KXTWO-26NOV21-T1")  # while nothing records
        second = ServeProcess(cfg, tmp_path / "serve2.log")
        client = Client(second.base, Signer.from_file(priv))
        wait_for(lambda: len(fills(client)) == 5, 30, "the backfilled fills on REST")
        subs.append(Subscriber(client).start())
        burst(2, "KXTHREE-26NOV21-T1")
        wait_for(lambda: len(fills(client)) == 7, 30, "the new fills on REST")
        wait_for(lambda: len(subs[1].of("fill")) == 2, 30, "the second server's fill frames")
        subs[1].stop.set()
        subs[1].thread.join(5)
        assert second.stop() == 0
    finally:
        for s in subs:
            s.stop.set()
            s.thread.join(5)
        sim.stop()
    got = subs[1].of("fill")
    assert [f["seq"] for f in got] == [1, 2]
    assert {f["msg"]["market_ticker"] for f in got} == {"KXTHREE-26NOV21-T1"}
    assert [f["seq"] for f in subs[0].of("fill")] == [1, 2, 3]
