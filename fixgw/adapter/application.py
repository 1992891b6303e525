"""The quickfix.Application of the gateway: guard, sign, route, hand off.

Every callback runs behind :func:`fixgw.guard.guarded`: an exception escaping a
SWIG director makes the binding call ``Py_Exit(1)``, so anything but QuickFIX's
own control-flow exceptions is caught, logged with the session's name, recorded
as the session's last error and counted (``metrics.callback_errors``). Callbacks
never run user code and never keep a ``quickfix.Message`` past their return: an
inbound application message is read as text, decoded (:meth:`GatewayApplication.decode`)
and handed to the gateway's ``sink``, unless the ``raw_sink`` (the recorder) takes
the text first to decode it on its own thread.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, NamedTuple

import quickfix as fix

from fixgw.fix import codec as fields, lenient, tags
from fixgw.config import SessionConfig
from fixgw.errors import DecodeError
from fixgw.adapter.guard import guarded
from fixgw.metrics import SessionMetrics, msg_type_of
from fixgw.models.fix import ExecutionReport
from fixgw.orders import GROUP_KEY, Registry
from fixgw.pricing import Units
from fixgw.signing import Signer, pre_hash
from fixgw.state import Event, Lifecycle, State

log = logging.getLogger("fixgw.application")



class Inbound(NamedTuple):
    """One application message from a session, decoded inside the callback.

    ``message`` is the model and ``raw`` the message as received (the recorder
    stores it); when the message could not be decoded ``message`` is None and
    ``error`` says why (naming the MsgType and tag), so nothing is lost. A
    NamedTuple: immutable like a frozen dataclass, and cheaper to build on
    QuickFIX's thread.
    """

    session: str
    message: object | None
    raw: str | None = None
    error: str | None = None


@dataclass
class SessionRuntime:
    config: SessionConfig
    signer: Signer
    lifecycle: Lifecycle
    registry: Registry | None = None
    inbound: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    unknown_tags: set[int] = field(default_factory=set)
    attempt_reject: str | None = None  # a Reject received while logging on
    fix_session: object | None = None  # quickfix.Session, looked up once per initiator
    metrics: SessionMetrics = field(default_factory=SessionMetrics)  # counts + ack latency
    # (MsgSeqNum, wire text) of a message QuickFIX delivers although it failed validation:
    # set from its event line on QuickFIX's thread just before that message's fromApp.
    invalid: tuple[str, str | None] | None = None
    last_event: str | None = None  # QuickFIX's newest event line that says something (not "Disconnecting")
    last_exec_id: str | None = None  # of the newest report received (where a gap recovery starts)
    peers: list = field(default_factory=list)  # KalshiDC: its product's registries (a replay resolves acks)

    @cached_property  # a session's units never change: every order and report asks
    def units(self) -> Units:
        return Units.DOLLARS if self.config.dollars else Units.CENTS

    @property
    def key(self) -> str:
        """QuickFIX's SessionID string for this session."""
        return f"FIXT.1.1:{self.config.api_key_id}->{self.config.target}"


# What the order path on this thread is about to send: (runtime, MsgType, ack key, quickfix.Session).
# QuickFIX calls toApp synchronously inside Session.send on the sending thread.
_sending = threading.local()


def sending(rt: "SessionRuntime", msg_type: str, key: str, fix_session) -> None:
    _sending.request = (rt, msg_type, key, fix_session)


def sent() -> None:
    _sending.request = None


def _get(fm: fix.FieldMap, tag: int) -> str | None:
    return fm.getField(tag) if fm.isSetField(tag) else None


class GatewayApplication(fix.Application):
    """Signs Logons, applies Kalshi's flags, tracks state, hands messages off."""

    def __init__(self, runtimes: list[SessionRuntime]):
        super().__init__()
        self.by_key = {rt.key: rt for rt in runtimes}
        self.sink: Callable[[SessionRuntime, Inbound], None] | None = None  # set by the gateway
        # Offered every inbound application message (runtime, MsgType, raw, invalid) before it is
        # decoded; True: taken, and the taker decodes it later with decode() (the recorder's writer does).
        self.raw_sink: Callable[[SessionRuntime, str, str, bool], bool] | None = None

    # -- plumbing -------------------------------------------------------
    def runtime(self, session_id: fix.SessionID) -> SessionRuntime:
        return self.by_key[session_id.toString()]

    def callback_failed(self, callback: str, args: tuple, exc: BaseException) -> None:
        name = "?"
        for a in args:
            if isinstance(a, fix.SessionID) and a.toString() in self.by_key:
                rt = self.by_key[a.toString()]
                name = rt.config.name
                rt.lifecycle.note_error(f"internal error in {callback}: {type(exc).__name__}: {exc}")
                rt.metrics.callback_errors += 1
        log.error("session=%s callback=%s error=%s: %s", name, callback, type(exc).__name__, exc)

    # -- quickfix.Application -------------------------------------------
    @guarded
    def onCreate(self, session_id):
        pass

    @guarded
    def onLogon(self, session_id):
        rt = self.runtime(session_id)
        rt.lifecycle.fire(Event.LOGON_OK)
        log.info("session=%s event=logon", rt.config.name)

    @guarded
    def onLogout(self, session_id):
        rt = self.runtime(session_id)
        error, lc = None, rt.lifecycle
        if lc.state is State.LOGGING_ON and lc.open_error is None:
            error = "connection closed before the Logon was answered"
        elif lc.state is State.LOGGED_ON:  # dropped without a Logout: the reason survives the reconnect
            lc.note_error(f"connection to {rt.config.target} lost while logged on" + (
                f" ({rt.last_event})" if rt.last_event else ""), attempt=False)
        rt.lifecycle.fire(Event.DISCONNECTED, error)
        log.info("session=%s event=disconnected error=%s", rt.config.name, rt.lifecycle.last_error)

    @guarded
    def toAdmin(self, message, session_id):
        rt = self.runtime(session_id)
        msg_type = message.getHeader().getField(tags.MSG_TYPE)
        rt.metrics.outbound(msg_type)
        if msg_type == "A":
            self.sign_logon(message, rt)
            rt.attempt_reject = None
            rt.lifecycle.fire(Event.LOGON_SENT)
        elif msg_type == "5":
            rt.lifecycle.fire(Event.LOGOUT_SENT)

    def sign_logon(self, message: fix.Message, rt: SessionRuntime) -> None:
        """Add Kalshi's flags and RawData, signed over the header QuickFIX filled."""
        for tag, value in rt.config.logon_fields():
            message.setField(fix.StringField(tag, value))
        header = message.getHeader()
        signature = rt.signer.sign(pre_hash(
            header.getField(tags.SENDING_TIME), "A", header.getField(tags.MSG_SEQ_NUM),
            header.getField(tags.SENDER_COMP_ID), header.getField(tags.TARGET_COMP_ID),
        ))
        message.setField(fix.IntField(tags.RAW_DATA_LENGTH, len(signature)))
        message.setField(fix.StringField(tags.RAW_DATA, signature))

    @guarded
    def fromAdmin(self, message, session_id):
        rt = self.runtime(session_id)
        msg_type = message.getHeader().getField(tags.MSG_TYPE)
        rt.metrics.inbound(msg_type)
        if msg_type == "5":
            text = _get(message, tags.TEXT)
            if rt.lifecycle.state is State.LOGGING_ON:
                why = text or rt.attempt_reject or "Logout without Text(58)"
                reason = f"Logon refused by {rt.config.target}: {why}"
                rt.lifecycle.note_error(reason)
                log.warning("session=%s event=logon-refused reason=%s", rt.config.name, text)
            elif text:
                rt.lifecycle.note_error(f"Logout from {rt.config.target}: {text}")
        elif msg_type == "3":
            code = _get(message, tags.SESSION_REJECT_REASON)
            text = _get(message, tags.TEXT) or ""
            name = tags.SESSION_REJECT_REASONS.get(int(code), "unknown") if code and code.isdigit() else "no 373"
            ref = _get(message, tags.REF_MSG_TYPE)
            reason = f"Reject 373={code} ({name}){' of 35=' + ref if ref else ''}: {text}".rstrip(": ")
            log.warning("session=%s event=reject reason=%s", rt.config.name, reason)
            if rt.lifecycle.state is State.LOGGING_ON:
                rt.attempt_reject = reason
                rt.lifecycle.note_error(f"Logon refused by {rt.config.target}: {reason}")
                return
            rt.lifecycle.note_error(reason)
            self._app_message(rt, message.toString())  # a reject of one of our requests is data too

    @guarded
    def toApp(self, message, session_id):
        sending = getattr(_sending, "request", None)
        if sending is not None:  # our own order path on this thread: it told us what it sends
            _sending.request = None
            rt, msg_type, key, fix_session = sending
            cl_ord_id = None if key == GROUP_KEY else key
            # Session::send has just set 34 to the session's next sender number (it holds the
            # session's lock): one SWIG call returning an int instead of Header proxy + getField.
            seq = fix_session.getExpectedSenderNum()
        else:  # a resend, or a message sent some other way: read it (one SWIG call per field)
            rt = self.runtime(session_id)
            header, cl_ord_id = message.getHeader(), _get(message, tags.CL_ORD_ID)
            msg_type = header.getField(tags.MSG_TYPE)
            key = cl_ord_id if cl_ord_id is not None else GROUP_KEY
            seq = int(header.getField(tags.MSG_SEQ_NUM))
        rt.metrics.outbound(msg_type, cl_ord_id)
        if rt.registry is not None:  # remember which request a 35=3/35=j RefSeqNum points at
            rt.registry.sent(seq, key)

    @guarded
    def fromApp(self, message, session_id):
        rt = self.runtime(session_id)
        invalid, raw = rt.invalid, None
        if invalid is not None:  # decode what was on the wire, not QuickFIX's re-serialisation
            rt.invalid = None
            if invalid[1] is not None and invalid[0] == message.getHeader().getField(tags.MSG_SEQ_NUM):
                raw = invalid[1]
        if raw is None:
            raw = message.toString()
        msg_type = msg_type_of(raw)
        rt.metrics.inbound(msg_type)
        if self.raw_sink is not None and self.raw_sink(rt, msg_type, raw, invalid is not None):
            return
        self._app_message(rt, raw, invalid=invalid is not None)

    def _app_message(self, rt: SessionRuntime, raw: str, invalid: bool = False) -> None:
        self.deliver(rt, self.decode(rt, raw, invalid))

    def decode(self, rt: SessionRuntime, raw: str, invalid: bool = False) -> Inbound:
        """An inbound message as the sink gets it, with the session's bookkeeping (decode errors,
        unknown tags, anomalies, ack timers, the order registries); on QuickFIX's thread unless
        taken raw. ``invalid``: QuickFIX's validation refused it, so it goes to the lenient decoder."""
        try:
            if invalid:  # QuickFIX's validation refused it: straight to the lenient decoder
                model, unknown = lenient.decode(raw, rt.units)
            else:
                try:
                    model, unknown = fields.decode_raw_with_unknown(raw, rt.units)
                except DecodeError:  # keep what can be kept: a fill must not be lost to one field
                    model, unknown = lenient.decode(raw, rt.units)
        except DecodeError as e:
            rt.metrics.decode_error()
            reason = f"undecodable message kept as raw: {e}"
            rt.lifecycle.note_error(reason)
            log.error("session=%s event=decode-error error=%s", rt.config.name, e)
            return Inbound(rt.config.name, None, raw, reason)
        if unknown and not rt.unknown_tags.issuperset(unknown):
            rt.unknown_tags.update(unknown)
            log.warning("session=%s event=unknown-tags msg_type=%s tags=%s", rt.config.name, type(model).__name__,
                        ",".join(map(str, unknown)))
        if getattr(model, "anomalies", None):
            self._anomalies(rt, model)
        rt.metrics.answered(model)
        if model.__class__ is ExecutionReport and not model.is_pending:
            rt.last_exec_id = model.exec_id
            for registry in rt.peers:
                registry.apply(model)
        if rt.registry is not None:
            rt.registry.apply(model)
        return Inbound(rt.config.name, model, raw)

    def _anomalies(self, rt: SessionRuntime, model) -> None:
        """Count and log each thing the dictionary does not allow in a message that was kept."""
        rt.metrics.anomalies += len(model.anomalies)
        exec_id = getattr(model, "exec_id", None)
        for a in model.anomalies:
            log.warning("session=%s event=anomaly msg_type=%s exec_id=%s tag=%d value=%r problem=%s",
                        rt.config.name, type(model).__name__, exec_id, a.tag, a.value, a.problem)

    def deliver(self, rt: SessionRuntime, item: Inbound) -> None:
        if self.sink is not None:
            self.sink(rt, item)
        else:
            rt.inbound.put(item)
