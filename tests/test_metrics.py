"""Counters, histograms and the attempt classifier that drives `fixgw run`'s backoff."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from fixgw.metrics import Histogram, SessionMetrics, backoff_delay
from fixgw.orders import BUCKETS
from fixgw.models.fix import ExecType, ExecutionReport, OrdStatus, OrderCancelReject, Side


def er(cl_ord_id: str, exec_type: ExecType) -> ExecutionReport:
    return ExecutionReport(order_id="o1", exec_id="1;1", exec_type=exec_type, ord_status=OrdStatus.NEW,
                           side=Side.BUY, symbol="X", cum_qty=Decimal(0), leaves_qty=Decimal(1), cl_ord_id=cl_ord_id)


def test_histogram_buckets_are_log2_microseconds_and_quantiles_stay_inside_their_bucket():
    h = Histogram()
    for us in [0, 1, 3, 700, 1000, 1500, 2047]:
        h.record_us(us)
    assert h.count == 7 and h.max_us == 2047
    snap = h.snapshot()
    assert snap["buckets"] == {"<1us": 1, "<2us": 1, "<4us": 1, "<1024us": 2, "<2048us": 2}
    assert 512 <= h.quantile(0.5) <= 1024  # the median sample (700) is in [512, 1024)
    assert 1024 <= h.quantile(0.99) <= 2047
    h.record_us(1 << 40)  # slower than the last bucket: clamped, not lost
    assert h.buckets[BUCKETS - 1] == 1 and h.max_us == 1 << 40
    assert Histogram().quantile(0.5) is None and Histogram().snapshot()["p99_us"] is None


def test_histogram_quantiles_against_a_known_distribution():
    h = Histogram()
    for us in range(1, 10001):
        h.record_us(us)
    # exact p50 = 5000, p99 = 9900; log2 buckets with interpolation stay within the bucket width
    assert 4096 <= h.quantile(0.5) <= 8192
    assert 8192 <= h.quantile(0.99) <= 10000


def test_counts_by_type_rejects_and_the_registrys_round_trips():
    from fixgw.checks import SessionCaps
    from fixgw.orders import Registry
    from fixgw.pricing import Units
    m = SessionMetrics()
    reg = Registry(SessionCaps("nr", "event", Units.CENTS, order_entry=True, mass_cancel=True))
    m.in_flight, m.order_ack = reg.waiting, Histogram(reg.latencies)  # as the application wires them
    for seq, key in ((2, "c1"), (3, "c2")):
        reg.register(key, object())  # any request: only its ack is timed
        m.outbound("D")
        reg.sent(seq, key)
    m.outbound("A")
    m.inbound("A")
    m.outbound("3")  # a session Reject QuickFIX sent
    assert m.snapshot()["in_flight"] == 2

    reg.apply(er("c1", ExecType.PENDING_NEW))  # pending: the clock keeps running
    assert m.order_ack.count == 0
    time.sleep(0.002)
    assert reg.apply(er("c1", ExecType.NEW)) >= 2000
    assert m.order_ack.count == 1 and m.order_ack.max_us >= 2000
    reg.apply(er("c1", ExecType.TRADE))  # only the first definitive answer counts
    reg.apply(OrderCancelReject(order_id="o2", cl_ord_id="c2", ord_status=OrdStatus.REJECTED))
    for msg_type in ("8", "8", "8", "9", "8"):  # what fromApp counts in place
        m.msgs_in[msg_type] += 1
    m.rejected_reports += 1  # what decoding counts for a 150=8
    m.decode_errors += 1
    s = m.summary()
    assert s["in"] == 6 and s["out"] == 4
    assert (s["rejects_in"], s["rejects_out"], s["decode_errors"], s["acks"]) == (2, 1, 1, 2)
    snap = m.snapshot()
    assert snap["msgs_out"] == {"A": 1, "D": 2, "3": 1} and snap["in_flight"] == 0
    assert snap["order_ack"]["count"] == 2 and snap["last_in"] is not None


def test_rejects_in_adds_the_reject_message_types_and_rejected_reports_when_read():
    m = SessionMetrics()
    for msg_type in ("3", "j", "9", "8", "A", "0"):
        m.inbound(msg_type)
    m.rejected_reports = 2
    assert m.rejects_in == 5 and m.summary()["rejects_in"] == 5 and m.msgs_in["3"] == 1


def test_connection_attempts_classify_quickfix_event_lines():
    m = SessionMetrics()
    assert m.on_event("Connecting to 127.0.0.1 on port 1 (Source :0) ReconnectInterval=1") == "attempt"
    assert m.on_event("Socket error Connection refused", now=10.0) == "failed"
    assert m.on_event("Disconnecting") is None  # the same attempt ends only once
    m.on_event("Connecting to 127.0.0.1 on port 1")
    m.on_event("Timed out waiting for logon response")
    assert (m.attempts.total, m.attempts.failed, m.attempts.streak) == (2, 2, 2)
    m.on_event("Connecting to 127.0.0.1 on port 1")
    assert m.on_event("Received logon response") == "logon"
    assert m.on_event("Disconnecting") is None  # a drop after a Logon is not a failed attempt
    assert (m.attempts.failed, m.attempts.streak) == (2, 0)
    m.on_event("Connecting to 127.0.0.1 on port 1")  # held (logout()) before its Logon was answered
    assert m.on_event("Closing the connection of a disabled session that is not logged on") is None
    assert m.on_event("Disconnecting") is None
    assert (m.attempts.total, m.attempts.failed, m.attempts.open) == (4, 2, False)


@pytest.mark.parametrize("streak, delay", [(0, 1), (1, 1), (2, 2), (3, 4), (4, 8), (7, 60), (80, 60)])
def test_backoff_doubles_from_the_interval_up_to_the_cap(streak, delay):
    assert backoff_delay(streak, 1, 60) == delay
