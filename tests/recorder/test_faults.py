"""Store faults: a damaged SQLite file, unreachable stores, a full disk, a PostgreSQL server that dies.

Each runs the real ``fixgw`` command line (a real process, real files, a real
PostgreSQL server): what an operator sees is the exit status and stderr.
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path

from fixgw.recorder.store import StoredReport, open_store
from fixgw.pricing import Units
from test_commands import raw_of, trade
from test_recorder import ACCOUNT, write_config
from fixgw.models.fix import Side


def fixgw(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fixgw", *args], capture_output=True, text=True,
                          timeout=timeout)


def filled_store(path: Path, n: int = 3000) -> None:
    store = open_store(f"sqlite:///{path}")
    ers = [trade(i, Side.BUY, "0.40", 1, f"KXA-26-T{i % 7}") for i in range(n)]
    store.put([StoredReport.from_model(ACCOUNT, "event", er, raw_of(er, Units.DOLLARS)) for er in ers])
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
    from test_recorder import RecorderProcess, wait_for
    rec = RecorderProcess(cfg, tmp_path / "recorder.log").start()
    try:
        wait_for(lambda: "recording from the live stream" in rec.output() or rec.proc.poll() is not None, 30,
                 "the recorder to log on")
        assert rec.proc.poll() is None, rec.output()
        assert (state / "dropcopy.db").exists() and state.stat().st_mode & 0o777 == 0o700
    finally:
        assert rec.stop() == 0, rec.output()
