"""Acceptance: the drop-copy recorder against the simulator, through crashes, drops and refusals.

The recorder runs as a real ``fixgw record`` process with a listener session
and a KalshiDC session over TLS; the simulator's drop-copy window is the
oracle: in the end the stored ExecIDs equal the exchange's, with none missing
and none twice.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path


from fixgw.recorder.store import open_store
from harness import make_account, wait_for, drop_copy_sessions

ACCOUNT = "alice"


def write_config(tmp_path, sim, store_url: str) -> Path:
    listener = make_account(tmp_path, sim.keys, "event", account=ACCOUNT)
    dc = make_account(tmp_path, sim.keys, "event", account=ACCOUNT)
    cfg = tmp_path / "record.toml"
    cfg.write_text(f"""
environment = "local"
state_dir = "{tmp_path / 'rec'}"
ca_file = "{sim.ca_file}"
reconnect_interval = 1
port_base = {{ event = {sim.ports['event']}, margin = {sim.ports['margin']} }}

[recorder]
store = "{store_url}"
account = "{ACCOUNT}"
flush_ms = 20
page_clocks = 2000

{drop_copy_sessions(listener, dc)}""")
    return cfg


class RecorderProcess:
    def __init__(self, cfg: Path, log: Path):
        self.cfg, self.log, self.proc = cfg, log, None

    def start(self) -> "RecorderProcess":
        self.proc = subprocess.Popen([sys.executable, "-m", "fixgw", "record", str(self.cfg)],
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "ab"))
        return self

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        self.proc.terminate()
        return self.proc.wait(30)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def recording(tmp_path, sim, url: str) -> "RecorderProcess":
    """The simulator up and a `fixgw record` process logged on with an empty store."""
    cfg = write_config(tmp_path, sim, url)
    sim.start()
    rec = RecorderProcess(cfg, tmp_path / "recorder.log").start()
    try:
        wait_for(lambda: "recording from the live stream" in rec.output(), 30, "the recorder to log on")
    except AssertionError:
        rec.kill()
        raise
    return rec


def stored_ids(url: str) -> tuple[int, set[str]]:
    store = open_store(url)
    try:
        return store.count(ACCOUNT, "event"), store.exec_ids(ACCOUNT, "event")
    finally:
        store.close()


def exchange_ids(sim) -> list[str]:
    return sim.cmd(cmd="dropcopy", account=ACCOUNT, product="event")["exec_ids"]


def assert_kept_books_equal_a_full_replay(url: str) -> None:
    """The recorder's kept checkpoint (written with its watermark) plus the tail is the full replay."""
    from fixgw.recorder.replay import replay
    from fixgw.recorder.store import exec_key
    from test_kept import assert_same

    store = open_store(url)
    try:
        cp = store.checkpoint(ACCOUNT, "event")
        assert cp is not None and cp.reports > 0
        assert cp.through <= exec_key(store.watermark(ACCOUNT, "event", 0))
        assert cp.reports == store.count(ACCOUNT, "event", upto=cp.through)
        kept, full = replay(store, ACCOUNT, "event"), replay(store, ACCOUNT, "event", kept=False)
        assert_same(kept, full)
        assert full.own.ledger.events  # the burst's trades made positions
    finally:
        store.close()


def crash_run(tmp_path, sim, url: str, reports: int = 10_000, kills: int = 20) -> None:
    rec = recording(tmp_path, sim, url)
    sim.cmd(cmd="burst", account=ACCOUNT, product="event", count=reports, rate=400)
    wait_for(lambda: stored_ids(url)[0] > 0, 30, "a first stored report")
    rng = random.Random(20261121)
    for _ in range(kills):
        time.sleep(rng.uniform(0.2, 1.6))
        rec.kill()
        rec.start()
    wait_for(lambda: len(exchange_ids(sim)) >= reports, 120, "the burst to finish")
    final = exchange_ids(sim)
    wait_for(lambda: stored_ids(url)[1] >= set(final), 180, "the recorder to catch up")
    assert rec.stop() == 0
    count, ids = stored_ids(url)
    assert len(final) == reports
    assert ids == set(final), f"missing {len(set(final) - ids)}, unexpected {len(ids - set(final))}"
    assert count == len(ids)  # nothing stored twice
    out = rec.output()
    assert "backfill event: from" in out  # restarts resumed from the watermark through KalshiDC
    assert_kept_books_equal_a_full_replay(url)


def test_sigkill_20_times_during_a_10000_report_burst_sqlite(tmp_path, sim):
    crash_run(tmp_path, sim, f"sqlite:///{tmp_path / 'dropcopy.db'}")


def test_sigkill_20_times_during_a_10000_report_burst_postgres(tmp_path, sim, pg_database):
    crash_run(tmp_path, sim, pg_database)


def test_dropped_listener_and_withheld_reports_are_backfilled(tmp_path, sim):
    url = f"sqlite:///{tmp_path / 'dropcopy.db'}"
    rec = recording(tmp_path, sim, url)
    try:
        sim.cmd(cmd="burst", account=ACCOUNT, product="event", count=2000, rate=500)
        wait_for(lambda: stored_ids(url)[0] > 200, 30, "live reports")
        listener = [s for s in sim.cmd(cmd="status")["sessions"]
                    if s["logged_on"] and s["target"] == "KalshiNR"][0]
        # reports are withheld from the listener until it logs on again
        sim.cmd(cmd="withhold", account=ACCOUNT, product="event", on=True)
        sim.cmd(cmd="drop", target="KalshiNR", api_key_id=listener["api_key_id"])
        wait_for(lambda: len(exchange_ids(sim)) >= 2000, 60, "the burst")
        final = set(exchange_ids(sim))
        wait_for(lambda: stored_ids(url)[1] >= final, 60, "the backfill")
        count, ids = stored_ids(url)
        assert ids == final and count == len(final)
        assert "backfill event: from" in rec.output()
        assert_kept_books_equal_a_full_replay(url)
    finally:
        rec.stop()


def test_u3_outside_the_window_is_a_recorded_visible_gap(tmp_path, sim):
    url = f"sqlite:///{tmp_path / 'dropcopy.db'}"
    rec = recording(tmp_path, sim, url)
    sim.cmd(cmd="burst", account=ACCOUNT, product="event", count=50, rate=500)
    wait_for(lambda: stored_ids(url)[0] >= 50, 30, "50 reports")
    assert rec.stop() == 0
    sim.cmd(cmd="advance", seconds=3 * 3600 + 60)  # what we stored has left the 3-hour window
    sim.cmd(cmd="burst", account=ACCOUNT, product="event", count=30, rate=500)
    wait_for(lambda: len(exchange_ids(sim)) >= 30, 30, "new reports")
    rec.start()
    try:
        wait_for(lambda: "GAP event" in rec.output(), 30, "the gap to be reported")
        assert "BeginExecID outside the 3-hour window" in rec.output()
        store = open_store(url)
        gaps = store.gaps(ACCOUNT, "event")
        store.close()
        assert len(gaps) == 1 and gaps[0].reason.startswith("U3 3")
        sim.cmd(cmd="burst", account=ACCOUNT, product="event", count=20, rate=500)
        wait_for(lambda: stored_ids(url)[0] >= 70, 30, "recording to go on after the gap")
    finally:
        rec.stop()


def test_a_report_with_a_value_the_dictionary_lacks_is_stored_named_and_harms_nothing(tmp_path, sim):
    # issue 10: a new enum value must never cost a report; it is stored as received and named
    url = f"sqlite:///{tmp_path / 'dropcopy.db'}"
    rec = recording(tmp_path, sim, url)
    try:
        sim.cmd(cmd="burst", account=ACCOUNT, product="event", count=20, rate=500)
        wait_for(lambda: stored_ids(url)[0] >= 20, 30, "20 reports")
        listener = [s for s in sim.cmd(cmd="status")["sessions"]
                    if s["logged_on"] and s["target"] == "KalshiNR"][0]
        sim.cmd(cmd="corrupt", target="KalshiNR", api_key_id=listener["api_key_id"])
        wait_for(lambda: "listener: report 1;1 stored" in rec.output() and "39='Z'" in rec.output(), 15,
                 "the anomaly to be named with its session")
        sim.cmd(cmd="burst", account=ACCOUNT, product="event", count=20, rate=500)
        wait_for(lambda: stored_ids(url)[0] >= 41, 30, "recording to go on")
        assert sim.session("KalshiNR", listener["api_key_id"])["logged_on"]
        count, ids = stored_ids(url)
        assert count == 41 and ids == set(exchange_ids(sim)) | {"1;1"}
    finally:
        assert rec.stop() == 0


def test_a_report_lost_on_the_listener_is_backfilled_and_the_gap_named(tmp_path, sim):
    # issue 10: KalshiNR never resends; the gap is taken, named, and the drop copy fills it
    url = f"sqlite:///{tmp_path / 'dropcopy.db'}"
    rec = recording(tmp_path, sim, url)
    try:
        sim.cmd(cmd="burst", account=ACCOUNT, product="event", count=10, rate=500)
        wait_for(lambda: stored_ids(url)[0] >= 10, 30, "a first few reports")
        sim.cmd(cmd="fault", kind="lose", account=ACCOUNT, product="event", target="KalshiNR")
        sim.cmd(cmd="burst", account=ACCOUNT, product="event", count=10, rate=500)
        wait_for(lambda: len(exchange_ids(sim)) >= 20, 30, "the second burst")
        lost = sim.cmd(cmd="faults")["applied"][0]["exec_id"]
        wait_for(lambda: "MsgSeqNum gap from KalshiNR" in rec.output(), 15, "the gap to be named")
        final = set(exchange_ids(sim))
        wait_for(lambda: stored_ids(url)[1] >= final, 30, "the lost report to be backfilled")
        count, ids = stored_ids(url)
        assert lost in ids and ids == final and count == len(final)
    finally:
        assert rec.stop() == 0


def test_a_report_lost_in_a_drop_copy_replay_is_asked_again(tmp_path, sim):
    # issue 10: KalshiDC never resends either; a page that lost a report must not move the watermark
    url = f"sqlite:///{tmp_path / 'dropcopy.db'}"
    rec = recording(tmp_path, sim, url)
    sim.cmd(cmd="burst", account=ACCOUNT, product="event", count=10, rate=500)
    wait_for(lambda: stored_ids(url)[0] >= 10, 30, "a first few reports")
    assert rec.stop() == 0
    sim.cmd(cmd="burst", account=ACCOUNT, product="event", count=40, rate=1e9)  # while it is away
    wait_for(lambda: len(exchange_ids(sim)) >= 50, 60, "the burst")
    sim.cmd(cmd="fault", kind="lose", account=ACCOUNT, product="event", target="KalshiDC")
    rec.start()
    try:
        final = set(exchange_ids(sim))
        wait_for(lambda: stored_ids(url)[1] >= final, 30, "the backfill to finish")
        lost = sim.cmd(cmd="faults")["applied"][0]["exec_id"]
        assert "MsgSeqNum gap from KalshiDC" in rec.output() and "asking again from the watermark" in rec.output()
        count, ids = stored_ids(url)
        assert lost in ids and ids == final and count == len(final)
    finally:
        assert rec.stop() == 0


def test_a_drop_copy_session_lost_mid_backfill_is_asked_again(tmp_path, sim):
    url = f"sqlite:///{tmp_path / 'dropcopy.db'}"
    rec = recording(tmp_path, sim, url)
    sim.cmd(cmd="burst", account=ACCOUNT, product="event", count=10, rate=500)
    wait_for(lambda: stored_ids(url)[0] >= 10, 30, "a first few reports")
    assert rec.stop() == 0
    sim.cmd(cmd="burst", account=ACCOUNT, product="event", count=4000, rate=1e9)  # while it is away
    wait_for(lambda: len(exchange_ids(sim)) >= 4010, 60, "the burst")
    rec.start()
    try:
        wait_for(lambda: rec.output().count("backfill event: from") >= 1, 30, "the backfill to start")
        dc = [s for s in sim.cmd(cmd="status")["sessions"] if s["logged_on"] and s["target"] == "KalshiDC"][0]
        sim.cmd(cmd="drop", target="KalshiDC", api_key_id=dc["api_key_id"])
        final = set(exchange_ids(sim))
        wait_for(lambda: stored_ids(url)[1] >= final, 90, "the backfill to finish after the drop")
        count, ids = stored_ids(url)
        assert ids == final and count == len(final)
    finally:
        assert rec.stop() == 0


def test_fixgw_run_hosts_the_recorder_next_to_order_entry(tmp_path, sim):
    url = f"sqlite:///{tmp_path / 'dropcopy.db'}"
    cfg = write_config(tmp_path, sim, url)
    trader = make_account(tmp_path, sim.keys, "event", account=ACCOUNT)
    cfg.write_text(cfg.read_text() + f"""
[[session]]
name = "orders"
product = "event"
type = "NR"
api_key_id = "{trader.api_key_id}"
private_key = "{trader.private_key}"
""")
    sim.start()
    proc = subprocess.Popen([sys.executable, "-m", "fixgw", "run", str(cfg)], stdout=subprocess.PIPE,
                            stderr=open(tmp_path / "run.log", "ab"), text=True)
    try:
        assert '"sessions": ["orders"]' in proc.stdout.readline()  # the control socket drives order entry
        wait_for(lambda: "recording from the live stream" in (tmp_path / "run.log").read_text(), 30, "the recorder")
        sim.cmd(cmd="burst", account=ACCOUNT, product="event", count=100, rate=500)
        wait_for(lambda: len(exchange_ids(sim)) >= 100, 30, "the burst")
        wait_for(lambda: stored_ids(url)[1] >= set(exchange_ids(sim)), 30, "the recorder to store it")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert not any(s["logged_on"] for s in sim.cmd(cmd="status")["sessions"])
    assert stored_ids(url)[0] == 100
