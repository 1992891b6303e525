"""KalshiDC backfill time and recorder memory growth (see bench/record.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import quickfix as fix

from bench.bare import sign_logon
from bench.record import rss_mb
from bench.translation import sample_reports
from fixgw.adapter import sessions, tls
from fixgw.recorder.phase import Phase
from fixgw.recorder.service import Recorder
from fixgw.recorder.store import open_store
from fixgw.signing import Signer
from fixgw.testing.launch import SimProcess, gateway_config, make_account

N_BACKFILL = 100_000
N_RSS, RSS_AT = 1_000_000, 100_000


class BareDC(fix.Application):
    """Signs its Logon (with the Kalshi flags ``logon`` a recorder's KalshiDC session sends, so the
    simulator words and serves the same reports to both), sends one U1, counts ExecutionReports until U2."""

    def __init__(self, signer: Signer, logon: list[tuple[int, str]] = ()):
        super().__init__()
        self.signer, self.count, self.logon = signer, 0, list(logon)
        self.logged_on, self.done = threading.Event(), threading.Event()

    def onCreate(self, sid): pass
    def onLogon(self, sid): self.logged_on.set()
    def onLogout(self, sid): pass
    def fromAdmin(self, msg, sid): pass
    def toApp(self, msg, sid): pass

    def toAdmin(self, msg, sid):
        if msg.getHeader().getField(35) == "A":
            for tag, value in self.logon:
                msg.setField(fix.StringField(tag, value))
            sign_logon(msg, self.signer)

    def fromApp(self, msg, sid):
        t = msg.getHeader().getField(35)
        if t == "8":
            self.count += 1
        elif t in ("U2", "U3"):
            self.done.set()


def _wait(predicate, timeout: float, every: float = 0.5) -> None:
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise TimeoutError("benchmark setup timed out")
        time.sleep(every)


def _bare_replay(tmp: Path, sim: SimProcess, account, first: str) -> float:
    cfg = gateway_config(tmp, sim, [dict(name="dc", product="event", type="DC", account=account)])
    tls.pin_only()
    settings = sessions.settings(cfg, tmp / "q.cfg")
    app = BareDC(Signer.from_file(account.private_key), cfg.session[0].logon_fields())
    ini = fix.SSLSocketInitiator(app, fix.FileStoreFactory(settings), settings)
    t = time.perf_counter()
    ini.start()
    app.logged_on.wait(30)
    m = fix.Message()
    m.getHeader().setField(35, "U1")
    m.setField(21001, first)
    fix.Session.sendToTarget(m, fix.SessionID("FIXT.1.1", account.api_key_id, "KalshiDC"))
    app.done.wait(600)
    took = time.perf_counter() - t
    ini.stop()
    return took


def figure(tmp: Path):
    sim = SimProcess(tmp / "sim", log_messages=False)
    listener = make_account(tmp / "keys", sim.keys, "event", account="bench")
    dc = make_account(tmp / "keys", sim.keys, "event", account="bench")
    bare_dc = make_account(tmp / "keys", sim.keys, "event", account="bench")
    sim.start()
    try:
        sim.cmd(cmd="burst", account="bench", product="event", count=N_BACKFILL, rate=1e9)
        _wait(lambda: len(sim.cmd(cmd="dropcopy", account="bench")["exec_ids"]) >= N_BACKFILL, 600)
        first = sim.cmd(cmd="dropcopy", account="bench")["exec_ids"][0]

        # baseline: bare QuickFIX receives the same replay and stores nothing. The first replay
        # only warms the simulator's journal (it serialises each report once), so both timed
        # runs read the same warm journal.
        _bare_replay(tmp / "warm", sim, bare_dc, first)
        base = _bare_replay(tmp / "bare", sim, bare_dc, first)

        # fixgw: a recorder whose watermark is the first report backfills everything into SQLite
        cfg = gateway_config(tmp / "rec", sim, [
            dict(name="listener", product="event", type="NR", listener=True, account=listener),
            dict(name="dc", product="event", type="DC", account=dc)], log_messages=False)
        store = open_store(f"sqlite:///{tmp / 'backfill.db'}")
        store.set_watermark("bench", "event", 0, first)
        rec = Recorder(cfg, store, account="bench", out=open("/dev/null", "w"))
        t = time.perf_counter()
        rec.start()
        # The writer's own count of rows written, read every 10 ms: a 0.5 s poll of COUNT(*) added up
        # to half a second to a figure of a few seconds (the bare client stops on an Event).
        _wait(lambda: rec.stored >= N_BACKFILL, 600, every=0.01)
        ours = time.perf_counter() - t
        assert store.count("bench", "event") >= N_BACKFILL
        rec.stop()
        store.close()
    finally:
        sim.stop()
    return ("backfill_100k_s", ours, "s", base, ours / base)


def rss_figure(tmp: Path, n: int = N_RSS, at_n: int = RSS_AT):
    """Feed the recorder as QuickFIX's thread does, without the network: each report is parsed by
    QuickFIX against the session's dictionaries into a ``quickfix.Message`` and handed to the
    application's ``fromApp`` (the guarded callback: MsgType, inbound counters, the recorder's
    on_raw), on a thread of its own; the writer decodes, stores and keeps the books. RSS at ``at_n``
    reports and at ``n``, each after everything received is durable."""
    from fixgw.fix import dictionary

    sim = SimProcess(tmp / "sim-rss")
    listener = make_account(tmp / "keys", sim.keys, "event", account="bench")
    dc = make_account(tmp / "keys", sim.keys, "event", account="bench")
    cfg = gateway_config(tmp / "rss", sim, [
        dict(name="listener", product="event", type="NR", listener=True, account=listener),
        dict(name="dc", product="event", type="DC", account=dc)], log_messages=False)
    store = open_store(f"sqlite:///{tmp / 'rss.db'}")
    rec = Recorder(cfg, store, account="bench", out=open("/dev/null", "w"))
    rec._writer.start()
    p = rec.products["event"]
    p.phase, p.live_gen = Phase.LIVE, 0  # the listener is live and contiguous (as after a backfill)
    template = sample_reports(1)[0].replace("1000;5000", "{c};{e}").replace("\x0134=2\x01", "\x0134={s}\x01")
    rt = rec.gateway.runtime("listener")
    sid = fix.SessionID("FIXT.1.1", rt.config.api_key_id, rt.config.target)
    app = rec.gateway.app
    transport = fix.DataDictionary(str(dictionary.transport_path()))  # the session's dictionaries
    application = fix.DataDictionary(str(dictionary.path("event")))
    assert app.runtime(sid) is rt
    rss: list[float] = []

    def feed() -> None:
        for i in range(n):
            raw = template.format(c=10_000 + i, e=50_000 + i, s=i + 2)
            app.fromApp(fix.Message(raw, transport, application, False), sid)  # framing checked on the wire
            while rec.backlog() > 20_000:  # like a socket: the sender waits when the writer lags
                time.sleep(0.001)
            if i + 1 == at_n:
                rec.flush(600)
                rss.append(rss_mb())

    quickfix_thread = threading.Thread(target=feed, name="quickfix-feed")
    quickfix_thread.start()
    quickfix_thread.join()
    rec.flush(600)
    rss.append(rss_mb())
    stored, errors = store.count("bench", "event"), rt.metrics.callback_errors
    store.close()
    if stored != n or errors or rt.metrics.msgs_in["8"] != n:
        raise RuntimeError(f"RSS bench: {stored} of {n} reports stored, {errors} callback errors")
    at, end = rss
    return ("record_rss_growth_mb", end - at, "MB", at, end / at)


if __name__ == "__main__":  # python -m bench.backfill: the backfill figure alone
    import json
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        name, value, unit, base, ratio = figure(Path(d))
    print(json.dumps({"name": name, "value": round(value, 2), "unit": unit, "baseline": round(base, 2),
                      "ratio": round(ratio, 3)}), flush=True)
