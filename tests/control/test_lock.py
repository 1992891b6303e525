"""One process per state directory: a second `fixgw run` or a library Gateway is refused before it connects."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from fixgw import lock
from fixgw.config import load
from fixgw.adapter.gateway import Gateway
from fixgw.lock import StateDirBusy
from test_run import Gw


def seen_by_sim(g: Gw) -> tuple[int, int]:
    """(TLS connections accepted, Logons received) in the simulator's logs."""
    logs = g.sim.state / "log"
    accepted = sum(f.read_text(errors="replace").count("Accepted SSL connection")
                   for f in logs.glob("*.event.log"))
    logons = sum(sum(1 for line in f.read_text(errors="replace").splitlines()
                     if line.split(" : ", 1)[-1].startswith("IN ") and "|35=A|" in line)
                 for f in logs.glob("*.messages.log"))
    return accepted, logons


def test_a_second_process_on_one_state_directory_is_refused_before_any_connection(tmp_path):
    g = Gw(tmp_path).start()
    try:
        for name in ("event-nr", "event-rt", "event-dc"):
            g.wait_state(name, "logged-on")
        pid = g.ready["pid"]
        sessions = {s["session"]: (s["logged_on"], s["next_in"]) for s in g.sim.cmd(cmd="status")["sessions"]}
        before = seen_by_sim(g)
        assert before[0] >= 3 and before[1] >= 3  # the simulator's logs do show the first gateway's

        second = subprocess.run([sys.executable, "-m", "fixgw", "run", str(g.config)], capture_output=True,
                                text=True, timeout=60)
        assert second.returncode != 0
        assert f"pid {pid}" in second.stderr and str(g.state / lock.LOCK_NAME) in second.stderr, second.stderr
        assert "Traceback" not in second.stderr and second.stdout == ""  # never said ready

        with pytest.raises(StateDirBusy, match=f"pid {pid}"):
            library = Gateway(load(g.config))
            library.start()
            library.stop()  # only reached when the refusal is missing

        assert seen_by_sim(g) == before  # no TLS connection, no Logon from either
        assert {s["session"]: (s["logged_on"], s["next_in"])
                for s in g.sim.cmd(cmd="status")["sessions"]} == sessions
        assert g.proc.poll() is None and g.status()["event-rt"]["state"] == "logged-on"

        g.proc.send_signal(signal.SIGKILL)  # the kernel drops a dead holder's lock: a restart is never blocked
        g.proc.wait(10)
        held = lock.acquire(g.state)
        lock.release(held)
    finally:
        g.stop()
