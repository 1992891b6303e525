"""Acceptance: `fixgw run` with [recorder] and [api] tables serves the same API next to order entry."""

from __future__ import annotations

import json
import select
import subprocess
import sys

from click.testing import CliRunner

from apiharness import ENV, Client, http, serve_config, wait_for
from fixgw.cli import cli
from fixgw.signing import Signer, generate_keypair
from fixgw.testing.launch import SimProcess, make_account

EV = "KXHIGHNY-26NOV21-T50"


def _config(tmp_path, sim, pub):
    """The recorder's sessions and [api] (as for fixgw serve) plus one order-entry session."""
    cfg = serve_config(tmp_path, sim, f"sqlite:///{tmp_path / 'run.db'}", pub)
    trader = make_account(tmp_path, sim.keys, "event", account="alice")
    cfg.write_text(cfg.read_text() + f"""
[[session]]
name = "event-nr"
product = "event"
type = "NR"
api_key_id = "{trader.api_key_id}"
private_key = "{trader.private_key}"
""")
    return cfg


def _run(tmp_path):
    """The simulator and `fixgw run` of :func:`_config`, up to its ready line:
    ``(sim, the API reader's key, config, process, ready line)``."""
    sim = SimProcess(tmp_path / "sim")
    priv, pub = generate_keypair(tmp_path / "reader.pem")
    cfg = _config(tmp_path, sim, pub)
    sim.start()
    proc = subprocess.Popen([sys.executable, "-m", "fixgw", "run", str(cfg)], stdout=subprocess.PIPE,
                            stderr=open(tmp_path / "run.stderr", "wb"), text=True, env=ENV)
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    if not ready:
        proc.kill()
        sim.stop()
        raise AssertionError((tmp_path / "run.stderr").read_text())
    return sim, priv, cfg, proc, json.loads(proc.stdout.readline())


def test_run_serves_the_recorder_and_meters_its_order_entry_session(tmp_path):
    sim, priv, cfg, proc, line = _run(tmp_path)
    try:
        assert line["sessions"] == ["event-nr"]
        client = Client(line["api"], Signer.from_file(priv))
        wait_for(lambda: "logged-on" in CliRunner().invoke(cli, ["status", "-c", str(cfg)]).output, 30,
                 "the order-entry session")
        out = CliRunner().invoke(cli, ["order", "-c", str(cfg), "event-nr", EV, "buy", "0.04", "2",
                                       "--cl-ord-id", "run-api-1"])
        assert out.exit_code == 0, out.output
        orders = wait_for(lambda: client.get("/portfolio/orders").json()["orders"], 30, "the recorded order")
        assert [(o["client_order_id"], o["status"], o["ticker"]) for o in orders] == [("run-api-1", "resting", EV)]
        text = http.get(line["api"] + "/metrics").text
        assert 'fixgw_order_ack_seconds_count{session="event-nr"} 1.0' in text
        assert 'fixgw_session_state{session="listener",state="logged-on"} 1.0' in text
        assert http.get(line["api"] + "/trade-api/v2/portfolio/orders").status_code == 401
    finally:
        proc.terminate()
        rc = proc.wait(30)
        sim.stop()
    assert rc == 0, (tmp_path / "run.stderr").read_text()


def test_a_dead_api_server_process_stops_fixgw_run_non_zero_naming_it(tmp_path):
    """Order entry and recording without the API they were configured with would be a silent
    failure: like a failed store, the server process's death stops `fixgw run` with exit 1."""
    import os
    import signal

    sim, _priv, _cfg, proc, line = _run(tmp_path)
    try:
        os.kill(line["api_pid"], signal.SIGKILL)
        rc = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        sim.stop()
    err = (tmp_path / "run.stderr").read_text()
    assert rc == 1, err
    port = line["api"].rsplit(":", 1)[1]
    assert f"the API server process on 127.0.0.1:{port} (pid {line['api_pid']}) exited with status -9" in err
