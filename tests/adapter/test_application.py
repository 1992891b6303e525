"""The QuickFIX adapter without a network: the callback guard and the undecodable-message path.

Acceptance tests drive these through a real session; here each callback is called the way
QuickFIX's thread calls it, on a GatewayApplication built from a parsed config.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from decimal import Decimal

import pytest
import quickfix as fix

from fixgw.fix import codec as fields
from fixgw.adapter.application import GatewayApplication, SessionRuntime
from fixgw.config import parse
from fixgw.dispatch import Dispatcher, Inbound
from fixgw.adapter.guard import guarded
from fixgw.models.fix import ExecType, ExecutionReport, OrdStatus, Side
from fixgw.state import Lifecycle


def runtime() -> SessionRuntime:
    s = parse({"environment": "demo", "ca_file": "ca.pem", "session": [
        dict(name="nr", product="event", type="NR", api_key_id=str(uuid.uuid4()), private_key="k.pem")]}).session[0]
    return SessionRuntime(s, signer=None, lifecycle=Lifecycle(s.name))  # nothing here signs


def wired(rt: SessionRuntime, cls: type[GatewayApplication] = GatewayApplication):
    """The application handing what it receives to a real dispatcher's receive(), which hands
    each message on to ``got`` (as it hands them to the recorder) instead of its thread."""
    got: list = []
    dispatcher = Dispatcher({rt.config.name: "event"}, translating=False, deliver=lambda _rt, item: got.append(item))
    app = cls([rt], on_inbound=dispatcher.receive)
    return app, got, fix.SessionID("FIXT.1.1", rt.config.api_key_id, rt.config.target)


def raw_of(er: ExecutionReport, rt: SessionRuntime) -> str:
    msg_type, pairs = fields.encode(er, rt.units)
    body = "".join(f"{t}={v}\x01" for t, v in pairs)
    return (f"8=FIXT.1.1\x019=0\x0135={msg_type}\x0134=2\x0149=KalshiNR\x0152=20261121-12:00:00.000"
            f"\x0156={rt.config.api_key_id}\x01{body}10=000\x01")


def trade() -> ExecutionReport:
    return ExecutionReport(
        order_id="o1", exec_id="2;1", exec_type=ExecType.TRADE, ord_status=OrdStatus.FILLED, side=Side.BUY,
        symbol="KXA-26-T1", cum_qty=Decimal(2), leaves_qty=Decimal(0), order_qty=Decimal(2),
        last_px=Decimal("0.40"), last_qty=Decimal(2), transact_time=dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC),
        trd_match_id="t1")


# ----------------------------------------------------------------------------- the guard
def test_an_exception_in_a_callback_becomes_the_sessions_error_and_is_counted_not_raised(caplog):
    rt = runtime()
    app, _, sid = wired(rt)

    def boom(*_):
        raise RuntimeError("lifecycle broke")

    rt.lifecycle.fire = boom
    with caplog.at_level(logging.ERROR, logger="fixgw.application"):
        assert app.onLogon(sid) is None  # returned to QuickFIX as if nothing happened
    assert rt.lifecycle.last_error == "internal error in onLogon: RuntimeError: lifecycle broke"
    assert rt.metrics.callback_errors == 1 and rt.metrics.summary()["callback_errors"] == 1
    assert [r.getMessage() for r in caplog.records] == [
        "session=nr callback=onLogon error=RuntimeError: lifecycle broke"]


def test_quickfix_control_flow_exceptions_pass_through_the_guard():
    class Refusing(GatewayApplication):
        @guarded
        def fromAdmin(self, message, session_id):
            raise fix.RejectLogon("not today")

    rt = runtime()
    app, _, sid = wired(rt, Refusing)
    with pytest.raises(fix.RejectLogon):
        app.fromAdmin(fix.Message(), sid)
    assert rt.metrics.callback_errors == 0 and rt.lifecycle.last_error is None


def test_even_a_system_exit_stays_inside_the_guard():
    seen = []

    class Host:
        def callback_failed(self, name, args, exc):
            seen.append((name, args, type(exc)))

        @guarded
        def onCreate(self, session_id):
            raise SystemExit(1)

    assert Host().onCreate("sid") is None
    assert seen == [("onCreate", ("sid",), SystemExit)]


class _Sid:
    """A SessionID at a chosen address (QuickFIX's are members of its Sessions; addresses get reused)."""

    def __init__(self, address: int, text: str):
        self.this, self._text = address, text

    def toString(self) -> str:
        return self._text


def test_a_session_is_found_by_the_address_quickfix_created_it_with_and_a_reused_address_is_forgotten():
    a, b = runtime(), runtime()
    app = GatewayApplication([a, b], on_inbound=lambda *args: None)
    app.onCreate(_Sid(1000, a.key))
    assert app.runtime(_Sid(1000, "not read: found by address")) is a
    assert app.runtime(_Sid(2000, b.key)) is b  # never created here: by its text, and not remembered
    assert app.by_address == {1000: a}
    app.onCreate(_Sid(1000, "FIXT.1.1:someone-else->KalshiNR"))  # a Session nobody configured, at a's old address
    assert app.by_address == {}
    assert app.runtime(_Sid(1000, b.key)) is b
    app.onCreate(_Sid(1000, b.key))
    assert app.runtime(_Sid(1000, a.key)) is b


def test_a_callback_for_a_session_nobody_configured_is_logged_without_a_session(caplog):
    app, _, _ = wired(runtime())
    stranger = fix.SessionID("FIXT.1.1", "someone-else", "KalshiNR")
    with caplog.at_level(logging.ERROR, logger="fixgw.application"):
        assert app.onLogon(stranger) is None
    assert [r.getMessage().split(" error=")[0] for r in caplog.records] == ["session=? callback=onLogon"]


# ----------------------------------------------------------------------------- undecodable messages
def test_an_undecodable_message_reaches_the_sink_as_raw_with_the_reason(caplog):
    rt = runtime()
    app, got, sid = wired(rt)
    # without OrderID(37) no decoder, strict or lenient, can make a report of it
    broken = re.sub("\x0137=[^\x01]*", "", raw_of(trade(), rt))
    with caplog.at_level(logging.ERROR, logger="fixgw.dispatch"):
        app.fromApp(fix.Message(broken, False), sid)
        [item] = got
        item.settle()
    [item] = got
    assert isinstance(item, Inbound) and (item.session, item.message) == ("nr", None)
    assert "35=8" in item.raw and "\x0137=" not in item.raw  # what arrived, nothing lost
    assert item.error.startswith("undecodable message kept as raw: 35=8") and "order_id" in item.error
    assert rt.lifecycle.last_error == item.error
    assert rt.metrics.decode_errors == 1 and rt.metrics.callback_errors == 0
    assert any("session=nr event=decode-error" in r.getMessage() for r in caplog.records)


def test_a_decodable_report_after_an_undecodable_one_is_delivered_as_its_model():
    rt = runtime()
    app, got, sid = wired(rt)
    app.fromApp(fix.Message(re.sub("\x0137=[^\x01]*", "", raw_of(trade(), rt)), False), sid)
    app.fromApp(fix.Message(raw_of(trade(), rt), False), sid)
    assert [i.message is None for i in got] == [True, False]
    assert got[1].message.exec_id == "2;1" and got[1].error is None
    assert rt.last_exec_id == "2;1" and rt.metrics.decode_errors == 1


def test_a_report_answering_an_ack_is_decoded_at_once_and_others_when_first_read():
    from fixgw.models.fix import NewOrderSingle
    from fixgw.checks import SessionCaps
    from fixgw.orders import Registry
    rt = runtime()
    rt.registry = Registry(SessionCaps("nr", "event", rt.units, order_entry=True, mass_cancel=True))
    app, got, sid = wired(rt)
    req = NewOrderSingle(cl_ord_id="c-1", symbol="KXA-26-T1", side=Side.BUY, order_qty=Decimal(2),
                         price=Decimal("0.40"))
    ack = rt.registry.register("c-1", req)
    app.fromApp(fix.Message(raw_of(trade(), rt), False), sid)  # nobody waits for it (no ClOrdID)
    report = trade().model_copy(update={"cl_ord_id": "c-1", "exec_id": "3;1"})
    app.fromApp(fix.Message(raw_of(report, rt), False), sid)
    first, answer = got
    # the answer was decoded (with every message before it) inside the callback: its ack is resolved
    assert ack.done and first.decoded and answer.decoded
    assert ack.wait(0) is answer.message and answer.message.exec_id == "3;1" and rt.registry._orders == {}
    app.fromApp(fix.Message(raw_of(trade().model_copy(update={"exec_id": "4;1"}), rt), False), sid)
    later = got[2]
    assert not later.decoded and rt.last_exec_id == "3;1"  # waits for its reader (the dispatcher)
    assert later.message.exec_id == "4;1" and rt.last_exec_id == "4;1"


def test_a_bug_while_decoding_later_is_named_counted_and_does_not_stall_what_follows(caplog, monkeypatch):
    from fixgw import dispatch
    rt = runtime()
    app, got, sid = wired(rt)
    broken = {"armed": True}
    decode = dispatch.decoded

    def buggy(*args):
        if broken.pop("armed", False):
            raise KeyError("bug")
        return decode(*args)

    monkeypatch.setattr(dispatch, "decoded", buggy)
    app.fromApp(fix.Message(raw_of(trade(), rt), False), sid)
    app.fromApp(fix.Message(raw_of(trade().model_copy(update={"exec_id": "3;1"}), rt), False), sid)
    with caplog.at_level(logging.ERROR, logger="fixgw.dispatch"):
        assert got[1].message.exec_id == "3;1"  # decodes the first (which fails) then this one
    assert got[0].message is None and got[0].error == "decoding failed: KeyError: 'bug'"
    assert rt.metrics.callback_errors == 1 and rt.lifecycle.last_error.startswith("internal error decoding")
    assert any("session=nr callback=decode error=KeyError" in r.getMessage() for r in caplog.records)


# ----------------------------------------------------------------------------- counting
def test_received_messages_are_counted_by_the_msgtype_on_the_wire_and_a_150_8_is_a_reject():
    rt = runtime()
    app, got, sid = wired(rt)
    rejected = trade().model_copy(update={"exec_type": ExecType.REJECTED, "ord_status": OrdStatus.REJECTED,
                                          "exec_id": "3;1", "last_px": None, "last_qty": None})
    app.fromApp(fix.Message(raw_of(trade(), rt), False), sid)
    app.fromApp(fix.Message(raw_of(rejected, rt), False), sid)
    assert rt.metrics.msgs_in == {"8": 2} and rt.metrics.last_in is not None
    assert rt.metrics.rejects_in == 0  # the 150=8 is known to be one once it is decoded
    assert [item.message.exec_type for item in got] == [ExecType.TRADE, ExecType.REJECTED]
    assert rt.metrics.rejects_in == 1 and rt.metrics.summary()["rejects_in"] == 1


def test_a_refused_messages_wire_text_goes_only_to_that_message_and_never_past_a_reconnect():
    """The event line of a message QuickFIX's validation refused (patch 8/10) names its MsgSeqNum
    and brings its text: fromApp of that MsgSeqNum decodes that text (leniently); another message
    gets its own text and the strict decoder; a disconnect forgets a line not yet used."""
    rt = runtime()
    app, got, sid = wired(rt)
    text = raw_of(trade(), rt)  # MsgSeqNum 2
    rt.invalid = ("2", text.replace("\x0132=2.00\x01", "\x0132=2.00\x0132=2.00\x01"))  # the wire had 32 twice
    app.fromApp(fix.Message(text, False), sid)
    rt.invalid = ("7", "8=FIXT.1.1\x01garbage")  # another message's line
    app.fromApp(fix.Message(text, False), sid)
    rt.invalid = ("2", "8=FIXT.1.1\x01stale")
    app.onLogout(sid)
    app.fromApp(fix.Message(text, False), sid)  # after a reconnect MsgSeqNum 2 is someone else
    first, second, third = got
    assert first.raw.count("\x0132=2.00") == 2 and first.message.last_qty == 2  # the wire text, read leniently
    assert second.raw.count("\x0132=2.00") == 1 and "garbage" not in second.raw and second.message is not None
    assert "stale" not in third.raw and third.message is not None
    assert first.message.anomalies  # the repeated tag, said
    assert not second.message.anomalies and not third.message.anomalies
