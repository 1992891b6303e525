"""Acceptance (issue 10): a seeded fault campaign against two trading gateways and a recorder.

alice (order-entry gateway: KalshiRT, KalshiNR and KalshiDC sessions) and bob (KalshiRT)
trade against each other through the real simulator over TLS, while ``fixgw record``
records alice's drop copy into a SQLite file on a small tmpfs. Between trades a schedule
drawn from ``random.Random(seed)`` injects:

=============  =================================================================
logout         the exchange sends Logout(5) with a Text(58) on an RT session
disconnect     the exchange cuts an RT session's connection
nr-gap         a Trade report to alice's NR session, or to the recorder's listener,
               is lost in transit (its MsgSeqNum skipped)
novel-enum     a Trade report carries 39=Z or 1057=1 (values the dictionary lacks)
duplicate-tag  a Trade report carries LastPx, LastQty or CumQty twice
group-tag      a Trade report carries LastQty inside its fee group
recorder-kill  the recorder is SIGKILLed and started again a trade later
store-full     the recorder's filesystem fills up: it must stop non-zero, and a
               restart with room again backfills what it missed (needs root for
               the tmpfs; without it this kind is not injected and the table says so)
=============  =================================================================

The simulator keeps the truth (its ledger and drop-copy journal) and is the oracle: at the
end every fill it made is in each gateway's fills and positions exactly once, the recorder's
stored ExecIDs equal the drop-copy journal's (none missing, none twice), and every injected
fault is found in the gateways' status (error history, metrics) or in the logs.

Size: ``--faults-size N`` or ``FIXGW_FAULTS_SIZE=N`` (trades; default 120), seed
``FIXGW_FAULTS_SEED``.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path


from fixgw.errors import SessionError
from fixgw.adapter.gateway import Gateway
from fixgw.models.fix import ExecType, ExecutionReport
from fixgw.models.rest import Fill, MarketPosition
from fixgw.recorder.store import open_store
from fixgw.state import State
from harness import gateway_config, make_account, wait_for, drop_copy_sessions

SEED = int(os.environ.get("FIXGW_FAULTS_SEED", "20261206"))
KINDS = ("logout", "disconnect", "nr-gap", "novel-enum", "duplicate-tag", "group-tag", "recorder-kill", "store-full")
SPOIL = {"novel-enum": "value", "duplicate-tag": "duplicate", "group-tag": "group-tag", "nr-gap": "lose"}
TARGET = {"alice-rt": "KalshiRT", "alice-nr": "KalshiNR", "bob-rt": "KalshiRT", "listener": "KalshiNR"}
RECORDER_KINDS = {"recorder-kill", "store-full"}


def as_json(model) -> dict:
    return json.loads(model.model_dump_json())


def logged_on(gw: Gateway, name: str, timeout: float = 30) -> None:
    """Wait for the session to be logged on again. Not ``wait_logged_on``: that one gives up at the
    first failed attempt, and after an exchange Logout QuickFIX starts a Logon on the closing
    socket ("connection closed before the Logon was answered") before the reconnect that works."""
    if not gw.runtimes[name].lifecycle.wait(lambda lc: lc.state is State.LOGGED_ON, timeout):
        raise AssertionError(f"{name} not logged on after {timeout} s: {gw.runtimes[name].lifecycle.last_error}")


@dataclass
class Fault:
    kind: str
    target: str  # a session name, or "recorder"
    detail: dict = field(default_factory=dict)
    exec_id: str | None = None  # the spoiled report (from the simulator's list of applied faults)


class Recorder:
    """A ``fixgw record`` process for alice's drop copy; the store on ``disk``."""

    def __init__(self, tmp_path: Path, sim, disk: Path):
        listener = make_account(tmp_path, sim.keys, "event", account="alice")
        dc = make_account(tmp_path, sim.keys, "event", account="alice")
        self.listener_key = listener.api_key_id
        self.url = f"sqlite:///{disk / 'dropcopy.db'}"
        self.cfg, self.log = tmp_path / "record.toml", tmp_path / "recorder.log"
        self.cfg.write_text(f"""
environment = "local"
state_dir = "{tmp_path / 'rec'}"
ca_file = "{sim.ca_file}"
reconnect_interval = 1
port_base = {{ event = {sim.ports['event']}, margin = {sim.ports['margin']} }}

[recorder]
store = "{self.url}"
account = "alice"
flush_ms = 20
retry_s = 5

{drop_copy_sessions(listener, dc)}""")
        self.proc: subprocess.Popen | None = None
        self.exits: list[int] = []

    def start(self) -> None:
        mark = self.output().count("recording from the live stream") + self.output().count("backfill event: from")
        self.proc = subprocess.Popen([sys.executable, "-m", "fixgw", "record", str(self.cfg)],
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "ab"))
        wait_for(lambda: self.output().count("recording from the live stream")
                 + self.output().count("backfill event: from") > mark or self.proc.poll() is not None,
                 30, "the recorder to log on")
        assert self.proc.poll() is None, self.output()[-3000:]

    @property
    def up(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.exits.append(self.proc.wait(10))

    def stop(self) -> int:
        self.proc.terminate()
        self.exits.append(self.proc.wait(30))
        return self.exits[-1]

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Disk:
    """A small tmpfs under the recorder's store that can be filled to the last byte (root only)."""

    def __init__(self, path: Path):
        self.path, self.ballast = path, path / "ballast"
        path.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m,mode=0700", "tmpfs", str(path)],
                              capture_output=True, text=True)
        self.mounted = done.returncode == 0
        self.why = "" if self.mounted else f"not injected: cannot mount a tmpfs ({done.stderr.strip() or 'needs root'})"

    def fill(self) -> None:
        with open(self.ballast, "ab", buffering=0) as f:
            for size in (1 << 20, 1 << 12, 1):
                try:
                    while True:
                        f.write(b"\0" * size)
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e

    def free(self) -> None:
        self.ballast.unlink()

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], check=False)


def test_fault_campaign(tmp_path, sim, campaign_size, caplog):
    size = campaign_size
    rng = random.Random(SEED)
    disk = Disk(tmp_path / "disk")
    try:
        a_rt, a_nr, a_dc = (make_account(tmp_path, sim.keys, "event", account="alice") for _ in range(3))
        b_rt = make_account(tmp_path, sim.keys, "event", account="bob")
        keys = {"alice-rt": a_rt.api_key_id, "alice-nr": a_nr.api_key_id, "bob-rt": b_rt.api_key_id}
        rec = Recorder(tmp_path, sim, disk.path)
        keys["listener"] = rec.listener_key
        sim.start()
        alice = Gateway(gateway_config(tmp_path / "alice", sim, [
            dict(name="alice-rt", product="event", type="RT", account=a_rt),
            dict(name="alice-nr", product="event", type="NR", account=a_nr),
            dict(name="alice-dc", product="event", type="DC", account=a_dc)], tier="prime"))
        bob = Gateway(gateway_config(tmp_path / "bob", sim, [dict(name="bob-rt", product="event", type="RT",
                                                                  account=b_rt)], tier="prime"))
        gws = {"alice": alice, "bob": bob}
        subs = {who: gw.subscribe() for who, gw in gws.items()}
        caplog.set_level(logging.INFO, logger="fixgw")
        try:
            for gw in gws.values():
                gw.start()
            for gw in gws.values():
                gw.wait_logged_on(timeout=30)
            rec.start()
            run_campaign(rng, size, sim, gws, rec, disk, keys, subs, caplog)
        finally:
            (tmp_path / "gateways.log").write_text("".join(f"{r.created:.3f} {r.threadName} {r.getMessage()}\n"
                                                           for r in caplog.records))
            for gw in gws.values():
                gw.stop()
            if rec.up:
                rec.kill()
    finally:
        disk.unmount()


def schedule(rng: random.Random, size: int, disk: Disk) -> list[Fault]:
    """Every kind at least once, then a fault for about every other trade."""
    kinds = [k for k in KINDS if k != "store-full" or disk.mounted]
    kinds += [rng.choice([k for k in kinds if k != "store-full"]) for _ in range(max(0, size // 2 - len(kinds)))]
    rng.shuffle(kinds)
    out = []
    for kind in kinds:
        if kind in ("logout", "disconnect"):
            out.append(Fault(kind, rng.choice(["alice-rt", "bob-rt"])))
        elif kind == "nr-gap":
            out.append(Fault(kind, rng.choice(["alice-nr", "listener"])))
        elif kind in SPOIL:
            tag, value = {"novel-enum": rng.choice([(39, "Z"), (1057, "1")]),
                          "duplicate-tag": (rng.choice([31, 32, 14]), None),
                          "group-tag": (32, "7.00")}[kind]
            out.append(Fault(kind, rng.choice(["alice-rt", "alice-nr", "bob-rt", "listener"]),
                             {"tag": tag, "value": value}))
        else:
            out.append(Fault(kind, "recorder"))
    return out


def run_campaign(rng, size, sim, gws, rec, disk, keys, subs, caplog):
    started = time.monotonic()
    pending = schedule(rng, size, disk)
    injected: list[Fault] = []
    force: dict[int, dict] = {}  # round -> constraints (alice's session, taker)
    trades, unsent, acks = 0, 0, []
    restart_at: int | None = None  # the round after which a killed recorder starts again
    full = False
    listener_open: list[Fault] = []  # listener faults whose evidence the recorder has not printed yet
    rnd = 0
    while rnd < size or pending or full or restart_at is not None:
        if rnd > size + 200:
            raise AssertionError(f"the schedule did not finish: pending {pending}, full={full}, "
                                 f"restart_at={restart_at}, waiting for the recorder to show {listener_open}")
        # ------------------------------------------------------------ one trade
        c = force.pop(rnd, {})
        session = c.get("alice") or rng.choice(["alice-rt", "alice-nr"])
        taker = c.get("taker") or rng.choice(["alice", "bob"])
        symbol = f"KXFAULTS-26DEC06-T{rnd}"  # a market per trade: an order left resting never crosses
        price, qty = Decimal(rng.randrange(20, 81)) / 100, rng.randint(1, 5)
        side = {"alice": "buy" if rng.random() < 0.5 else "sell"}
        side["bob"] = "sell" if side["alice"] == "buy" else "buy"
        where = {"alice": session, "bob": "bob-rt"}
        maker = "bob" if taker == "alice" else "alice"
        try:
            logged_on(gws[maker], where[maker])
            made = gws[maker].new_order(where[maker], symbol, side[maker], price, qty)
            assert isinstance(made.wait(30), ExecutionReport)
            logged_on(gws[taker], where[taker])
            acks.append(gws[taker].new_order(where[taker], symbol, side[taker], price, qty))
            trades += 1
            wait_for(lambda: len(sim.cmd(cmd="ledger", product="event", account="alice")["fills"]) >= trades, 30,
                     f"trade {rnd} at the exchange")
        except SessionError:
            unsent += 1  # a session between a fault and its reconnect: nothing was sent, the next round goes on
        rnd += 1
        # ------------------------------------------------------------ the recorder's own recovery
        if full and not rec.up:
            code = rec.proc.wait()
            rec.exits.append(code)
            assert code == 1, f"the recorder stopped with {code} on a full disk:\n{rec.output()[-3000:]}"
            disk.free()
            full = False
            rec.start()
        if restart_at is not None and rnd >= restart_at:
            rec.start()
            restart_at = None
        for f in list(listener_open):
            if f.exec_id is None:
                f.exec_id = applied_exec_id(sim, f, keys)
            if f.exec_id is not None and listener_evidence(f, rec.output()):
                listener_open.remove(f)
        # ------------------------------------------------------------ maybe a fault
        if not pending or (rnd < size and rng.random() < 0.4):
            continue
        f = pending[0]
        wants = wanted(f)
        recorder_busy = full or restart_at is not None or not rec.up
        if any(k in force.get(rnd + i, {}) and force[rnd + i][k] != v for i, w in enumerate(wants) for k, v in w.items()):
            continue  # the next trades are promised to an earlier fault
        if f.kind in RECORDER_KINDS and (recorder_busy or listener_open):
            continue
        if f.target == "listener" and recorder_busy:
            continue
        if f.kind in ("logout", "disconnect"):  # a Logout sent into a dead connection would never arrive
            owner = gws[f.target.split("-")[0]]
            logged_on(owner, f.target)
            sim.wait_session("KalshiRT", keys[f.target], logged_on=True, timeout=30)
        pending.pop(0)
        for i, w in enumerate(wants):
            force.setdefault(rnd + i, {}).update(w)
        inject(f, sim, rec, disk, keys, injected)
        injected.append(f)
        if f.kind == "recorder-kill":
            restart_at = rnd + 1
        elif f.kind == "store-full":
            full = True
        elif f.target == "listener":
            listener_open.append(f)
    # the last reports on every session (a gap shows when the next message arrives)
    for s in ("alice-nr", "alice-rt"):
        for name in (s, "alice-dc"):
            logged_on(gws["alice"], name)
        logged_on(gws["bob"], "bob-rt")
        symbol = f"KXFAULTS-26DEC06-T{rnd}"
        rnd += 1
        assert isinstance(gws["bob"].new_order("bob-rt", symbol, "sell", "0.50", 1).wait(30), ExecutionReport)
        acks.append(gws["alice"].new_order(s, symbol, "buy", "0.50", 1))
        trades += 1
    check(sim, gws, rec, disk, subs, acks, injected, keys, caplog, trades, unsent, time.monotonic() - started)


def wanted(f: Fault) -> list[dict]:
    """What the next trades must look like for the fault to land: its session takes (a taker's
    report carries the fee group the group-tag fault needs), and after a loss one more message
    on that session shows the gap."""
    if f.kind not in SPOIL:
        if f.kind in ("logout", "disconnect") and f.target == "alice-rt":
            return [{"alice": "alice-rt"}]
        return []
    who = {"alice": "alice", "bob": "bob", "listener": "alice"}[f.target.split("-")[0]]
    first = {"taker": who} | ({"alice": f.target} if f.target.startswith("alice") else {})
    if f.kind == "nr-gap":
        return [first, {"alice": f.target} if f.target.startswith("alice") else {}]
    return [first]


def inject(f: Fault, sim, rec: Recorder, disk: Disk, keys: dict, injected: list[Fault]) -> None:
    if f.kind == "logout":
        f.detail["text"] = f"campaign logout {len(injected)}"
        sim.cmd(cmd="send", target="KalshiRT", api_key_id=keys[f.target], msg_type="5", fields=[[58, f.detail["text"]]])
    elif f.kind == "disconnect":
        sim.cmd(cmd="drop", target="KalshiRT", api_key_id=keys[f.target])
    elif f.kind in SPOIL:
        spoil = {"kind": SPOIL[f.kind]} | {k: v for k, v in f.detail.items() if v is not None}
        f.detail["nth"] = sum(1 for g in injected if g.kind in SPOIL and g.target == f.target)
        f.detail["nth_gap"] = sum(1 for g in injected if g.kind == f.kind == "nr-gap" and g.target == f.target)
        sim.cmd(cmd="fault", account="alice" if f.target != "bob-rt" else "bob", product="event",
                target=TARGET[f.target], api_key_id=keys[f.target], **spoil)
    elif f.kind == "recorder-kill":
        rec.kill()
    elif f.kind == "store-full":
        disk.fill()


def applied_exec_id(sim, f: Fault, keys: dict) -> str | None:
    """The ExecID the simulator spoiled for this fault (faults on one session apply in order)."""
    mine = [a for a in sim.cmd(cmd="faults")["applied"] if a["session"].endswith("->" + keys[f.target])]
    return mine[f.detail["nth"]]["exec_id"] if len(mine) > f.detail["nth"] else None


def lost(lines, session: str) -> int:
    """Messages the session's ``event=seq-gap`` lines count as lost (two losses can make one gap)."""
    return sum(int(m.group(1)) for line in lines if f"session={session} event=seq-gap " in line
               for m in [re.search(r" lost=(\d+)", line)] if m)


def listener_evidence(f: Fault, out: str) -> bool:
    if f.kind == "nr-gap":
        return lost(out.splitlines(), "listener") > f.detail["nth_gap"]
    return f"listener: report {f.exec_id} stored with what the dictionary does not allow" in out


def check(sim, gws, rec, disk, subs, acks, injected, keys, caplog, trades, unsent, took):
    # every order was answered (a lost report is recovered, a dropped RT session resends)
    unanswered = 0
    for ack in acks:
        try:
            ack.wait(60)
        except TimeoutError:
            unanswered += 1
    # gateways: every fill the exchange made, applied once; positions equal the exchange's
    rows = {}
    for who, gw in gws.items():
        gw.dispatcher.flush()
        applied, repeats, no_taker_flag = [], 0, set()
        while True:
            try:
                ev = subs[who].get(timeout=0.2)
            except Exception:
                break
            if ev.fill is None:
                if isinstance(ev.message, ExecutionReport) and ev.message.exec_type is ExecType.TRADE and not ev.error:
                    repeats += 1  # a drop-copy replay of a report already applied
                continue
            if ev.position is None:
                repeats += 1  # a report seen again (RT resend, drop-copy replay): not applied twice
                continue
            if any(a.tag == 1057 for a in ev.message.anomalies):
                no_taker_flag.add((ev.fill.fill_id, ev.fill.order_id))
            applied.append(as_json(ev.fill))
        ledger = sim.cmd(cmd="ledger", product="event", account=who)
        exchange = [as_json(Fill.model_validate(f)) for f in ledger["fills"]]
        key = lambda f: (f["fill_id"], f["order_id"])  # noqa: E731
        ours = {key(f): f for f in applied}
        theirs = {key(f): f for f in exchange}
        for k in no_taker_flag:  # a taker flag the dictionary does not know is not the exchange's
            ours[k].pop("is_taker"), theirs.get(k, {}).pop("is_taker", None)
        missing, extra = theirs.keys() - ours.keys(), ours.keys() - theirs.keys()
        differ = [k for k in ours.keys() & theirs.keys() if ours[k] != theirs[k]]
        assert not missing and not extra and not differ and len(applied) == len(ours), \
            f"{who}: {len(missing)} fills missing, {len(extra)} unknown, {len(differ)} differ, " \
            f"{len(applied) - len(ours)} applied twice"
        positions = gw.positions()["market_positions"]
        assert [as_json(p) for p in positions] == \
               [as_json(MarketPosition.model_validate(p)) for p in ledger["positions"]["market_positions"]]
        rows[who] = dict(exchange=len(exchange), applied=len(ours), missing=len(missing), twice=0, repeats=repeats)
    # recorder: the drop-copy journal's ExecIDs, each stored once
    journal = sim.cmd(cmd="dropcopy", account="alice", product="event")["exec_ids"]

    def stored():
        store = open_store(rec.url)
        try:
            return store.count("alice", "event"), store.exec_ids("alice", "event")
        finally:
            store.close()
    try:
        wait_for(lambda: stored()[1] >= set(journal), 90, "the recorder to catch up")
    except AssertionError:
        missing = sorted(set(journal) - stored()[1], key=lambda e: [int(x) for x in e.split(";")])
        raise AssertionError(f"the recorder never stored {missing} (recorder up: {rec.up}); its log ends:\n"
                             + rec.output()[-4000:]) from None
    assert rec.stop() == 0, rec.output()[-3000:]
    count, ids = stored()
    assert ids == set(journal) and count == len(journal), \
        f"recorder: {len(set(journal) - ids)} missing, {len(ids - set(journal))} unknown, {count - len(ids)} twice"
    rows["recorder"] = dict(exchange=len(journal), applied=len(ids), missing=len(set(journal) - ids),
                            twice=count - len(ids), repeats=0)
    # every injected fault is visible in status or in the logs
    status = {s.name: s for gw in gws.values() for s in gw.status()}
    logs = [r.getMessage() for r in caplog.records]
    out = rec.output()
    invisible = [f for f in injected if not visible(f, sim, status, logs, out, keys, injected)]
    table = summary(injected, invisible, rows, trades, unsent, unanswered, took, disk)
    print("\n" + table)
    assert not invisible, f"faults not visible in status or logs: {invisible}\n{table}"
    assert unanswered == 0, table


def visible(f: Fault, sim, status, logs, out, keys, injected) -> bool:
    same = [g for g in injected if (g.kind, g.target) == (f.kind, f.target)]
    if f.kind == "logout":
        s = status[f.target]
        return any(f.detail["text"] in e["error"] for e in s.errors) or \
            any(f"session={f.target} " in m and f.detail["text"] in m for m in logs)
    if f.kind == "disconnect":
        cut = sum(1 for m in logs if f"session={f.target} event=disconnected" in m and "lost while logged on" in m)
        return cut >= len(same)
    if f.kind == "nr-gap" and f.target == "alice-nr":
        return lost(logs, "alice-nr") == len(same) and 1 <= status["alice-nr"].metrics["seq_gaps"] <= len(same)
    if f.kind == "nr-gap":
        return listener_evidence(f, out)
    if f.kind in SPOIL:
        f.exec_id = f.exec_id or applied_exec_id(sim, f, keys)
        if f.exec_id is None:
            return False
        if f.target == "listener":
            return listener_evidence(f, out)
        return any(f"session={f.target} event=anomaly" in m and f"exec_id={f.exec_id} " in m
                   and f"tag={f.detail['tag']} " in m for m in logs)
    if f.kind == "recorder-kill":
        return out.count("backfill event: from") >= len(same)
    if f.kind == "store-full":
        return "database or disk is full" in out and "STORE FAILED" in out
    raise AssertionError(f.kind)


def summary(injected, invisible, rows, trades, unsent, unanswered, took, disk) -> str:
    kinds = Counter(f.kind for f in injected)
    hidden = Counter(f.kind for f in invisible)
    lines = [f"fault campaign: seed {SEED}, {trades} trades ({unsent} orders refused before sending while a "
             f"session was down), {took:.0f} s", "",
             "| fault | injected | visible in status/logs |", "|---|---:|---:|"]
    for k in KINDS:
        if k == "store-full" and not disk.mounted:
            lines.append(f"| {k} | 0 | {disk.why} |")
        else:
            lines.append(f"| {k} | {kinds[k]} | {kinds[k] - hidden[k]} |")
    lines += ["", "| where | reports at the exchange | held | lost | twice | repeats taken once |",
              "|---|---:|---:|---:|---:|---:|"]
    for who, r in rows.items():
        what = "drop-copy ExecIDs" if who == "recorder" else "fills"
        lines.append(f"| {who} ({what}) | {r['exchange']} | {r['applied']} | {r['missing']} | {r['twice']} | "
                     f"{r['repeats']} |")
    lines.append(f"\norders never answered: {unanswered}")
    return "\n".join(lines)

