"""The simulator's KalshiDC window and its replay (fixgw/sim/dropcopy.py)."""

from decimal import Decimal as D

from fixgw.fix.codec import decode_raw
from fixgw.models.fix import ExecType, ExecutionReport, OrdStatus, Side
from fixgw.pricing import Units
from fixgw.sim.dropcopy import BEGIN_TOO_SMALL, END_TOO_LARGE, RATE_LIMITED, DropCopy, Refused


def _report(exec_id: str) -> ExecutionReport:
    return ExecutionReport(order_id="o", exec_id=exec_id, exec_type=ExecType.CANCELED, ord_status=OrdStatus.CANCELED,
                           side=Side.BUY, symbol="KXT", cl_ord_id="c", cum_qty=D(0), leaves_qty=D(0))


def _ids(bodies: list[str], units: Units = Units.CENTS) -> list[str]:
    return [decode_raw(f"8=FIXT.1.1\x0135=8\x01{b}10=000\x01", units).exec_id for b in bodies]


def _window(now: list[float]) -> DropCopy:
    dc = DropCopy(clock=lambda: now[0], window_s=100)
    for exec_id in ["10;2", "9;100", "10;3", "11;1", "-1;-1"]:  # out of order; a pending report
        dc.record("acct", "event", _report(exec_id))
    dc.record("acct", "event", _report("10;2"))  # the same report routed to two sessions
    return dc


def test_replay_is_an_inclusive_range_in_exec_id_order_as_fix_text():
    now = [1000.0]
    dc = _window(now)
    assert dc.exec_ids("acct", "event") == ["9;100", "10;2", "10;3", "11;1"]
    assert _ids(dc.replay("acct", "event", "10;2", "10;3", Units.CENTS)) == ["10;2", "10;3"]
    assert _ids(dc.replay("acct", "event", "9;100", None, Units.DOLLARS), Units.DOLLARS) == \
        ["9;100", "10;2", "10;3", "11;1"]


def test_each_report_is_serialised_once_per_unit():
    dc = _window([1000.0])
    first = dc.replay("acct", "event", "9;100", None, Units.CENTS)
    again = dc.replay("acct", "event", "9;100", None, Units.CENTS)
    assert all(a is b for a, b in zip(first, again))


def test_refusals_carry_the_documented_reasons():
    now = [1000.0]
    dc = _window(now)
    assert dc.replay("acct", "event", "1;1", None, Units.CENTS) == Refused(
        BEGIN_TOO_SMALL, "BeginExecID is outside the 3-hour drop-copy window")
    assert dc.replay("acct", "event", "10;2", "99;1", Units.CENTS).reason == END_TOO_LARGE
    assert dc.replay("acct", "event", "10;3", "10;2", Units.CENTS).reason == END_TOO_LARGE
    for _ in range(2):  # the 4th and 5th request within a second are answered...
        assert isinstance(dc.replay("acct", "event", "10;2", None, Units.CENTS), list)
    assert dc.replay("acct", "event", "10;2", None, Units.CENTS).reason == RATE_LIMITED  # ...the 6th is not
    now[0] += 200  # everything is older than the window now
    assert dc.replay("acct", "event", "10;2", None, Units.CENTS).reason == BEGIN_TOO_SMALL
    assert dc.exec_ids("acct", "event") == []


def test_replay_words_order_qty_as_the_asking_session_wants_it():
    """21008 on the KalshiDC session: OrderQty is the quantity asked for, not CumQty + LeavesQty."""
    dc = DropCopy()
    plain = _report("10;2").model_copy(update={"order_qty": D(0)})
    dc.record("acct", "event", plain, {False: plain, True: plain.model_copy(update={"order_qty": D(9)})})
    for preserve, qty in ((False, 0), (True, 9)):
        [body] = dc.replay("acct", "event", "10;2", None, Units.DOLLARS, preserve)
        assert decode_raw(f"8=FIXT.1.1\x0135=8\x01{body}10=000\x01", Units.DOLLARS).order_qty == qty
