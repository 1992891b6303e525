"""The quickfix.Application of the gateway: guard, sign, route, hand off.

Every callback runs behind :func:`fixgw.adapter.guard.guarded`: an exception escaping a
SWIG director makes the binding call ``Py_Exit(1)``, so anything but QuickFIX's
own control-flow exceptions is caught, logged with the session's name, recorded
as the session's last error and counted (``metrics.callback_errors``). Callbacks
never run user code and never keep a ``quickfix.Message`` past their return: an
inbound application message is read as text (the wire text when QuickFIX's
validation refused it), its MsgType read and counted in place, and handed on in
one call, ``on_inbound(runtime, msg_type, raw, invalid)``: the gateway wires it to
:meth:`fixgw.dispatch.Dispatcher.receive`. ``on_raw`` (the recorder) is offered the
text first and may take it to decode on its own thread (:meth:`GatewayApplication.decode`).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

import quickfix as fix

from fixgw import dispatch
from fixgw.fix import tags
from fixgw.config import SessionConfig
from fixgw.adapter.guard import guarded
from fixgw.dispatch import Inbound
from fixgw.metrics import Histogram, SessionMetrics
from fixgw.orders import GROUP_KEY, Registry
from fixgw.pricing import Units
from fixgw.signing import Signer, pre_hash
from fixgw.state import Lifecycle, State, Trigger

log = logging.getLogger("fixgw.application")



@dataclass
class SessionRuntime:
    config: SessionConfig
    signer: Signer
    lifecycle: Lifecycle
    registry: Registry | None = None
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


def sending(sess: "SessionRuntime", msg_type: str, key: str, fix_session) -> None:
    _sending.request = (sess, msg_type, key, fix_session)


def sent() -> None:
    _sending.request = None


_MSG_TYPE_AT = f"\x01{tags.MSG_TYPE}="


def _get(fm: fix.FieldMap, tag: int) -> str | None:
    return fm.getField(tag) if fm.isSetField(tag) else None


class GatewayApplication(fix.Application):
    """Signs Logons, applies Kalshi's flags, tracks state, hands messages off."""

    def __init__(self, runtimes: list[SessionRuntime],
                 on_inbound: Callable[[SessionRuntime, str, str, bool], None],
                 on_raw: Callable[[SessionRuntime, str, str, bool], bool] | None = None):
        """``on_inbound(runtime, msg_type, raw, invalid)`` takes every inbound application message
        (the gateway's dispatcher: :meth:`fixgw.dispatch.Dispatcher.receive`); ``on_raw`` with the same
        arguments is offered each one first and returns True when it took it (the recorder's
        writer then decodes it with :meth:`decode`)."""
        super().__init__()
        self.by_key = {sess.key: sess for sess in runtimes}
        # Address of the SessionID each QuickFIX Session passes every callback (its member) -> runtime:
        # one attribute read on the order round trip instead of a SWIG call building the key string.
        self.by_address: dict[int, SessionRuntime] = {}
        for sess in runtimes:
            if sess.registry is not None:  # the registry keeps what metrics reports at snapshot time
                sess.metrics.in_flight = sess.registry.waiting
                sess.metrics.order_ack = Histogram(sess.registry.latencies)
        self.on_inbound = on_inbound
        self.on_raw = on_raw

    # -- plumbing -------------------------------------------------------
    def runtime(self, session_id: fix.SessionID) -> SessionRuntime:
        """The runtime of the session a callback is for: by the address QuickFIX's Session registered
        in ``onCreate``, else (a SessionID made in Python, or a session nobody configured) by its text."""
        sess = self.by_address.get(int(session_id.this))
        return sess if sess is not None else self.by_key[session_id.toString()]

    def callback_failed(self, callback: str, args: tuple, exc: BaseException) -> None:
        name = "?"
        for a in args:
            if isinstance(a, fix.SessionID) and a.toString() in self.by_key:
                sess = self.by_key[a.toString()]
                name = sess.config.name
                sess.lifecycle.note_error(f"internal error in {callback}: {type(exc).__name__}: {exc}")
                sess.metrics.callback_errors += 1
        log.error("session=%s callback=%s error=%s: %s", name, callback, type(exc).__name__, exc)

    # -- quickfix.Application -------------------------------------------
    @guarded
    def onCreate(self, session_id):
        # A new Session may live where a destroyed one did: forget that address before anything else,
        # then remember it for this session if it is one of ours. Only QuickFIX's own SessionIDs come
        # here, and each lives as long as its Session.
        address = int(session_id.this)
        self.by_address.pop(address, None)
        sess = self.by_key.get(session_id.toString())
        if sess is not None:
            self.by_address[address] = sess

    @guarded
    def onLogon(self, session_id):
        sess = self.runtime(session_id)
        sess.invalid = None  # a refused message's line never outlives its connection
        sess.lifecycle.fire(Trigger.LOGON_OK)
        log.info("session=%s event=logon", sess.config.name)

    @guarded
    def onLogout(self, session_id):
        sess = self.runtime(session_id)
        sess.invalid = None
        error, lc = None, sess.lifecycle
        if lc.state is State.LOGGING_ON and lc.open_error is None:
            error = "connection closed before the Logon was answered"
        elif lc.state is State.LOGGED_ON:  # dropped without a Logout: the reason survives the reconnect
            lc.note_error(f"connection to {sess.config.target} lost while logged on" + (
                f" ({sess.last_event})" if sess.last_event else ""), attempt=False)
        sess.lifecycle.fire(Trigger.DISCONNECTED, error)
        log.info("session=%s event=disconnected error=%s", sess.config.name, sess.lifecycle.last_error)

    @guarded
    def toAdmin(self, message, session_id):
        sess = self.runtime(session_id)
        msg_type = message.getHeader().getField(tags.MSG_TYPE)
        sess.metrics.outbound(msg_type)
        if msg_type == "A":
            self.sign_logon(message, sess)
            sess.attempt_reject = None
            sess.lifecycle.fire(Trigger.LOGON_SENT)
        elif msg_type == "5":
            sess.lifecycle.fire(Trigger.LOGOUT_SENT)

    def sign_logon(self, message: fix.Message, sess: SessionRuntime) -> None:
        """Add Kalshi's flags and RawData, signed over the header QuickFIX filled."""
        for tag, value in sess.config.logon_fields():
            message.setField(fix.StringField(tag, value))
        header = message.getHeader()
        signature = sess.signer.sign(pre_hash(
            header.getField(tags.SENDING_TIME), "A", header.getField(tags.MSG_SEQ_NUM),
            header.getField(tags.SENDER_COMP_ID), header.getField(tags.TARGET_COMP_ID),
        ))
        message.setField(fix.IntField(tags.RAW_DATA_LENGTH, len(signature)))
        message.setField(fix.StringField(tags.RAW_DATA, signature))

    @guarded
    def fromAdmin(self, message, session_id):
        sess = self.runtime(session_id)
        msg_type = message.getHeader().getField(tags.MSG_TYPE)
        sess.metrics.inbound(msg_type)
        if msg_type == "5":
            text = _get(message, tags.TEXT)
            if sess.lifecycle.state is State.LOGGING_ON:
                why = text or sess.attempt_reject or "Logout without Text(58)"
                reason = f"Logon refused by {sess.config.target}: {why}"
                sess.lifecycle.note_error(reason)
                log.warning("session=%s event=logon-refused reason=%s", sess.config.name, text)
            elif text:
                sess.lifecycle.note_error(f"Logout from {sess.config.target}: {text}")
        elif msg_type == "3":
            code = _get(message, tags.SESSION_REJECT_REASON)
            text = _get(message, tags.TEXT) or ""
            name = tags.SESSION_REJECT_REASONS.get(int(code), "unknown") if code and code.isdigit() else "no 373"
            ref = _get(message, tags.REF_MSG_TYPE)
            reason = f"Reject 373={code} ({name}){' of 35=' + ref if ref else ''}: {text}".rstrip(": ")
            log.warning("session=%s event=reject reason=%s", sess.config.name, reason)
            if sess.lifecycle.state is State.LOGGING_ON:
                sess.attempt_reject = reason
                sess.lifecycle.note_error(f"Logon refused by {sess.config.target}: {reason}")
                return
            sess.lifecycle.note_error(reason)
            self.on_inbound(sess, msg_type, message.toString(), False)  # a reject of ours is data too

    @guarded
    def toApp(self, message, session_id):
        sending = getattr(_sending, "request", None)
        if sending is not None:  # our own order path on this thread: it told us what it sends
            _sending.request = None
            sess, msg_type, key, fix_session = sending
            # Session::send has just set 34 to the session's next sender number (it holds the
            # session's lock): one SWIG call returning an int instead of Header proxy + getField.
            seq = fix_session.getExpectedSenderNum()
        else:  # a resend, or a message sent some other way: read it (one SWIG call per field)
            sess = self.runtime(session_id)
            header, cl_ord_id = message.getHeader(), _get(message, tags.CL_ORD_ID)
            msg_type = header.getField(tags.MSG_TYPE)
            key = cl_ord_id if cl_ord_id is not None else GROUP_KEY
            seq = int(header.getField(tags.MSG_SEQ_NUM))
        sess.metrics.outbound(msg_type)
        if sess.registry is not None:  # the ack's clock, and which request a 35=3/35=j RefSeqNum names
            sess.registry.sent(seq, key)

    @guarded
    def fromApp(self, message, session_id):
        sess = self.runtime(session_id)
        invalid, raw, refused = sess.invalid, None, False
        if invalid is not None:  # decode what was on the wire, not QuickFIX's re-serialisation
            sess.invalid = None
            refused = invalid[0] == message.getHeader().getField(tags.MSG_SEQ_NUM)  # this message's line
            if refused and invalid[1] is not None:
                raw = invalid[1]
        if raw is None:
            raw = message.toString()
        i = raw.find(_MSG_TYPE_AT)  # MsgType(35), read once from the text
        if i < 0:
            msg_type = "?"
        else:
            j = raw.find("\x01", i + 4)
            msg_type = raw[i + 4:j if j >= 0 else None]
        try:
            if self.on_raw is None or not self.on_raw(sess, msg_type, raw, refused):
                self.on_inbound(sess, msg_type, raw, refused)
        finally:  # counted after handing it on: a caller waiting for this answer is woken first
            metrics = sess.metrics  # counted in place: QuickFIX's socket thread is the only writer
            metrics.msgs_in[msg_type] += 1
            metrics.last_in = time.time()

    def decode(self, sess: SessionRuntime, raw: str, invalid: bool = False) -> Inbound:
        """A message decoded now, with the session's bookkeeping (the recorder's writer decodes
        what it took raw with this); see :func:`fixgw.dispatch.decoded`."""
        model, error = dispatch.decoded(sess, raw, invalid)
        return Inbound(sess.config.name, model, raw, error)
