"""Ack (the one-shot answer the order path hands back) and the Registry (fixgw/orders.py)."""

import asyncio
import threading
import time
import uuid
from decimal import Decimal as D

import pytest

from fixgw.errors import OrderError
from fixgw.models.fix import (ExecType, ExecutionReport, NewOrderSingle, OrderCancelReplaceRequest,
                              OrderCancelRequest, OrdStatus, Side)
from fixgw.checks import SessionCaps
from fixgw.orders import Ack, Registry, new_cl_ord_id
from fixgw.pricing import Units


def test_every_waiter_gets_the_answer_once_it_is_resolved():
    ack = Ack("req")
    got = []
    threads = [threading.Thread(target=lambda: got.append(ack.wait(5))) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.05)
    assert not ack.done and got == []
    assert ack.resolve("answer") and not ack.resolve("another")
    for t in threads:
        t.join(5)
    assert got == ["answer"] * 4 and ack.done
    assert ack.wait(0) == "answer" and ack.wait(None) == "answer"  # and again, at once


def test_a_wait_beyond_what_the_platform_can_time_is_a_wait_without_limit():
    ack = Ack("req")
    threading.Timer(0.02, ack.resolve, args=("answer",)).start()
    assert ack.wait(1e308) == "answer" and ack.wait(float("inf")) == "answer"


def test_wait_times_out_naming_the_request():
    with pytest.raises(TimeoutError, match="no answer to str within 0.01 s"):
        Ack("req").wait(0.01)


def test_asyncio_waiters_are_answered_from_another_thread():
    async def main():
        ack = Ack("req")
        threading.Timer(0.02, ack.resolve, args=("answer",)).start()
        return await ack, await ack

    assert asyncio.run(main()) == ("answer", "answer")


def test_a_waiter_whose_event_loop_has_closed_neither_fails_the_answer_nor_starves_the_others():
    # asyncio.run(asyncio.wait_for(...)) gave up and closed its loop; its waiter is still listed.
    # The answer must still reach a thread, another loop's waiter, and the registry's bookkeeping.
    reg = _registry()
    ack = reg.register("a", NewOrderSingle(cl_ord_id="a", symbol="KXT", side=Side.BUY, order_qty=D(1),
                                           price=D("0.5")))

    async def wait_for_ack():
        return await ack

    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(asyncio.wait_for(wait_for_ack(), 0.01))
    live, got = asyncio.new_event_loop(), []
    listening = threading.Event()

    async def listen():
        listening.set()
        try:
            got.append(await asyncio.wait_for(wait_for_ack(), 5))
        except asyncio.TimeoutError:
            got.append("never answered")

    other = threading.Thread(target=live.run_until_complete, args=(listen(),))
    other.start()
    assert listening.wait(5)
    time.sleep(0.05)  # the live loop's waiter is listed after the closed one's
    report = _report("a", ExecType.CANCELED, 0)
    reg.apply(report)
    other.join(5)
    live.close()
    assert got == [report] and ack.wait(0) is report
    assert not reg.has_pending("a") and reg._orders == {} and reg.answered is ack


def test_cl_ord_ids_are_unique_version_4_uuids():
    ids = [new_cl_ord_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 4 and str(uuid.UUID(i)) == i for i in ids[:100])


# ------------------------------------------------------------------ Registry: finished orders
def _registry() -> Registry:
    return Registry(SessionCaps("nr", "event", Units.CENTS, order_entry=True, mass_cancel=True))


def _report(cl_ord_id: str, exec_type: ExecType, leaves: int) -> ExecutionReport:
    status = {ExecType.NEW: OrdStatus.NEW, ExecType.CANCELED: OrdStatus.CANCELED,
              ExecType.PENDING_NEW: OrdStatus.PENDING_NEW}[exec_type]
    return ExecutionReport(order_id="o-1", exec_id="5;1", exec_type=exec_type, ord_status=status, side=Side.BUY,
                           symbol="KXT", cl_ord_id=cl_ord_id, cum_qty=D(0), leaves_qty=D(leaves))


def test_a_finished_order_leaves_only_its_ids_behind():
    reg = _registry()
    new = NewOrderSingle(cl_ord_id="a", symbol="KXT", side=Side.BUY, order_qty=D(2), price=D("0.5"))
    ack = reg.register("a", new)
    reg.apply(_report("a", ExecType.NEW, 2))
    assert ack.wait(0).exec_type is ExecType.NEW and reg.resolve_order("a", "cancel").order_id == "o-1"
    cancel = OrderCancelRequest(cl_ord_id="b", orig_cl_ord_id="a", symbol="KXT", side=Side.BUY)
    reg.check_cancel(cancel)
    cancel_ack = reg.register("b", cancel)
    reg.apply(_report("b", ExecType.CANCELED, 0))
    assert cancel_ack.wait(0).exec_type is ExecType.CANCELED
    assert reg._orders == {}  # nothing per past order but its ClOrdIDs
    for used in ("a", "b"):
        with pytest.raises(OrderError, match="already used"):
            reg.check_new(new.model_copy(update={"cl_ord_id": used}))
        with pytest.raises(OrderError, match="no longer open"):
            reg.resolve_order(used, "cancel")
    with pytest.raises(OrderError, match="never sent"):
        reg.resolve_order("zzz", "cancel")


def test_a_cancel_for_an_order_that_finished_meanwhile_is_refused_before_sending():
    reg = _registry()
    reg.register("a", NewOrderSingle(cl_ord_id="a", symbol="KXT", side=Side.BUY, order_qty=D(1), price=D("0.5")))
    cancel = OrderCancelRequest(cl_ord_id="b", orig_cl_ord_id="a", symbol="KXT", side=Side.BUY)
    reg.check_cancel(cancel)
    reg.apply(_report("a", ExecType.CANCELED, 0))  # QuickFIX's thread, between check and send
    with pytest.raises(OrderError, match="no longer open"):
        reg.register("b", cancel)
    assert not reg.has_pending("b")


def test_a_caller_woken_by_its_answer_cannot_send_for_the_order_it_finished(monkeypatch):
    # apply() updates the order and resolves the ack under the lock that register() takes: however
    # the woken caller's cancel meets the answering thread, it is refused.
    reg = _registry()
    ack = reg.register("a", NewOrderSingle(cl_ord_id="a", symbol="KXT", side=Side.BUY, order_qty=D(1),
                                           price=D("0.5")))
    retire = reg._retire

    def slow_retire(order):
        time.sleep(0.05)  # lets the woken caller run meanwhile
        retire(order)

    monkeypatch.setattr(reg, "_retire", slow_retire)
    answer = threading.Thread(target=reg.apply, args=(_report("a", ExecType.CANCELED, 0),))
    answer.start()
    assert ack.wait(5).exec_type is ExecType.CANCELED
    cancel = OrderCancelRequest(cl_ord_id="b", orig_cl_ord_id="a", symbol="KXT", side=Side.BUY)
    with pytest.raises(OrderError, match="no longer open"):
        reg.check_cancel(cancel)
        reg.register("b", cancel)
    answer.join(5)
    assert not reg.has_pending("b") and reg._orders == {}


class _SlowForTheAnswer(dict):
    """Open orders whose lookups, on the answering thread only, take long enough for a woken caller to run."""

    answering: threading.Thread | None = None

    def get(self, key, default=None):
        if threading.current_thread() is self.answering:
            time.sleep(0.1)
        return super().get(key, default)


def _answer_while_the_caller_waits(reg: Registry, ack, report: ExecutionReport):
    """Apply ``report`` on another thread (as QuickFIX's does) and return what the woken caller then
    reads of the order without the lock, as OrderEntry.cancel/replace do to build their request."""
    reg._orders = orders = _SlowForTheAnswer(reg._orders)
    orders.answering = threading.Thread(target=reg.apply, args=(report,))
    orders.answering.start()
    assert ack.wait(5) is report
    order = reg.resolve_order(report.cl_ord_id, "cancel")
    seen = (order.order_id, order.cl_ord_id)
    orders.answering.join(5)
    return seen


def test_a_caller_woken_by_its_answer_builds_its_next_request_from_the_order_the_answer_updated():
    # OrderEntry.cancel and .replace read the tracked order's OrderID(37) and current ClOrdID (their
    # OrigClOrdID(41)) before register() takes the lock: the answer must be in them when the ack wakes the caller.
    reg = _registry()
    ack = reg.register("a", NewOrderSingle(cl_ord_id="a", symbol="KXT", side=Side.BUY, order_qty=D(2),
                                           price=D("0.5")))
    assert _answer_while_the_caller_waits(reg, ack, _report("a", ExecType.NEW, 2)) == ("o-1", "a")
    ack = reg.register("b", OrderCancelReplaceRequest(cl_ord_id="b", orig_cl_ord_id="a", symbol="KXT",
                                                      side=Side.BUY, order_qty=D(3), order_id="o-1"))
    replaced = _report("b", ExecType.NEW, 3).model_copy(update={"exec_type": ExecType.REPLACED,
                                                                "ord_status": OrdStatus.REPLACED, "order_id": "o-2"})
    assert _answer_while_the_caller_waits(reg, ack, replaced) == ("o-2", "b")


def test_a_session_reject_finds_its_request_among_the_recent_ones_and_memory_stays_bounded():
    from fixgw import orders
    from fixgw.models.fix import SessionReject
    reg = _registry()
    acks = {}
    for seq in range(1, orders._SEQ_MEMORY + 11):
        key = f"c{seq}"
        if seq in (5, orders._SEQ_MEMORY + 10):
            acks[seq] = reg.register(key, object())  # any request: only its ack is looked up
        reg.sent(seq, key)
    assert len(reg._by_seq) == orders._SEQ_MEMORY  # the ten oldest were forgotten
    reg.apply(SessionReject(ref_seq_num=5, reason=1, text="too old"))
    assert not acks[5].done  # no longer remembered: nothing to resolve (and no error)
    reject = SessionReject(ref_seq_num=orders._SEQ_MEMORY + 10, reason=1, text="recent")
    reg.apply(reject)
    assert acks[orders._SEQ_MEMORY + 10].wait(0) is reject


# ------------------------------------------------------------------ Registry: limits
def test_limits_refuse_an_order_by_quantity_notional_and_symbol_length_naming_the_option():
    from fixgw.models.fix import OrderCancelReplaceRequest
    from fixgw.checks import Limits
    limits = Limits(max_quantity=D(500), max_notional=D(100), max_symbol_length=12)
    event = Registry(SessionCaps("nr", "event", Units.DOLLARS, order_entry=True, mass_cancel=True, limits=limits))
    margin = Registry(SessionCaps("mg", "margin", Units.DOLLARS, order_entry=True, mass_cancel=True, limits=limits))

    def new(symbol="KXT", side=Side.BUY, qty="1", price="0.5"):
        return NewOrderSingle(cl_ord_id=new_cl_ord_id(), symbol=symbol, side=side, order_qty=D(qty), price=D(price))

    event.check_new(new(qty="200", price="0.5"))  # $100: at the limit
    with pytest.raises(OrderError, match=r"^quantity 501 is above the limit of 500 contracts per order "
                                         r"\(limits.max_quantity\)$"):
        event.check_new(new(qty="501", price="0.01"))
    with pytest.raises(OrderError, match=r"^order notional \$100.2 \(167 x \$0.6\) is above the limit of \$100 "
                                         r"per order \(limits.max_notional\)$"):
        event.check_new(new(qty="167", price="0.6"))
    # selling YES at 0.4 is buying NO at 0.6: it costs 0.6 a contract
    with pytest.raises(OrderError, match=r"order notional \$100.2 \(167 x \$0.6\)"):
        event.check_new(new(side=Side.SELL, qty="167", price="0.4"))
    event.check_new(new(side=Side.SELL, qty="167", price="0.5"))  # $83.5
    with pytest.raises(OrderError, match=r"order notional \$101.0 \(1 x \$101.0\)"):
        margin.check_new(new(symbol="BTC-PERP", side=Side.SELL, qty="1", price="101.0"))
    with pytest.raises(OrderError, match=r"^symbol is 13 characters \('KXTTTTTTTTTTT'...\); the limit is 12 "
                                         r"\(limits.max_symbol_length\)$"):
        event.check_new(new(symbol="KXTTTTTTTTTTT"))
    # a replace is held to the same limits
    placed = new(qty="10")
    event.register(placed.cl_ord_id, placed)
    grow = OrderCancelReplaceRequest(cl_ord_id=new_cl_ord_id(), orig_cl_ord_id=placed.cl_ord_id, symbol="KXT",
                                     side=Side.BUY, order_qty=D(600), price=D("0.1"))
    with pytest.raises(OrderError, match="quantity 600 is above the limit of 500"):
        event.check_replace(grow)


def test_the_config_sets_every_session_s_limits(tmp_path):
    from fixgw.certs import make_tls
    from fixgw.config import parse
    from fixgw.adapter.gateway import Gateway
    from fixgw.signing import generate_keypair
    key, _ = generate_keypair(tmp_path / "k.pem")
    cfg = parse({"environment": "local", "ca_file": str(make_tls(tmp_path / "tls").ca_file),
                 "state_dir": str(tmp_path), "limits": {"max_quantity": 7, "max_notional": 3, "max_symbol_length": 9},
                 "session": [{"name": "nr", "product": "event", "type": "NR", "api_key_id": str(uuid.uuid4()),
                              "private_key": str(key)}]})
    defaults = parse({"environment": "local", "ca_file": str(make_tls(tmp_path / "tls").ca_file),
                      "state_dir": str(tmp_path), "session": cfg.model_dump()["session"]}).limits
    assert (defaults.max_quantity, defaults.max_notional, defaults.max_symbol_length) == (1_000_000, 1_000_000, 128)
    assert (defaults.control_clients, defaults.control_idle_timeout) == (64, 60)
    limits = Gateway(cfg).runtime("nr").registry.caps.limits
    assert (limits.max_quantity, limits.max_notional, limits.max_symbol_length) == (D(7), D(3), 9)


# ------------------------------------------------------------------ what QuickFIX's thread decodes at once
def test_acks_holds_exactly_the_requests_waiting_for_a_definitive_answer():
    """The dispatcher decodes on QuickFIX's thread while ``acks`` is not empty (fixgw.dispatch)."""
    reg = _registry()
    assert not reg.acks
    new = NewOrderSingle(cl_ord_id="a", symbol="KXT", side=Side.BUY, order_qty=D(1), price=D("0.5"))
    ack = reg.register("a", new)
    assert reg.acks == {"a": ack}
    reg.apply(_report("a", ExecType.PENDING_NEW, 1))  # pending: still waiting
    assert reg.acks == {"a": ack}
    reg.apply(_report("zz", ExecType.NEW, 1))  # another order's report
    assert reg.acks == {"a": ack}
    reg.apply(_report("a", ExecType.NEW, 1))
    assert not reg.acks and ack.done


# ------------------------------------------------------------------ ClOrdIDs: shape and reuse
@pytest.mark.parametrize("cl", ["abc\n", "caf\u00e9", "a b", "", "x" * 65])
def test_a_cl_ord_id_outside_the_ascii_shape_is_refused(cl):
    reg = _registry()
    with pytest.raises(OrderError, match="must be 1-64 characters"):
        reg.fresh_id(cl)


@pytest.mark.parametrize("plain", [False, True])
def test_two_threads_sending_one_cl_ord_id_at_once_get_one_order_and_one_error(plain):
    """The reuse check before the rate limiter's wait is repeated under the lock when registering."""
    reg = _registry()
    new = NewOrderSingle(cl_ord_id="dup", symbol="KXT", side=Side.BUY, order_qty=D(1), price=D("0.5"))
    both_checked = threading.Barrier(2)
    outcomes = []

    def send():
        try:
            reg.fresh_id("dup")
            both_checked.wait(5)  # both passed the check, as two callers inside the limiter's wait would
            outcomes.append(reg.register_plain("dup", "KXT", Side.BUY) if plain else reg.register("dup", new))
        except OrderError as e:
            outcomes.append(str(e))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(type(o).__name__ for o in outcomes) == ["Ack", "str"]
    assert "ClOrdID 'dup' was already used on nr" in [o for o in outcomes if isinstance(o, str)][0]


def test_which_error_comes_first_does_not_depend_on_the_lane(tmp_path):
    """An unknown session and a bad value at once: the value's OrderError, as the generic lane always said."""
    from fixgw.certs import make_tls
    from fixgw.config import parse
    from fixgw.adapter.gateway import Gateway
    from fixgw.errors import SessionError
    from fixgw.signing import generate_keypair
    key, _ = generate_keypair(tmp_path / "k.pem")
    gw = Gateway(parse({"environment": "local", "ca_file": str(make_tls(tmp_path / "tls").ca_file),
                        "state_dir": str(tmp_path), "session": [{"name": "nr", "product": "event", "type": "NR",
                                                                  "api_key_id": str(uuid.uuid4()),
                                                                  "private_key": str(key)}]}))
    with pytest.raises(OrderError, match="side 'bogus'"):
        gw.new_order("typo", "KXT", "bogus", "0.5", 1)
    with pytest.raises(SessionError, match="no such session"):
        gw.new_order("typo", "KXT", "buy", "0.5", 1)
    with pytest.raises(SessionError, match="not logged on"):
        gw.new_order("nr", "KXT", "buy", "0.5", 1)
