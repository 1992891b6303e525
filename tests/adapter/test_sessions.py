"""Acceptance: signed TLS sessions against the real simulator on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import time

import pytest
import quickfix as fix

from fixgw.adapter.application import GatewayApplication
from fixgw.certs import make_tls
from fixgw.errors import LogonError
from fixgw.adapter.gateway import Gateway
from harness import gateway_config, make_account

SIX = [("event", "NR"), ("event", "RT"), ("event", "DC"), ("margin", "NR"), ("margin", "RT"), ("margin", "DC")]


def one_session(tmp_path, sim, product="event", kind="NR", **kw):
    acct = make_account(tmp_path, sim.keys, product)
    return acct, dict(name=f"{product}-{kind.lower()}", product=product, type=kind, account=acct, **kw)


class _TextLookups(dict):
    """GatewayApplication.by_key, noting the keys runtime() falls back to (onCreate uses get)."""

    def __init__(self, *args):
        super().__init__(*args)
        self.looked_up: list[str] = []

    def __getitem__(self, key):
        self.looked_up.append(key)
        return super().__getitem__(key)


def test_six_sessions_log_on_at_once(tmp_path, sim):
    sessions = []
    for product, kind in SIX:
        acct = make_account(tmp_path, sim.keys, product)
        sessions.append(dict(name=f"{product}-{kind.lower()}", product=product, type=kind, account=acct))
    sim.start()
    gw = Gateway(gateway_config(tmp_path / "gw", sim, sessions))
    gw.app.by_key = by_text = _TextLookups(gw.app.by_key)
    with gw:
        gw.wait_logged_on(timeout=20)
        rows = {s.name: s for s in gw.status()}
        assert {r.state for r in rows.values()} == {"logged-on"}
        # QuickFIX made each Session with onCreate: every callback finds its runtime by address
        # (SWIG hands callbacks the Session's own SessionID, not a copy), none by its text
        assert sorted(rt.key for rt in gw.app.by_address.values()) == sorted(gw.app.by_key)
        assert by_text.looked_up == []
        for s in sessions:
            acct = s["account"]
            seen = sim.session({"NR": "KalshiNR", "RT": "KalshiRT", "DC": "KalshiDC"}[s["type"]], acct.api_key_id)
            assert seen["logged_on"] and seen["product"] == s["product"]
            assert rows[s["name"]].port == seen["port"]
    # clean logout: the simulator sees every session go away
    for s in sessions:
        sim.wait_session({"NR": "KalshiNR", "RT": "KalshiRT", "DC": "KalshiDC"}[s["type"]],
                         s["account"].api_key_id, logged_on=False)


class BadSignature(GatewayApplication):
    def sign_logon(self, message, rt):
        super().sign_logon(message, rt)
        sig = message.getField(96)
        message.setField(fix.StringField(96, ("A" if sig[0] != "A" else "B") + sig[1:]))


class SkewedClock(GatewayApplication):
    def sign_logon(self, message, rt):
        late = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=31)
        message.getHeader().setField(fix.StringField(52, late.strftime("%Y%m%d-%H:%M:%S.") + f"{late.microsecond // 1000:03d}"))
        super().sign_logon(message, rt)


class NoReset(GatewayApplication):
    def sign_logon(self, message, rt):
        message.removeField(141)
        super().sign_logon(message, rt)


@pytest.mark.parametrize("app, expected", [
    (BadSignature, "Logon refused by KalshiNR: Invalid signature"),
    (SkewedClock, "Logon refused by KalshiNR: Reject 373=10 (SendingTime accuracy problem)"),
    (NoReset, "Logon refused by KalshiNR: ResetSeqNumFlag(141)=Y is required on KalshiNR"),
])
def test_refused_logons_name_the_reason(tmp_path, sim, app, expected):
    acct, s = one_session(tmp_path, sim)
    sim.start()
    gw = Gateway(gateway_config(tmp_path / "gw", sim, [s]), application=app).start()
    try:
        with pytest.raises(LogonError) as err:
            gw.wait_logged_on(timeout=8)
        assert err.value.session == "event-nr"
        assert expected in str(err.value)
        assert gw.status()[0].last_error.startswith(expected)
        assert not sim.session("KalshiNR", acct.api_key_id)["logged_on"]
    finally:
        gw.stop()
    assert sim.proc.poll() is None  # the simulator survived


def test_wrong_private_key_is_refused(tmp_path, sim):
    acct, s = one_session(tmp_path, sim)
    other = make_account(tmp_path, None)
    s["private_key"] = other.private_key
    sim.start()
    with Gateway(gateway_config(tmp_path / "gw", sim, [s])) as gw:
        with pytest.raises(LogonError, match="Logon refused by KalshiNR: Invalid signature"):
            gw.wait_logged_on(timeout=8)


def test_second_connection_with_the_same_key_gets_already_exists(tmp_path, sim):
    acct, nr = one_session(tmp_path, sim, kind="NR")
    dc = dict(name="event-dc", product="event", type="DC", account=acct)
    sim.start()
    with Gateway(gateway_config(tmp_path / "gw1", sim, [nr])) as first:
        first.wait_logged_on(timeout=10)
        with Gateway(gateway_config(tmp_path / "gw2", sim, [dc])) as second:
            with pytest.raises(LogonError, match="Logon refused by KalshiDC: already exists"):
                second.wait_logged_on(timeout=8)
        # the first connection is untouched
        assert first.status()[0].state == "logged-on"
        assert sim.session("KalshiNR", acct.api_key_id)["logged_on"]


def test_plain_tcp_client_is_refused(tmp_path, sim):
    acct, _ = one_session(tmp_path, sim)
    sim.start()
    port = sim.ports["event"]
    logon = b"8=FIXT.1.1\x019=5\x0135=A\x0110=000\x01"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(logon)
        data = b""
        try:
            while chunk := s.recv(4096):
                data += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    assert b"8=FIXT" not in data  # no FIX spoken over plain TCP
    # whereas a TLS client that trusts the CA completes a handshake on the same port
    ctx = ssl.create_default_context(cafile=str(sim.ca_file))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_gateway_refuses_a_certificate_not_signed_by_the_pinned_ca(tmp_path, sim):
    acct, s = one_session(tmp_path, sim)
    sim.start()
    rogue = make_tls(tmp_path / "rogue", ca_name="some other CA")
    with Gateway(gateway_config(tmp_path / "gw", sim, [s], ca_file=rogue.ca_file)) as gw:
        with pytest.raises(LogonError) as err:
            gw.wait_logged_on(timeout=6)
        assert gw.status()[0].state != "logged-on"
        assert sim.cmd(cmd="refusals")["refusals"] == []  # no Logon ever reached the exchange
        assert not sim.session("KalshiNR", acct.api_key_id)["logged_on"]
    assert "event-nr" in str(err.value)


def _exec_report(i: int) -> list[tuple[int, str]]:
    return [(37, f"ord-{i}"), (11, f"cl-{i}"), (17, f"100;{i}"), (150, "4"), (39, "4"), (54, "1"),
            (55, "KXTEST-26NOV21-T50"), (38, "0.00"), (14, "0.00"), (151, "0.00"), (6, "0"),
            (58, "ORDER_GROUP_CANCEL")]


def test_rt_resumes_sequence_numbers_and_recovers_the_gap_by_resend(tmp_path, sim):
    acct, s = one_session(tmp_path, sim, kind="RT")
    sim.start()
    cfg = gateway_config(tmp_path / "gw", sim, [s])
    with Gateway(cfg) as gw:
        gw.wait_logged_on(timeout=10)
    away = sim.wait_session("KalshiRT", acct.api_key_id, logged_on=False)
    assert away["next_in"] > 2  # Logon and Logout were numbered; nothing resets them on RT
    # while the gateway is away, the exchange sends three reports on RT
    seqs = [sim.cmd(cmd="send", target="KalshiRT", api_key_id=acct.api_key_id, msg_type="8",
                    fields=_exec_report(i))["seq"] for i in range(3)]
    assert seqs == [away["next_out"], away["next_out"] + 1, away["next_out"] + 2]

    gw = Gateway(gateway_config(tmp_path / "gw", sim, [s]))
    sub = gw.subscribe()
    gw.start()
    try:
        gw.wait_logged_on(timeout=10)
        got = [sub.get(timeout=10).message for _ in range(3)]
        assert [g.exec_id for g in got] == ["100;0", "100;1", "100;2"]
        assert all(g.poss_dup for g in got)
        # QuickFIX hands the resent reports to the application before it processes the queued
        # Logon answer (seq 6) that triggered the resend, so its count may lag by one for a moment
        deadline = time.monotonic() + 5
        while (after := gw.status()[0]).next_in != seqs[-1] + 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert after.next_in == seqs[-1] + 2  # the 3 resent reports and the Logon answer
        assert after.next_out > away["next_in"]  # our numbers resumed; nothing was reset
    finally:
        gw.stop()
    messages = (tmp_path / "gw" / "log" / "event-rt.messages.log").read_text()
    second_logon = [line for line in messages.splitlines() if "OUT " in line and "|35=A|" in line][-1]
    assert "|141=Y|" not in second_logon and f"|34={away['next_in']}|" in second_logon
    assert any("OUT " in line and "|35=2|" in line and f"|7={seqs[0]}|" in line for line in messages.splitlines())


class RecordingSigner(GatewayApplication):
    signatures: list[str] = []

    def sign_logon(self, message, rt):
        super().sign_logon(message, rt)
        RecordingSigner.signatures.append(message.getField(96))


def test_no_private_key_or_rawdata_reaches_any_log(tmp_path, sim):
    sessions = [one_session(tmp_path, sim, product, kind)[1] for product, kind in SIX[:3]]
    bad = one_session(tmp_path, sim, "margin", "NR")[1]
    bad["private_key"] = make_account(tmp_path, None).private_key  # refused: logs the failure path too
    sim.start()
    with Gateway(gateway_config(tmp_path / "gw", sim, sessions + [bad]), application=RecordingSigner) as gw:
        gw.wait_logged_on([s["name"] for s in sessions], timeout=15)
        gw.wait_error("margin-nr", timeout=10)
    sim.stop()
    assert len(RecordingSigner.signatures) >= 4
    secrets = list(RecordingSigner.signatures)
    for s in sessions + [bad]:
        pem = s["private_key"].read_text() if "private_key" in s else s["account"].private_key.read_text()
        secrets += [line for line in pem.splitlines() if "-----" not in line]
    logs = [p for p in tmp_path.rglob("*") if p.is_file() and (p.suffix == ".log" or p.name.endswith("stderr"))]
    assert len(logs) >= 8
    for p in logs:
        text = p.read_text(errors="replace")
        assert "PRIVATE KEY" not in text, p
        for secret in secrets:
            assert secret not in text, f"secret material in {p}"
    assert any("96=<redacted>" in p.read_text() for p in logs)
