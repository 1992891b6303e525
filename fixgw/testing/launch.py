"""Start the simulator as a child process (demo, tests, benchmarks) and talk to it."""

from __future__ import annotations

import json
import random
import select
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from fixgw import config as cfgmod
from fixgw.errors import SimulatorError
from fixgw.signing import generate_keypair
from fixgw.sim import control


@dataclass
class Account:
    api_key_id: str
    private_key: Path
    public_key: Path


def make_account(directory: Path, sim_keys: Path | None, product: str = "event",
                 account: str | None = None, subtraders: list[str] | None = None) -> Account:
    """A fresh key pair under a new API key id, registered with the simulator when ``sim_keys``
    is given: under ``account`` when named (keys of one account share orders and positions);
    ``subtraders`` (UUIDs) make that account an FCM member (:mod:`fixgw.sim.fcm`)."""
    key_id = str(uuid.uuid4())
    priv, pub = generate_keypair(directory / f"{key_id}.pem")
    if sim_keys is not None:
        d = sim_keys / product / account if account else sim_keys / product
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{key_id}.pub.pem").write_bytes(pub.read_bytes())
        if subtraders:
            if not account:
                raise ValueError("an FCM member needs a named account")
            (d / "subtraders").write_text("".join(f"{s}\n" for s in subtraders))
    return Account(key_id, priv, pub)


def free_port_base(span: int = 3) -> int:
    """A base port such that base..base+span-1 can all be bound on every interface."""
    for _ in range(200):
        base = random.randrange(20000, 60000)
        socks = []
        try:
            for p in range(base, base + span):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("0.0.0.0", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise SimulatorError("no free port range")


class SimProcess:
    """A ``fixgw sim`` child with its own keys, state, throw-away TLS and free ports."""

    def __init__(self, root: Path, log_messages: bool = True):
        self.root, self.log_messages = root, log_messages
        self.keys = root / "keys"
        self.keys.mkdir(parents=True, exist_ok=True)
        self.state = root / "state"
        self.tls_dir = root / "tls"
        self.ports = {"event": free_port_base(), "margin": free_port_base()}
        self.rest_port = free_port_base(1)  # the ledger's Kalshi REST endpoints
        self.proc: subprocess.Popen | None = None

    @property
    def ca_file(self) -> Path:
        return self.tls_dir / "ca.pem"

    def start(self, timeout: float = 30.0) -> "SimProcess":
        cmd = [sys.executable, "-m", "fixgw", "sim", "--state", str(self.state), "--keys", str(self.keys),
               "--tls-dir", str(self.tls_dir), "--event-port-base", str(self.ports["event"]),
               "--margin-port-base", str(self.ports["margin"]), "--rest-port", str(self.rest_port)] + ([] if self.log_messages else ["--no-message-log"])
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(self.root / "sim.stderr", "ab"),
                                     text=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if r:
                line = self.proc.stdout.readline()
                if line and json.loads(line).get("ready"):
                    self.control = Path(json.loads(line)["control"])
                    return self
            if self.proc.poll() is not None:
                raise SimulatorError(f"simulator exited: {(self.root / 'sim.stderr').read_text()}")
        raise SimulatorError("simulator did not become ready")

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}/trade-api/v2"

    def stop(self) -> int:
        if self.proc is None:
            return 0
        self.proc.terminate()
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:  # said, then killed: a stuck simulator must not hang its caller
            print(f"simulator (pid {self.proc.pid}, {self.root}) did not exit within 15 s of SIGTERM; killed",
                  file=sys.stderr, flush=True)
            self.proc.kill()
            return self.proc.wait(15)
        finally:
            self.proc = None

    def cmd(self, **payload) -> dict:
        return control.request(self.control, payload)

    def session(self, target: str, api_key_id: str) -> dict:
        for s in self.cmd(cmd="status")["sessions"]:
            if s["target"] == target and s["api_key_id"] == api_key_id:
                return s
        raise KeyError((target, api_key_id))

    def wait_session(self, target: str, api_key_id: str, logged_on: bool, timeout: float = 10.0) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            s = self.session(target, api_key_id)
            if s["logged_on"] == logged_on:
                return s
            time.sleep(0.05)
        raise AssertionError(f"{target}/{api_key_id} logged_on != {logged_on}")


def gateway_config(state_dir: Path, sim: "SimProcess", sessions: list[dict], **extra) -> cfgmod.GatewayConfig:
    """A local-environment config pointing at ``sim``; each session dict gives name/product/type/account."""
    out = []
    for s in sessions:
        s = dict(s)
        acct: Account = s.pop("account")
        out.append({"api_key_id": acct.api_key_id, "private_key": str(s.pop("private_key", acct.private_key)), **s})
    data = {"environment": "local", "state_dir": str(state_dir), "ca_file": str(extra.pop("ca_file", sim.ca_file)),
            "port_base": {"event": sim.ports["event"], "margin": sim.ports["margin"]},
            "reconnect_interval": extra.pop("reconnect_interval", 1), "session": out, **extra}
    return cfgmod.parse(data)
