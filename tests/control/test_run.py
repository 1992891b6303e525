"""Acceptance: a real `fixgw run` process against the simulator, driven only through the CLI.

One gateway process serves the module (NR, RT, DC and an NR session whose
schedule keeps it out right now); the tests run in file order and each leaves
the gateway as it found it, except the last, which stops it with SIGTERM.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from fixgw.cli import cli
from fixgw.testing.launch import SimProcess, make_account
from harness import wait_for

EV = "KXHIGHNY-26NOV21-T50"
TYPES = {"event-nr": "KalshiNR", "event-rt": "KalshiRT", "event-dc": "KalshiDC", "event-late": "KalshiNR"}


class Gw:
    """The `fixgw run` child, its simulator and the CLI pointed at it."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.sim = SimProcess(tmp / "sim")
        self.accounts = {n: make_account(tmp, self.sim.keys, "event", account="carol") for n in TYPES}
        # the state dir (and so the default socket) outside pytest's 0700 tmp tree, so that
        # the permission tests can open the path to another user and rely on SO_PEERCRED alone
        self.shared = Path(tempfile.mkdtemp(prefix="fixgw-run-"))
        self.state = self.shared / "state"
        self.config = tmp / "gw.toml"
        self.proc: subprocess.Popen | None = None

    def write_config(self) -> None:
        now = dt.datetime.now(dt.timezone.utc)
        late = [(now + dt.timedelta(hours=h)).strftime("%H:%M:%S") for h in (1, 2)]
        text = textwrap.dedent(f"""\
            environment = "local"
            state_dir = "{self.state}"
            ca_file = "{self.sim.ca_file}"
            port_base = {{event = {self.sim.ports["event"]}}}
            reconnect_interval = 1
            time_zone = "UTC"
            """)
        for name, acct in self.accounts.items():
            text += textwrap.dedent(f"""
                [[session]]
                name = "{name}"
                product = "event"
                type = "{TYPES[name][-2:]}"
                api_key_id = "{acct.api_key_id}"
                private_key = "{acct.private_key}"
                """)
            if name == "event-late":  # may log on only an hour from now
                text += f'start_time = "{late[0]}"\nend_time = "{late[1]}"\n'
        self.config.write_text(text)

    def start(self) -> "Gw":
        self.sim.start()
        self.write_config()
        self.stderr = open(self.tmp / "run.stderr", "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "fixgw", "run", str(self.config)],
                                     stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        assert ready, (self.tmp / "run.stderr").read_text()
        self.ready = json.loads(self.proc.stdout.readline())
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.sim.stop()
        shutil.rmtree(self.shared, ignore_errors=True)

    def cli(self, *args: str, code: int = 0) -> str:
        result = CliRunner().invoke(cli, [args[0], "-c", str(self.config), *args[1:]])
        assert result.exit_code == code, (args, result.output, result.exception)
        return result.output

    def status(self) -> dict:
        return {s["name"]: s for s in json.loads(self.cli("status", "--json"))["sessions"]}

    def wait_state(self, name: str, state: str, timeout: float = 15) -> dict:
        deadline = time.time() + timeout
        while True:
            s = self.status()[name]
            if s["state"] == state or time.time() > deadline:
                assert s["state"] == state, s
                return s
            time.sleep(0.1)

    def at_sim(self, name: str) -> dict:
        return self.sim.session(TYPES[name], self.accounts[name].api_key_id)


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    g = Gw(tmp_path_factory.mktemp("run"))
    try:
        g.start()
        for name in ("event-nr", "event-rt", "event-dc"):  # each test may run alone (-k)
            g.wait_state(name, "logged-on")
        yield g
    finally:
        g.stop()


def test_status_shows_every_session_logged_on_except_the_one_out_of_schedule(gw):
    for name in ("event-nr", "event-rt", "event-dc"):
        gw.wait_state(name, "logged-on")
        assert gw.at_sim(name)["logged_on"]
    table = gw.cli("status")
    for name in ("event-nr", "event-rt", "event-dc"):
        line = next(ln for ln in table.splitlines() if ln.startswith(name + " "))
        assert "logged-on" in line and TYPES[name] in line and f"127.0.0.1:{gw.at_sim(name)['port']}" in line
    late = gw.status()["event-late"]
    assert late["in_schedule"] is False and late["hold"] == "schedule" and late["state"] != "logged-on"
    assert not gw.at_sim("event-late")["logged_on"]
    assert "[outside schedule]" in table
    # the real entry point answers too, and the socket is owner-only in an owner-only directory
    out = subprocess.run([sys.executable, "-m", "fixgw", "status", "--json", "-c", str(gw.config)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and json.loads(out.stdout)["pid"] == gw.proc.pid
    sock = Path(gw.ready["control"])
    assert sock == gw.state / "control.sock"
    assert (sock.stat().st_mode & 0o777, sock.parent.stat().st_mode & 0o777) == (0o600, 0o700)


def test_an_order_from_the_cli_is_acked(gw):
    out = gw.cli("order", "event-nr", EV, "buy", "0.05", "3", "--tif", "ioc")
    assert out.startswith("ExecutionReport ") and "exec_type=4(CANCELED)" in out  # IOC, nothing crossed
    rests = gw.cli("order", "event-nr", EV, "buy", "0.04", "2", "--cl-ord-id", "cli-rest-1", "--json")
    assert json.loads(rests)["ack"]["exec_type"] == "0"
    cancel = gw.cli("cancel", "event-nr", "cli-rest-1")
    assert "exec_type=4(CANCELED)" in cancel and "orig_cl_ord_id=cli-rest-1" in cancel
    assert "OrderMassCancelReport" in gw.cli("mass-cancel", "event-nr")
    assert "KalshiNR only" in gw.cli("mass-cancel", "event-rt", code=1)
    # --subtrader reaches the wire as one party; carol is no FCM member, so Kalshi's refusal
    # (103=15) comes back with the party echoed
    sub = "6f1c2e4a-1b2c-4d3e-8f90-123456789abc"
    refused = json.loads(gw.cli("order", "event-nr", EV, "buy", "0.05", "1", "--subtrader", sub, "--json",
                                code=3))["ack"]  # an exchange reject: exit 3
    assert (refused["ord_rej_reason"], refused["text"]) == (15, "PERMISSION_DENIED_FOR_CUSTOMER_ACCOUNT")
    assert refused["parties"] == [{"party_id": sub, "source": None, "role": 24}]
    m = gw.status()["event-nr"]["metrics"]
    assert m["acks"] >= 3 and m["ack_p50_us"] > 0 and m["msgs_out"]["D"] >= 2


def test_logout_and_logon_change_status_and_what_the_simulator_sees(gw):
    assert "event-nr: disconnected" in gw.cli("logout", "event-nr")
    s = gw.status()["event-nr"]
    assert s["hold"] == "operator" and s["enabled"] is False
    gw.sim.wait_session("KalshiNR", gw.accounts["event-nr"].api_key_id, logged_on=False)
    time.sleep(2.5)  # two reconnect intervals: an operator hold is not undone by QuickFIX
    assert gw.status()["event-nr"]["state"] == "disconnected" and not gw.at_sim("event-nr")["logged_on"]
    assert "event-nr: logged-on" in gw.cli("logon", "event-nr")
    assert gw.at_sim("event-nr")["logged_on"] and gw.status()["event-nr"]["hold"] is None


def test_reset_seqnum_is_refused_on_rt_without_force_and_resets_nr(gw):
    gw.cli("order", "event-rt", EV, "buy", "0.03", "1", "--tif", "ioc")
    rt_before = gw.status()["event-rt"]
    assert rt_before["next_out"] > 2
    refused = CliRunner().invoke(cli, ["reset-seqnum", "-c", str(gw.config), "event-rt"])
    assert refused.exit_code == 1
    assert "RT keeps its sequence numbers" in refused.stderr and "--force" in refused.stderr
    assert gw.status()["event-rt"]["next_out"] == rt_before["next_out"]  # untouched

    gw.cli("order", "event-nr", EV, "buy", "0.03", "1", "--tif", "ioc")
    nr = gw.status()["event-nr"]
    assert nr["next_out"] > 2 and gw.at_sim("event-nr")["next_in"] == nr["next_out"]
    out = gw.cli("reset-seqnum", "event-nr")
    assert "event-nr: logged-on (next out 2, next in 2)" in out
    # QuickFIX's acceptor sends its Logon before it counts the one it received: wait for the count
    wait_for(lambda: (gw.at_sim("event-nr")["next_in"], gw.at_sim("event-nr")["next_out"]) == (2, 2), 10,
             "the simulator to count the NR Logon (next in 2, next out 2)")

    out = gw.cli("reset-seqnum", "event-rt", "--force")
    assert "event-rt: logged-on (next out 2, next in 2)" in out
    wait_for(lambda: gw.at_sim("event-rt")["next_in"] == 2, 10, "the simulator to count the RT Logon (next in 2)")


def _connect_as_nobody(sock: Path, payload: dict) -> str:
    """What user 65534 gets from the socket: 'EACCES' or the server's answer line."""
    code = textwrap.dedent(f"""
        import errno, json, os, socket
        os.setgid(65534); os.setuid(65534)
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect({str(sock)!r})
        except PermissionError:
            print("EACCES"); raise SystemExit
        try:
            s.sendall(json.dumps({payload!r}).encode() + b"\\n")
        except OSError:
            pass  # the server may answer and hang up before reading

        print(s.makefile().readline().strip())
        """)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30).stdout.strip()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user (setuid 65534)")
def test_another_user_cannot_drive_the_gateway(gw):
    sock = Path(gw.ready["control"])
    logout = {"cmd": "logout", "session": "event-nr"}
    assert _connect_as_nobody(sock, logout) == "EACCES"  # 0700 directory, 0600 socket
    # even with the path opened to everyone, the kernel's peer credentials refuse the stranger
    for d in (gw.shared, gw.state):
        os.chmod(d, 0o755)
    os.chmod(sock, 0o666)
    try:
        answer = json.loads(_connect_as_nobody(sock, logout))
    finally:
        os.chmod(sock, 0o600)
        for d in (gw.state, gw.shared):
            os.chmod(d, 0o700)
    assert answer["ok"] is False and "refused: peer uid 65534 is not the owner" in answer["error"]
    assert gw.status()["event-nr"]["state"] == "logged-on" and gw.at_sim("event-nr")["logged_on"]


def test_why_a_session_dropped_survives_its_reconnect_in_status(gw):
    # issue 10: last_error was cleared by the next Logon, so nobody could see why a session dropped
    before = gw.wait_state("event-nr", "logged-on")
    gw.sim.cmd(cmd="drop", target="KalshiNR", api_key_id=gw.accounts["event-nr"].api_key_id)
    deadline = time.time() + 20
    while True:
        s = gw.status()["event-nr"]
        if (s["state"] == "logged-on" and s["logons"] > before["logons"]) or time.time() > deadline:
            break
        time.sleep(0.1)
    assert s["state"] == "logged-on" and s["logons"] > before["logons"], s
    assert s["last_error"].startswith("connection to KalshiNR lost while logged on"), s
    assert s["last_error_at"] is not None and s["last_error_at"] > before["since"]
    assert s["errors"][-1]["error"] == s["last_error"] and s["errors"][-1]["at"] == s["last_error_at"]
    table = gw.cli("status")
    assert "ERRORS" in table and "event-nr" in table.split("ERRORS", 1)[1] and \
        "lost while logged on" in table.split("ERRORS", 1)[1]


def test_sigterm_logs_every_session_out_and_exits_0(gw):
    gw.proc.send_signal(signal.SIGTERM)
    assert gw.proc.wait(20) == 0
    for name in TYPES:
        assert not gw.at_sim(name)["logged_on"], name
    assert not Path(gw.ready["control"]).exists()
    log = (gw.tmp / "run.stderr").read_text()
    assert "event=signal signal=SIGTERM" in log and "event=stopped" in log
    lines = [ln for ln in log.splitlines() if ln.startswith("ts=")]
    assert all("session=" in ln for ln in lines if "logger=fixgw.application" in ln)
    assert "96=" not in log or "96=<redacted>" in log


def test_structured_log_lines_are_one_line_redacted_key_value(tmp_path):
    import logging

    from fixgw.control.logsetup import setup_logging

    root = logging.getLogger()
    before = list(root.handlers)
    setup_logging(tmp_path)
    try:
        log = logging.getLogger("fixgw.test")
        log.warning("session=%s event=raw msg=%s", "event-nr", "35=A\x0196=c2lnbmF0dXJl\x0158=hi")
        log.info("free text\nwith a newline", extra={"session": "event-rt"})
        for h in root.handlers:
            h.flush()
    finally:
        for h in set(root.handlers) - set(before):
            root.removeHandler(h)
            h.close()
    lines = (tmp_path / "log" / "fixgw.log").read_text().splitlines()
    assert len(lines) == 2 and all(ln.startswith("ts=") and " level=" in ln for ln in lines)
    assert "session=event-nr event=raw msg=35=A|96=<redacted>|58=hi" in lines[0] and "c2lnbmF0dXJl" not in lines[0]
    assert 'session=event-rt msg="free text\\nwith a newline"' in lines[1]


def test_the_maintenance_window_is_quickfix_logon_time_in_new_york(tmp_path):
    """Thursday 03:00-05:00 ET, in EST and in EDT, evaluated by QuickFIX itself."""
    code = textwrap.dedent(f"""
        import uuid, quickfix as fix
        from pathlib import Path
        from fixgw.adapter import sessions
        from fixgw.certs import make_tls
        from fixgw.config import parse
        tmp = Path({str(tmp_path)!r}); key = str(uuid.uuid4())
        cfg = parse({{"environment": "demo", "ca_file": str(make_tls(tmp / "tls").ca_file), "state_dir": str(tmp),
                      "session": [{{"name": "rt", "product": "event", "type": "RT", "api_key_id": key,
                                    "private_key": "k.pem"}}]}})
        st = sessions.settings(cfg, tmp / "q.cfg")
        class App(fix.Application):
            def onCreate(self, s): pass
            def onLogon(self, s): pass
            def onLogout(self, s): pass
            def toAdmin(self, m, s): pass
            def fromAdmin(self, m, s): pass
            def toApp(self, m, s): pass
            def fromApp(self, m, s): pass
        app = App()
        ini = fix.SSLSocketInitiator(app, fix.MemoryStoreFactory(), st, fix.FileLogFactory(str(tmp / "log")))
        s = fix.Session.lookupSession(fix.SessionID("FIXT.1.1", key, "KalshiRT"))
        at = lambda h, m, d, mo, y: int(s.isLogonTime(fix.UtcTimeStamp(h, m, 0, d, mo, y)))
        print(s.getIsNonStopSession(), at(7, 30, 26, 11, 2026), at(8, 30, 26, 11, 2026), at(9, 59, 26, 11, 2026),
              at(10, 30, 26, 11, 2026), at(6, 30, 1, 7, 2027), at(7, 30, 1, 7, 2027), at(9, 30, 1, 7, 2027),
              at(8, 30, 27, 11, 2026))
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    # Nov (EST, UTC-5): 02:30 in, 03:30 out, 04:59 out, 05:30 in; Jul (EDT, UTC-4): 02:30 in, 03:30 out,
    # 05:30 in; a Friday at the same hour: in. NonStopSession: the window never resets sequence numbers.
    assert out.stdout.split() == ["True", "1", "0", "0", "1", "1", "0", "1", "1"]
    rendered = (tmp_path / "q.cfg").read_text()
    assert "NonStopSession=Y" in rendered and "\nStartTime=" not in rendered
    assert "LogonDay=thursday\nLogoutDay=thursday" in rendered and "UseLocalTime=Y" in rendered
