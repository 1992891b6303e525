"""The simulator process: TLS acceptor, registered keys, Kalshi's session rules.

Keys are registered by dropping public keys into ``<keys>/<product>/<account>/<api-key-id>.pub.pem``
(several keys of one account share its orders, fills and positions; a key directly under
``<keys>/<product>/`` is an account of its own). Kalshi says not to share keys between
the event-contract and margin gateways.
For every registered key the simulator defines KalshiNR, KalshiDC and KalshiRT
sessions on the product's ports; the port a client connects to must match its
TargetCompID (QuickFIX drops a Logon for a session that is not on that port).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

import quickfix as fix
from cryptography.hazmat.primitives.asymmetric import rsa

from fixgw.config import CFG_DIR, SPEC_DIR
from fixgw.kalshi import BASE_PORT, LOCAL_MARGIN_PORT_BASE, RULES, Kind, Product
from fixgw.errors import SimulatorError
from fixgw.fix import tags
from fixgw.adapter.guard import PASS_THROUGH, guarded
from fixgw.adapter.logs import RedactingLogFactory
from fixgw.signing import load_public_key
from fixgw.sim import fcm
from fixgw.sim.router import Router
from fixgw.sim.rules import Refusal, SimSession, check_logon

log = logging.getLogger("fixgw.sim")

# What the Logon check reads: the signed header fields, and the body's session flags.
_LOGON_HEADER = (tags.MSG_SEQ_NUM, tags.MSG_TYPE, tags.SENDER_COMP_ID, tags.SENDING_TIME, tags.TARGET_COMP_ID)
_LOGON_BODY = (tags.RAW_DATA, tags.HEART_BT_INT, tags.RESET_SEQ_NUM_FLAG, tags.CANCEL_ORDERS_ON_DISCONNECT,
               tags.LISTENER_SESSION, tags.RECEIVE_SETTLEMENT_REPORTS, tags.MESSAGE_RETENTION_PERIOD, tags.USE_DOLLARS,
               tags.ENABLE_IOC_CANCEL_REPORT, tags.PRESERVE_ORIGINAL_ORDER_QTY, tags.SKIP_PENDING_EXEC_REPORTS,
               tags.USE_EXPIRED_ORD_STATUS, tags.ALWAYS_EMIT_NEW_BEFORE_TRADE, tags.SPLIT_COLLATERAL_RETURN)


@dataclass(frozen=True)
class Answer(Refusal):
    ref_seq: str = "1"


@dataclass
class SimOptions:
    state_dir: Path
    keys_dir: Path
    cert_file: Path
    key_file: Path
    port_base: dict[Product, int] = field(default_factory=lambda: {
        Product.EVENT: BASE_PORT, Product.MARGIN: LOCAL_MARGIN_PORT_BASE})
    log_messages: bool = True  # every message in STATE/log/*.messages.log (costs time under load)


class SimApplication(fix.Application):
    def __init__(self, sessions: dict[str, SimSession], public_keys: dict[str, rsa.RSAPublicKey]):
        super().__init__()
        self.sessions = sessions
        self.public_keys = public_keys
        self.router = Router(sessions)
        self._logon_body: dict[str, dict[int, str]] = {}
        self.logged_on: dict[str, str] = {}  # api key id -> SessionID string
        self.refusals: list[tuple[str, str]] = []
        self._answer: dict[str, Answer] = {}  # how to word the Logout QuickFIX is about to send
        self.received: list[tuple[str, str]] = []  # (SessionID, raw) of application messages
        self._drop: set[str] = set()  # sessions to disconnect from the acceptor's own thread
        self._lock = threading.Lock()

    def drop(self, session_id: fix.SessionID) -> None:
        """Cut a connection abruptly, but on QuickFIX's thread.

        Session.disconnect() from another thread closes the socket while the
        acceptor may still use it; the descriptor number is then reused (by the
        control socket, say) and the dead TLS connection's close_notify lands in
        a stranger's stream. So send a TestRequest and disconnect when the next
        admin message from that session (its Heartbeat answer) arrives on the
        acceptor's thread.
        """
        with self._lock:
            self._drop.add(session_id.toString())
        probe = fix.Message()
        probe.getHeader().setField(tags.MSG_TYPE, "1")
        probe.setField(tags.TEST_REQ_ID, f"drop-{time.time_ns()}")
        fix.Session.sendToTarget(probe, session_id)

    def _dropping(self, session_id) -> bool:
        sid = session_id.toString()
        with self._lock:
            if sid not in self._drop:
                return False
            self._drop.discard(sid)
        fix.Session.lookupSession(session_id).disconnect()
        return True

    def callback_failed(self, callback: str, args: tuple, exc: BaseException) -> None:
        log.error("simulator callback %s failed: %s: %s", callback, type(exc).__name__, exc)

    # QuickFIX checks SendingTime before fromAdmin sees a Logon, and it will not send a
    # Reject before logon; Kalshi answers a skewed Logon with Reject 373=10. So latency
    # checking (CheckLatency=N in cfg/simulator.cfg) is on only while a session is logged
    # on, and the Logon check does it itself.
    @guarded
    def onCreate(self, session_id):
        pass

    @guarded
    def onLogon(self, session_id):
        sid = session_id.toString()
        fix.Session.lookupSession(session_id).setCheckLatency(True)
        with self._lock:
            self.logged_on[self.sessions[sid].api_key_id] = sid
            body = self._logon_body.pop(sid, {})
        self.router.logon(sid, body)

    @guarded
    def onLogout(self, session_id):
        sid = session_id.toString()
        fix.Session.lookupSession(session_id).setCheckLatency(False)
        self.router.logout(sid)
        with self._lock:
            key = self.sessions[sid].api_key_id
            if self.logged_on.get(key) == sid:
                del self.logged_on[key]

    @guarded
    def toAdmin(self, message, session_id):
        header = message.getHeader()
        msg_type = header.getField(tags.MSG_TYPE)
        if msg_type == "A" and self.sessions[session_id.toString()].product is Product.MARGIN:
            message.setField(fix.StringField(tags.USE_DOLLARS, "Y"))  # margin prices are dollars, whatever was asked
            return
        if msg_type != "5":
            return
        with self._lock:
            refusal = self._answer.pop(session_id.toString(), None)
        if refusal is None:
            return
        if refusal.reject_reason is None:  # Kalshi's words, without QuickFIX's prefix
            message.setField(fix.StringField(tags.TEXT, refusal.text))
            return
        # QuickFIX sends this message because it was a Logout when it was built.
        header.setField(fix.StringField(tags.MSG_TYPE, "3"))
        message.setField(fix.StringField(tags.REF_SEQ_NUM, refusal.ref_seq))
        message.setField(fix.StringField(tags.REF_MSG_TYPE, "A"))
        message.setField(fix.StringField(tags.SESSION_REJECT_REASON, str(refusal.reject_reason)))
        message.setField(fix.StringField(tags.TEXT, refusal.text))

    @guarded
    def toApp(self, message, session_id):
        pass

    def fromAdmin(self, message, session_id):
        # Not behind the guard's swallow: RejectLogon must reach QuickFIX.
        try:
            if self._drop and self._dropping(session_id):
                return
            if message.getHeader().getField(tags.MSG_TYPE) == "A":
                self._check_logon(message, session_id)
        except PASS_THROUGH:
            raise
        except BaseException as exc:  # noqa: BLE001
            log.error("logon check failed: %s: %s", type(exc).__name__, exc)
            raise fix.RejectLogon("internal error") from None

    def _check_logon(self, message, session_id) -> None:
        sid = session_id.toString()
        s = self.sessions[sid]
        header = {t: message.getHeader().getField(t) for t in _LOGON_HEADER}
        body = {t: message.getField(t) for t in _LOGON_BODY
                if message.isSetField(t)}
        with self._lock:
            other = self.logged_on.get(s.api_key_id)
            refusal = check_logon(s, header, body, self.public_keys[s.api_key_id],
                                  key_in_use_elsewhere=other is not None and other != sid)
            if refusal is not None:
                self.refusals.append((sid, refusal.text))
                self._answer[sid] = Answer(refusal.text, refusal.reject_reason, header[tags.MSG_SEQ_NUM])
            else:
                self._logon_body[sid] = body
        if refusal is not None:
            log.info("refused logon session=%s reason=%s", sid, refusal.text)
            raise fix.RejectLogon(refusal.text)

    @guarded
    def fromApp(self, message, session_id):
        # Never cut on an application message: QuickFIX may count it as received although it
        # was skipped (lost for good: RT never resends it) or not (then processed twice after
        # the resend). The probe's Heartbeat answer, an admin message, cuts the connection.
        raw = message.toString()
        with self._lock:
            self.received.append((session_id.toString(), raw))
        self.router.request(session_id.toString(), raw)


def register_keys(keys_dir: Path) -> dict[tuple[Product, str], tuple[Path, str]]:
    """(product, key id) -> (public key file, account)."""
    found: dict[tuple[Product, str], tuple[Path, str]] = {}
    for product in Product:
        d = keys_dir / product.value
        if not d.is_dir():
            continue
        for p in sorted(d.glob("*.pub.pem")) + sorted(d.glob("*/*.pub.pem")):
            key_id = p.name.removesuffix(".pub.pem")
            try:
                uuid.UUID(key_id)
            except ValueError:
                raise SimulatorError(f"{p}: file name must be <api-key-uuid>.pub.pem") from None
            found[(product, key_id)] = (p, key_id if p.parent == d else p.parent.name)
    if not found:
        raise SimulatorError(f"no public keys registered under {keys_dir}/event or {keys_dir}/margin")
    return found


class Simulator:
    def __init__(self, opts: SimOptions):
        self.opts = opts
        keys = register_keys(opts.keys_dir)
        self.public_keys = {key_id: load_public_key(p) for (_, key_id), (p, _) in keys.items()}
        self.sessions: dict[str, SimSession] = {}
        for (product, key_id), (_, account) in keys.items():
            for kind in Kind:
                port = opts.port_base[product] + RULES[kind].port_offset
                s = SimSession(product, kind, key_id, port, account)
                self.sessions[f"FIXT.1.1:{s.target}->{key_id}"] = s
        self.app = SimApplication(self.sessions, self.public_keys)
        for product, engine in self.app.router.engines.items():
            engine.fcm = fcm.load(opts.keys_dir, product.value)
        self._acceptor = None

    def render(self) -> str:
        o = self.opts
        parts = [Template((CFG_DIR / "simulator.cfg").read_text()).substitute(
            cert_file=o.cert_file, key_file=o.key_file, state_dir=o.state_dir, spec_dir=SPEC_DIR)]
        for s in self.sessions.values():
            rules = RULES[s.kind]
            parts.append("\n".join([
                "[SESSION]", f"SenderCompID={s.target}", f"TargetCompID={s.api_key_id}",
                f"SocketAcceptPort={s.port}", f"AppDataDictionary={SPEC_DIR}/kalshi-{s.product.value}.xml",
                f"ResetOnLogon={'Y' if rules.reset_on_logon else 'N'}",
                f"ResetOnDisconnect={'Y' if rules.reset_on_logon else 'N'}",
                f"PersistMessages={'Y' if rules.retransmission else 'N'}", "",
            ]))
        return "\n".join(parts)

    def start(self) -> "Simulator":
        o = self.opts
        o.state_dir.mkdir(parents=True, exist_ok=True)
        path = o.state_dir / "simulator.cfg"
        path.write_text(self.render())
        settings = fix.SessionSettings(str(path))
        names = {sid: f"{s.product.value}-{s.target}-{s.api_key_id}" for sid, s in self.sessions.items()}
        self._logs = RedactingLogFactory(o.state_dir / "log", names, messages=o.log_messages)
        try:
            self._acceptor = fix.SSLSocketAcceptor(self.app, fix.FileStoreFactory(settings), settings, self._logs)
            self._acceptor.start()
        except fix.ConfigError as e:
            raise SimulatorError(f"cannot start the acceptor: {e}") from None
        except fix.RuntimeError as e:
            raise SimulatorError(f"cannot listen (port in use?): {e}") from None
        return self

    def stop(self) -> None:
        if self._acceptor is not None:
            self._acceptor.stop()
            self._acceptor = None

    def session(self, target: str, api_key_id: str) -> fix.Session:
        session = fix.Session.lookupSession(fix.SessionID("FIXT.1.1", target, api_key_id))
        if session is None:
            raise SimulatorError(f"no session {target} for key {api_key_id}")
        return session

    def send(self, target: str, api_key_id: str, msg_type: str, fields: list[tuple[int, str]]) -> int:
        """Send an application message to one session (stored for resend on RT when offline)."""
        session = self.session(target, api_key_id)
        msg = fix.Message()
        msg.getHeader().setField(fix.StringField(tags.MSG_TYPE, msg_type))
        for tag, value in fields:
            msg.setField(fix.StringField(int(tag), str(value)))
        seq = session.getExpectedSenderNum()
        if not fix.Session.sendToTarget(msg, fix.SessionID("FIXT.1.1", target, api_key_id)):
            raise SimulatorError(f"QuickFIX did not send to {target}/{api_key_id}")
        return seq

    def status(self) -> list[dict]:
        out = []
        for sid, s in self.sessions.items():
            session = fix.Session.lookupSession(fix.SessionID("FIXT.1.1", s.target, s.api_key_id))
            out.append({
                "session": sid, "product": s.product.value, "target": s.target,
                "api_key_id": s.api_key_id, "port": s.port,
                "logged_on": bool(session and session.isLoggedOn()),
                "next_out": session.getExpectedSenderNum() if session else None,
                "next_in": session.getExpectedTargetNum() if session else None,
            })
        return out
