"""Store faults: a damaged SQLite file, unreachable stores, a full disk, a PostgreSQL server that dies.

Each runs the real ``fixgw`` command line (a real process, real files, a real
PostgreSQL server): what an operator sees is the exit status and stderr.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from fixgw.models.fix import Side
from fixgw.pricing import Units
from fixgw.testing.pgserver import PrivateServer
from fixgw.recorder.store import StoredReport, exec_key, open_store
from harness import make_account
from test_commands import raw_of, trade
from test_recorder import (ACCOUNT, RecorderProcess, exchange_ids, recording, stored_ids, wait_for,
                           write_config)


def fixgw(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fixgw", *args], capture_output=True, text=True,
                          timeout=timeout)


def filled_store(path: Path, n: int = 3000) -> None:
    store = open_store(f"sqlite:///{path}")
    ers = [trade(i, Side.BUY, "0.40", 1, f"KXA-26-T{i % 7}") for i in range(n)]
    store.put([StoredReport.from_model(ACCOUNT, "event", er, raw_of(er, Units.DOLLARS), units=Units.DOLLARS) for er in ers])
    store.set_watermark(ACCOUNT, "event", 0, ers[-1].exec_id)
    store.close()


def damage(path: Path) -> None:
    """Overwrite pages in the middle of the reports table, the way a torn disk write does."""
    page = sqlite3.connect(path).execute("PRAGMA page_size").fetchone()[0]
    with open(path, "r+b") as f:
        f.seek(page * 40)
        f.write(bytes(range(256)) * (page * 3 // 256))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_record_refuses_a_damaged_sqlite_store_and_writes_nothing_into_it(tmp_path, sim):
    db = tmp_path / "dropcopy.db"
    filled_store(db)
    damage(db)
    before = sha(db)
    cfg = write_config(tmp_path, sim, f"sqlite:///{db}")
    sim.start()
    try:
        done = fixgw("record", str(cfg))
    except subprocess.TimeoutExpired:
        raise AssertionError("fixgw record ran on a damaged store instead of refusing it") from None
    assert done.returncode != 0
    assert str(db) in done.stderr and "damaged" in done.stderr and "quick_check" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert sha(db) == before  # not a byte written: no watermark moved into the broken file
    assert not any(s["logged_on"] for s in sim.cmd(cmd="status")["sessions"])  # refused before connecting
    reading = fixgw("fills", "--store", f"sqlite:///{db}", "--account", ACCOUNT)
    assert reading.returncode != 0 and str(db) in reading.stderr and "damaged" in reading.stderr
    assert "Traceback" not in reading.stderr


def test_every_store_opening_error_names_the_path_or_url_and_the_cause(tmp_path):
    missing = tmp_path / "no" / "such" / "dir" / "d.db"
    done = fixgw("fills", "--store", f"sqlite:///{missing}")
    assert done.returncode == 2 and str(missing) in done.stderr, done.stderr
    assert "unable to open database file" in done.stderr and f"directory {missing.parent} does not exist" in done.stderr
    assert "Traceback" not in done.stderr

    text = tmp_path / "notes.db"
    text.write_text("this is not a database, it is a shopping list\n" * 200)
    done = fixgw("positions", "--store", f"sqlite:///{text}")
    assert done.returncode == 2 and str(text) in done.stderr and "not a database" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr

    import socket
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://fixgw:hunter2@127.0.0.1:{port}/dropcopy"
    done = fixgw("fills", "--store", url)
    assert done.returncode == 2, done.stderr
    assert f"postgresql://fixgw:***@127.0.0.1:{port}/dropcopy" in done.stderr, done.stderr
    assert "refused" in done.stderr.lower() and "hunter2" not in done.stderr
    assert "Traceback" not in done.stderr


def test_record_creates_its_state_directory_like_run(tmp_path, sim):
    cfg = write_config(tmp_path, sim, "sqlite:///dropcopy.db")  # relative: inside state_dir
    state = tmp_path / "rec"
    assert not state.exists()
    sim.start()
    rec = RecorderProcess(cfg, tmp_path / "recorder.log").start()
    try:
        wait_for(lambda: "recording from the live stream" in rec.output() or rec.proc.poll() is not None, 30,
                 "the recorder to log on")
        assert rec.proc.poll() is None, rec.output()
        assert (state / "dropcopy.db").exists() and state.stat().st_mode & 0o777 == 0o700
    finally:
        assert rec.stop() == 0, rec.output()


# ---------------------------------------------------------------- a store failing under a running recorder
@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs: a real 'No space left on device' under the SQLite file (needs root)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def claimed(output: str) -> int:
    found = re.findall(r"(\d+) reports stored this run", output)
    assert found, output
    return int(found[-1])


def below_watermark(url: str, exchange: list[str]) -> set[str]:
    store = open_store(url)
    try:
        mark = store.watermark(ACCOUNT, "event", 0)
    finally:
        store.close()
    if mark is None:
        return set()
    return {e for e in exchange if exec_key(e) <= exec_key(mark)}


def test_a_full_disk_stops_the_recorder_loudly_and_its_count_is_true(tmp_path, sim, small_disk):
    url = f"sqlite:///{small_disk / 'dropcopy.db'}"
    rec = recording(tmp_path, sim, url)
    sim.cmd(cmd="burst", account=ACCOUNT, product="event", count=6000, rate=1000)
    try:
        code = rec.proc.wait(120)
    except subprocess.TimeoutExpired:
        rec.kill()
        raise AssertionError("the recorder kept running on a full disk:\n" + rec.output()[-2000:]) from None
    out = rec.output()
    assert code == 1, out[-2000:]
    assert "database or disk is full" in out and str(small_disk / "dropcopy.db") in out, out[-2000:]
    assert "Traceback" not in out
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    count, ids = stored_ids(url)
    assert count == claimed(out) and count > 0  # "N reports stored" is what the store holds
    wait_for(lambda: len(exchange_ids(sim)) >= 6000, 60, "the burst")
    final = exchange_ids(sim)
    assert below_watermark(url, final) <= ids  # the watermark never claims a report that is not stored
    rec.start()  # with room again, a restart backfills everything the failure left out
    try:
        wait_for(lambda: stored_ids(url)[1] >= set(final), 120, "the backfill after the failure")
        count, ids = stored_ids(url)
        assert ids == set(final) and count == len(final)
    finally:
        assert rec.stop() == 0


@pytest.fixture
def pg_server():
    server = PrivateServer().start()
    try:
        yield server
    finally:
        server.remove()


def test_a_postgresql_server_that_dies_and_comes_back_loses_nothing(tmp_path, sim, pg_server):
    rec = recording(tmp_path, sim, pg_server.url)
    try:
        sim.cmd(cmd="burst", account=ACCOUNT, product="event", count=3000, rate=300)
        wait_for(lambda: stored_ids(pg_server.url)[0] > 100, 30, "live reports")
        pg_server.stop("immediate")  # a crash: connections cut, no goodbye
        wait_for(lambda: "retrying" in rec.output(), 30, "the recorder to retry")
        assert rec.proc.poll() is None
        pg_server.start()
        wait_for(lambda: len(exchange_ids(sim)) >= 3000, 60, "the burst")
        final = set(exchange_ids(sim))
        wait_for(lambda: stored_ids(pg_server.url)[1] >= final, 90, "the recorder to reconnect and catch up")
        count, ids = stored_ids(pg_server.url)
        assert ids == final and count == len(final)
    finally:
        assert rec.stop() == 0, rec.output()[-2000:]
    # Never more than is stored. A commit the crash cut off before its answer arrived may have
    # landed anyway; its repetition adds nothing and the count stays below the store's.
    assert 0 < claimed(rec.output()) <= len(final)


def test_a_postgresql_server_that_stays_down_stops_the_recorder_non_zero(tmp_path, sim, pg_server):
    cfg_url = pg_server.url
    rec = recording(tmp_path, sim, cfg_url)
    cfg = rec.cfg
    cfg.write_text(cfg.read_text().replace("flush_ms = 20", "flush_ms = 20\nretry_s = 3"))
    rec.stop()
    rec.start()
    wait_for(lambda: rec.output().count("empty store") + rec.output().count("backfill event") >= 2, 30,
             "the restarted recorder")
    sim.cmd(cmd="burst", account=ACCOUNT, product="event", count=2000, rate=300)
    wait_for(lambda: stored_ids(cfg_url)[0] > 100, 30, "live reports")
    pg_server.stop("immediate")
    try:
        code = rec.proc.wait(120)
    except subprocess.TimeoutExpired:
        rec.kill()
        raise AssertionError("the recorder kept running without its database:\n" + rec.output()[-2000:]) from None
    out = rec.output()
    assert code == 1 and "STORE FAILED" in out and f"127.0.0.1:{pg_server.port}" in out, out[-2000:]
    assert "Traceback" not in out
    pg_server.start()
    count, _ = stored_ids(cfg_url)
    assert claimed(out) <= count


def test_a_second_recorder_on_one_state_directory_is_refused(tmp_path, sim):
    url = f"sqlite:///{tmp_path / 'dropcopy.db'}"
    rec = recording(tmp_path, sim, url)
    try:
        second = fixgw("record", str(rec.cfg))
        assert second.returncode == 2 and f"pid {rec.proc.pid}" in second.stderr, second.stderr
        assert str(tmp_path / "rec" / "fixgw.lock") in second.stderr and "Traceback" not in second.stderr
        assert rec.proc.poll() is None
    finally:
        assert rec.stop() == 0


def test_fixgw_run_hosting_a_recorder_exits_1_when_its_store_fills_up(tmp_path, sim, small_disk):
    url = f"sqlite:///{small_disk / 'dropcopy.db'}"
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
    log = tmp_path / "run.log"
    proc = subprocess.Popen([sys.executable, "-m", "fixgw", "run", str(cfg)], stdout=subprocess.DEVNULL,
                            stderr=open(log, "ab"))
    try:
        wait_for(lambda: "recording from the live stream" in log.read_text(), 30, "the recorder")
        sim.cmd(cmd="burst", account=ACCOUNT, product="event", count=6000, rate=1000)
        code = proc.wait(120)
    except subprocess.TimeoutExpired:
        raise AssertionError("fixgw run kept running on a full disk:\n" + log.read_text()[-2000:]) from None
    finally:
        if proc.poll() is None:
            proc.kill()
    out = log.read_text()
    assert code == 1 and "event=recorder-failed" in out and "database or disk is full" in out, out[-2000:]
