"""The matching engine: Kalshi's order-entry behaviour as the simulator emulates it."""

from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from fixgw.models.fix import (BusinessMessageReject, ExecType as X, ExecutionReport, MarketSettlementReport,
                              NewOrderSingle, OrdStatus as S, OrderCancelReject, OrderCancelReplaceRequest,
                              OrderCancelRequest, OrderGroupAction as GA, OrderGroupRequest, OrderGroupResponse,
                              OrderMassCancelReport, OrderMassCancelRequest, SelfTradePrevention, Side,
                              TimeInForce, exec_id_key)
from fixgw.sim.engine import Engine, Flags, Out

BUY, SELL = Side.BUY, Side.SELL
SYM = "KXE-26-A"
F0 = Flags()
QUIET = Flags(skip_pending=True)


class Clock:
    def __init__(self, t=1_800_000_000.0):
        self.t = t

    def __call__(self):
        return self.t


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def ev(clock):
    return Engine("event", clock=clock)


@pytest.fixture
def mg(clock):
    return Engine("margin", clock=clock)


_n = iter(range(1, 10**9))


def nos(side, qty, price, cl=None, symbol=SYM, **kw):
    return NewOrderSingle(cl_ord_id=cl or f"c{next(_n)}", symbol=symbol, side=side, order_qty=D(qty),
                          price=D(price), **kw)


def place(eng, account, side, qty, price, flags=QUIET, session=None, **kw):
    req = nos(side, qty, price, **kw)
    return req, eng.new_order(account, session or f"{account}-s", req, flags)


def ers(outs, account=None):
    return [o.message for o in outs if isinstance(o.message, ExecutionReport)
            and (account is None or o.account == account)]


def kinds(outs, account=None):
    return [(m.exec_type, m.ord_status) for m in ers(outs, account)]


def only(outs, cls):
    (m,) = [o.message for o in outs if isinstance(o.message, cls)]
    return m


def cancel_req(req, cl=None, **kw):
    return OrderCancelRequest(cl_ord_id=cl or f"x{next(_n)}", orig_cl_ord_id=req.cl_ord_id, symbol=req.symbol,
                              side=req.side, **kw)


def replace_req(req, qty, price=None, cl=None, **kw):
    return OrderCancelReplaceRequest(cl_ord_id=cl or f"r{next(_n)}", orig_cl_ord_id=req.cl_ord_id,
                                     symbol=req.symbol, side=req.side, order_qty=D(qty),
                                     price=None if price is None else D(price), **kw)


# ------------------------------------------------------------------ crossing and priority
def test_event_book_crosses_in_yes_terms(ev):
    place(ev, "a", SELL, 10, "0.60")  # offer YES at 0.60 = bid NO at 0.40
    _, outs = place(ev, "b", BUY, 5, "0.59")
    assert kinds(outs) == [(X.NEW, S.NEW)]
    _, outs = place(ev, "b", BUY, 5, "0.65")
    taker, maker = ers(outs)
    assert (taker.exec_type, taker.ord_status, taker.last_px, taker.last_qty) == (X.TRADE, S.FILLED, D("0.60"), 5)
    assert maker.last_px == D("0.60") and maker.ord_status is S.PARTIALLY_FILLED and maker.leaves_qty == 5


def test_no_side_buy_hits_the_yes_bid(ev):
    place(ev, "a", BUY, 10, "0.45")
    _, outs = place(ev, "b", SELL, 4, "0.40")  # buy NO for up to 0.60
    taker = ers(outs, "b")[0]
    assert taker.last_px == D("0.45")  # LastPx is always the YES price
    assert (taker.long_qty, taker.short_qty) == (0, 4)
    fee = D("0.07")  # ceil(0.07 * 4 * 0.45 * 0.55 = 0.0693)
    assert taker.fee_total == fee
    assert taker.collateral[0].amount == -(4 * D("0.55")) - fee
    maker = ers(outs, "a")[0]
    assert (maker.long_qty, maker.short_qty, maker.fee_total) == (4, 0, 0)
    assert maker.collateral[0].amount == -(4 * D("0.45"))


def test_price_then_time_priority_and_partial_fills(ev):
    place(ev, "a", SELL, 3, "0.60")
    place(ev, "c", SELL, 3, "0.60")
    place(ev, "d", SELL, 3, "0.58")  # better price, later
    _, outs = place(ev, "b", BUY, 8, "0.60")
    fills = [(o.account, o.message.last_px, o.message.last_qty) for o in outs
             if o.account != "b" and isinstance(o.message, ExecutionReport)]
    assert fills == [("d", D("0.58"), 3), ("a", D("0.60"), 3), ("c", D("0.60"), 2)]
    last = ers(outs, "b")[-1]
    assert (last.cum_qty, last.leaves_qty, last.ord_status) == (8, 0, S.FILLED)
    assert last.avg_px == ((3 * D("0.58") + 5 * D("0.60")) / 8).quantize(D("0.0001"))


def test_margin_is_a_plain_bid_ask_book(mg):
    place(mg, "a", SELL, 2, "19.5000", symbol="BTC-PERP")
    place(mg, "b", BUY, 1, "19.4999", symbol="BTC-PERP")
    assert mg.books["BTC-PERP"].best(BUY).price == D("19.4999")
    _, outs = place(mg, "b", BUY, 3, "20", symbol="BTC-PERP")
    t = ers(outs, "b")[0]
    assert (t.last_px, t.last_qty, t.long_qty, t.short_qty) == (D("19.5000"), 2, 2, 0)
    assert t.fee_total == D("0.0078")  # 0.0002 * 2 * 19.5
    assert t.collateral[0].amount == -D("0.0078")  # no realized PnL when opening
    assert ers(outs, "a")[0].short_qty == 2
    assert mg.books["BTC-PERP"].best(BUY).leaves == 1  # remainder rests as the new best bid


# ------------------------------------------------------------------ replace
def priority_probe(eng, first_req_change):
    """a and c both offer 2 at 0.60 (a first); apply a change to a, then see who fills first."""
    ra, _ = place(eng, "a", SELL, 2, "0.60")
    place(eng, "c", SELL, 2, "0.60")
    first_req_change(ra)
    _, outs = place(eng, "b", BUY, 1, "0.70")
    return [o.account for o in outs if o.account != "b"][0]


def test_replace_decrease_keeps_priority(ev):
    assert priority_probe(ev, lambda r: ev.replace("a", "a-s", replace_req(r, 1), QUIET)) == "a"


def test_replace_increase_loses_priority(ev):
    assert priority_probe(ev, lambda r: ev.replace("a", "a-s", replace_req(r, 3), QUIET)) == "c"


def test_replace_price_change_loses_priority(ev):
    def amend(r):  # away and back again: same price, but a new place in the queue
        ev.replace("a", "a-s", replace_req(r, 2, "0.61", cl="a-away"), QUIET)
        ev.replace("a", "a-s", replace_req(r.model_copy(update={"cl_ord_id": "a-away"}), 2, "0.60"), QUIET)
    assert priority_probe(ev, amend) == "c"


def test_replace_reports_and_crossing_replace_trades(ev):
    ra, _ = place(ev, "a", SELL, 5, "0.70")
    place(ev, "b", BUY, 2, "0.60")
    outs = ev.replace("a", "a-s", replace_req(ra, 4, "0.60", cl="a2"), F0)
    pend, rep, trade = ers(outs, "a")
    assert (pend.exec_type, pend.ord_status, pend.exec_id) == (X.PENDING_REPLACE, S.PENDING_REPLACE, "-1;-1")
    assert (rep.exec_type, rep.ord_status, rep.cl_ord_id, rep.orig_cl_ord_id) == (
        X.REPLACED, S.REPLACED, "a2", ra.cl_ord_id)
    assert (rep.order_qty, rep.leaves_qty, rep.price) == (4, 4, D("0.60"))
    assert (trade.aggressor, trade.last_qty, trade.leaves_qty, trade.cl_ord_id) == (True, 2, 2, "a2")


def test_replace_to_cum_cancels_and_below_cum_rejects(ev):
    ra, _ = place(ev, "a", SELL, 5, "0.60")
    place(ev, "b", BUY, 2, "0.60")
    rej = only(ev.replace("a", "a-s", replace_req(ra, 1), QUIET), OrderCancelReject)
    assert (rej.response_to, rej.reason, rej.text, rej.ord_status) == (
        2, 2, "INVALID_AMEND_QTY_FOR_ORDER", S.PARTIALLY_FILLED)
    outs = ev.replace("a", "a-s", replace_req(ra, 2, cl="a3"), QUIET)
    (m,) = ers(outs)
    assert (m.exec_type, m.ord_status, m.cum_qty, m.leaves_qty, m.cl_ord_id, m.orig_cl_ord_id) == (
        X.CANCELED, S.CANCELED, 2, 0, "a3", ra.cl_ord_id)


def test_replace_that_would_self_cross_is_rejected(ev):
    place(ev, "a", BUY, 1, "0.50")
    ra, _ = place(ev, "a", SELL, 1, "0.60")
    rej = only(ev.replace("a", "a-s", replace_req(ra, 1, "0.50"), QUIET), OrderCancelReject)
    assert (rej.reason, rej.text) == (18, "SELF_CROSS_ATTEMPT")


def test_replace_of_unknown_and_filled_orders(ev):
    ghost = nos(BUY, 1, "0.5", cl="ghost")
    rej = only(ev.replace("a", "a-s", replace_req(ghost, 2), QUIET), OrderCancelReject)
    assert (rej.response_to, rej.reason, rej.ord_status, rej.order_id) == (2, 1, S.REJECTED, "NONE")
    ra, _ = place(ev, "a", SELL, 1, "0.60")
    place(ev, "b", BUY, 1, "0.60")
    rej = only(ev.replace("a", "a-s", replace_req(ra, 2), QUIET), OrderCancelReject)
    assert (rej.reason, rej.text, rej.ord_status) == (2, "CANNOT_UPDATE_FILLED_ORDER", S.FILLED)


# ------------------------------------------------------------------ cancel
def test_cancel_flow_and_cancel_rejects(ev):
    ra, _ = place(ev, "a", SELL, 5, "0.60")
    outs = ev.cancel("a", "a-s", cancel_req(ra, cl="k1"), F0)
    assert kinds(outs) == [(X.PENDING_CANCEL, S.PENDING_CANCEL), (X.CANCELED, S.CANCELED)]
    done = ers(outs)[1]
    assert (done.cl_ord_id, done.orig_cl_ord_id, done.leaves_qty) == ("k1", ra.cl_ord_id, 0)
    assert not ev.books[SYM].asks
    again = only(ev.cancel("a", "a-s", cancel_req(ra), QUIET), OrderCancelReject)
    assert (again.response_to, again.reason, again.ord_status) == (1, 1, S.CANCELED)  # stale ClOrdID
    unknown = only(ev.cancel("a", "a-s", cancel_req(nos(BUY, 1, "0.5", cl="nope")), QUIET), OrderCancelReject)
    assert (unknown.response_to, unknown.reason, unknown.ord_status) == (1, 1, S.REJECTED)
    rb, _ = place(ev, "b", SELL, 1, "0.60")
    wrong = only(ev.cancel("b", "b-s", cancel_req(rb).model_copy(update={"symbol": "OTHER"}), QUIET),
                 OrderCancelReject)
    assert wrong.reason == 1 and wrong.ord_status is S.NEW
    other_account = only(ev.cancel("a", "a-s", cancel_req(rb), QUIET), OrderCancelReject)
    assert other_account.reason == 1
    place(ev, "c", BUY, 1, "0.60")
    late = only(ev.cancel("b", "b-s", cancel_req(rb), QUIET), OrderCancelReject)
    assert (late.reason, late.ord_status) == (0, S.FILLED)


def test_cancel_from_another_session_answers_that_session(ev):
    ra, _ = place(ev, "a", SELL, 5, "0.60", session="nr1")
    outs = ev.cancel("a", "nr2", cancel_req(ra), QUIET)
    assert [o.session for o in outs] == ["nr2"]


# ------------------------------------------------------------------ IOC / FOK / post-only
def test_ioc_partial_without_21007_folds_the_cancel_into_the_last_trade(ev):
    place(ev, "a", SELL, 2, "0.60")
    place(ev, "c", SELL, 1, "0.61")
    _, outs = place(ev, "b", BUY, 5, "0.65", time_in_force=TimeInForce.IOC)
    mine = ers(outs, "b")
    assert [m.exec_type for m in mine] == [X.TRADE, X.TRADE]
    assert (mine[0].ord_status, mine[0].leaves_qty) == (S.PARTIALLY_FILLED, 3)
    assert (mine[1].ord_status, mine[1].leaves_qty, mine[1].cum_qty, mine[1].order_qty) == (S.CANCELED, 0, 3, 3)


def test_ioc_partial_with_21007_gets_an_explicit_cancel(ev):
    place(ev, "a", SELL, 2, "0.60")
    _, outs = place(ev, "b", BUY, 5, "0.65", flags=Flags(skip_pending=True, ioc_cancel_report=True),
                    time_in_force=TimeInForce.IOC)
    trade, cxl = ers(outs, "b")
    assert (trade.ord_status, trade.leaves_qty) == (S.PARTIALLY_FILLED, 3)
    assert (cxl.exec_type, cxl.ord_status, cxl.text, cxl.order_qty) == (
        X.CANCELED, S.CANCELED, "IMMEDIATE_OR_CANCELLED", 2)


def test_ioc_without_fill_is_canceled_and_full_fill_is_filled(ev):
    _, outs = place(ev, "b", BUY, 5, "0.65", time_in_force=TimeInForce.IOC)
    assert [(m.exec_type, m.text) for m in ers(outs)] == [(X.CANCELED, "IMMEDIATE_OR_CANCELLED")]
    place(ev, "a", SELL, 5, "0.60")
    _, outs = place(ev, "b", BUY, 5, "0.65", time_in_force=TimeInForce.IOC)
    assert kinds(outs, "b") == [(X.TRADE, S.FILLED)]


def test_fok_all_or_nothing(ev):
    place(ev, "a", SELL, 2, "0.60")
    place(ev, "c", SELL, 2, "0.62")
    _, outs = place(ev, "b", BUY, 4, "0.61", time_in_force=TimeInForce.FOK)
    assert [(m.exec_type, m.text) for m in ers(outs)] == [(X.CANCELED, "FOK_INSUFFICIENT_VOLUME")]
    assert len(ev.books[SYM].asks) == 2 and ev.books[SYM].asks[0].leaves == 2
    _, outs = place(ev, "b", BUY, 4, "0.62", time_in_force=TimeInForce.FOK)
    assert kinds(outs, "b") == [(X.TRADE, S.PARTIALLY_FILLED), (X.TRADE, S.FILLED)]


def test_post_only(ev):
    place(ev, "a", SELL, 2, "0.60")
    _, outs = place(ev, "b", BUY, 1, "0.60", post_only=True)
    (m,) = ers(outs)
    assert (m.exec_type, m.ord_status, m.text, m.exec_inst) == (X.CANCELED, S.CANCELED, "POST_ONLY_CROSS", "6")
    _, outs = place(ev, "b", BUY, 1, "0.59", post_only=True)
    assert kinds(outs) == [(X.NEW, S.NEW)]


# ------------------------------------------------------------------ self-trade prevention
def test_stp_taker_at_cross_is_the_default(ev):
    place(ev, "c", SELL, 1, "0.58")
    place(ev, "a", SELL, 5, "0.60")
    place(ev, "c", SELL, 5, "0.60")
    _, outs = place(ev, "a", BUY, 4, "0.65")
    mine = ers(outs, "a")
    assert [(m.exec_type, m.text) for m in mine] == [
        (X.TRADE, None), (X.CANCELED, "TAKER_CANCEL_FOR_SELF_TRADE_PREVENTION")]
    assert (mine[1].cum_qty, mine[1].leaves_qty) == (1, 0)
    assert [o.leaves for o in ev.books[SYM].asks] == [5, 5]  # a's own offer untouched


def test_stp_maker_cancels_the_resting_order_and_keeps_matching(ev):
    ra, _ = place(ev, "a", SELL, 5, "0.60", session="a-other")
    place(ev, "c", SELL, 5, "0.61")
    _, outs = place(ev, "a", BUY, 3, "0.65", stp_type=SelfTradePrevention.MAKER)
    cxl = [o for o in outs if o.message.cl_ord_id == ra.cl_ord_id]
    assert [(o.session, o.message.exec_type, o.message.text) for o in cxl] == [
        ("a-other", X.CANCELED, "MAKER_CANCEL_FOR_SELF_TRADE_PREVENTION")]
    t = ers(outs, "a")[-1]
    assert (t.exec_type, t.ord_status, t.last_px, t.stp_type) == (X.TRADE, S.FILLED, D("0.61"), 2)


# ------------------------------------------------------------------ session flags
def test_pending_reports_and_new_folding(ev):
    _, outs = place(ev, "a", SELL, 5, "0.60", flags=F0)
    assert kinds(outs) == [(X.PENDING_NEW, S.PENDING_NEW), (X.NEW, S.NEW)]
    assert ers(outs)[0].exec_id == "-1;-1" and ers(outs)[1].exec_id != "-1;-1"
    _, outs = place(ev, "b", BUY, 1, "0.60", flags=F0)
    assert kinds(outs, "b") == [(X.PENDING_NEW, S.PENDING_NEW), (X.TRADE, S.FILLED)]  # New folded
    _, outs = place(ev, "b", BUY, 1, "0.60", flags=Flags(always_new=True))
    assert kinds(outs, "b") == [(X.PENDING_NEW, S.PENDING_NEW), (X.NEW, S.NEW), (X.TRADE, S.FILLED)]
    _, outs = place(ev, "b", BUY, 1, "0.60", flags=QUIET)
    assert kinds(outs, "b") == [(X.TRADE, S.FILLED)]


def test_each_session_gets_reports_per_its_own_flags(ev):
    place(ev, "a", SELL, 10, "0.60", flags=Flags(skip_pending=True, preserve_qty=True))
    _, outs = place(ev, "b", BUY, 15, "0.60", flags=F0, time_in_force=TimeInForce.IOC)
    maker, taker = ers(outs, "a")[0], ers(outs, "b")[-1]
    assert maker.order_qty == 10
    assert (taker.order_qty, taker.ord_status) == (10, S.CANCELED)  # Cum + Leaves, without 21008


def test_preserve_qty_keeps_the_requested_quantity(ev):
    keep = Flags(skip_pending=True, preserve_qty=True)
    ra, _ = place(ev, "a", SELL, 10, "0.60", flags=keep)
    rb, _ = place(ev, "b", SELL, 10, "0.60", symbol="KXE-26-B")
    place(ev, "c", BUY, 4, "0.60")
    place(ev, "c", BUY, 4, "0.60", symbol="KXE-26-B")
    a = ers(ev.cancel("a", "a-s", cancel_req(ra), keep))[0]
    b = ers(ev.cancel("b", "b-s", cancel_req(rb), QUIET))[0]
    assert (a.order_qty, a.cum_qty, a.leaves_qty) == (10, 4, 0)
    assert (b.order_qty, b.cum_qty, b.leaves_qty) == (4, 4, 0)


def test_cancel_on_disconnect_only_with_8013_and_only_that_session(ev):
    place(ev, "a", SELL, 1, "0.60", session="s1")
    place(ev, "a", SELL, 1, "0.61", session="s2")
    assert ev.disconnect("a", "s1", Flags()) == []
    outs = ev.disconnect("a", "s1", Flags(cancel_on_disconnect=True))
    assert [(o.session, o.message.exec_type) for o in outs] == [("s1", X.CANCELED)]
    assert [o.price for o in ev.books[SYM].asks] == [D("0.61")]


def test_expiry_uses_150_C_only_with_21012(ev, clock):
    from datetime import datetime, timezone
    soon = datetime.fromtimestamp(clock.t + 60, timezone.utc)
    place(ev, "a", SELL, 1, "0.60", time_in_force=TimeInForce.GTD, expire_time=soon)
    place(ev, "b", SELL, 1, "0.61", flags=Flags(skip_pending=True, use_expired=True),
          time_in_force=TimeInForce.GTD, expire_time=soon)
    assert ev.expire() == []
    clock.t += 61
    assert kinds(ev.expire()) == [(X.CANCELED, S.CANCELED), (X.EXPIRED, S.EXPIRED)]
    _, outs = place(ev, "b", BUY, 1, "0.50", time_in_force=TimeInForce.GTD, expire_time=soon)
    assert [m.text for m in ers(outs)] == ["IMMEDIATE_OR_CANCELLED"]  # past GTD acts as IOC


# ------------------------------------------------------------------ rejects
@pytest.mark.parametrize("price,qty,code", [
    ("0", 1, 11), ("1", 1, 11), ("1.2", 1, 11), ("0.00005", 1, 11), ("-0.5", 1, 11),
    ("0.5", 0, 13), ("0.5", -1, 13), ("0.5", "1.5", 13)])
def test_invalid_orders_are_rejected(ev, price, qty, code):
    req, outs = place(ev, "a", BUY, qty, price, flags=F0)
    (m,) = ers(outs)
    assert (m.exec_type, m.ord_status, m.exec_id, m.ord_rej_reason, m.text, m.cl_ord_id) == (
        X.REJECTED, S.REJECTED, "-1;-1", code, "INVALID_ORDER", req.cl_ord_id)


def test_subpenny_price_is_accepted(ev):
    _, outs = place(ev, "a", BUY, 1, "0.0123")
    assert kinds(outs) == [(X.NEW, S.NEW)]


def test_duplicate_and_unknown_market_rejects(clock):
    eng = Engine("event", clock=clock, markets={SYM})
    place(eng, "a", BUY, 1, "0.5", cl="dup")
    _, outs = place(eng, "a", BUY, 1, "0.5", cl="dup")
    assert [(m.ord_rej_reason, m.text) for m in ers(outs)] == [(6, "ORDER_ALREADY_EXISTS")]
    _, outs = place(eng, "b", BUY, 1, "0.5", cl="dup")  # ClOrdIDs are per account
    assert kinds(outs) == [(X.NEW, S.NEW)]
    _, outs = place(eng, "a", BUY, 1, "0.5", symbol="NOPE")
    assert [(m.ord_rej_reason, m.text) for m in ers(outs)] == [(1, "MARKET_NOT_FOUND")]


# ------------------------------------------------------------------ mass cancel
def test_mass_cancel_and_its_rate_limit(ev, clock):
    place(ev, "a", SELL, 1, "0.60", session="s1")
    place(ev, "a", SELL, 1, "0.61", session="s2")
    place(ev, "a", BUY, 1, "0.40", session="s1")
    place(ev, "z", BUY, 1, "0.41")
    outs = ev.mass_cancel("a", "s1", OrderMassCancelRequest(cl_ord_id="m1"), F0)
    rep = outs[0].message
    assert isinstance(rep, OrderMassCancelReport)
    assert (rep.response, rep.total_affected, rep.cl_ord_id) == (6, 3, "m1")
    assert [(o.session, o.message.exec_type) for o in outs[1:]] == [("s1", X.CANCELED), ("s2", X.CANCELED),
                                                                    ("s1", X.CANCELED)]
    assert [o.account for o in ev.books[SYM].bids] == ["z"] and not ev.books[SYM].asks
    clock.t += 0.5
    again = ev.mass_cancel("a", "s1", OrderMassCancelRequest(cl_ord_id="m2"), F0)
    assert [(o.message.response, bool(o.message.text)) for o in again] == [(0, True)]
    clock.t += 0.6
    ok = ev.mass_cancel("a", "s1", OrderMassCancelRequest(cl_ord_id="m3"), F0)
    assert (ok[0].message.response, ok[0].message.total_affected) == (6, 0)


# ------------------------------------------------------------------ order groups
def group(eng, account="a", limit=10, **kw):
    req = OrderGroupRequest(action=GA.CREATE, contracts_limit=limit, **kw)
    outs = eng.order_group(account, f"{account}-s", req, F0)
    return only(outs, OrderGroupResponse)


def gact(eng, action, gid, account="a", **kw):
    return eng.order_group(account, f"{account}-s", OrderGroupRequest(action=action, order_group_id=gid, **kw), F0)


def test_group_create_and_business_errors(ev):
    g = group(ev, limit=7)
    assert (g.action, g.contracts_limit) == (GA.CREATE, 7) and len(g.order_group_id) == 36
    missing = only(ev.order_group("a", "a-s", OrderGroupRequest(action=GA.CREATE), F0), BusinessMessageReject)
    assert (missing.ref_msg_type, missing.reason) == ("UOG", 5)
    unknown = only(gact(ev, GA.RESET, "00000000-0000-0000-0000-000000000000"), BusinessMessageReject)
    assert (unknown.ref_msg_type, unknown.reason, unknown.text) == ("UOG", 0, "ORDER_GROUP_NOT_FOUND")
    other_sub = only(gact(ev, GA.RESET, g.order_group_id, alloc_account=2), BusinessMessageReject)
    assert other_sub.text == "ORDER_GROUP_NOT_FOUND"
    _, outs = place(ev, "a", BUY, 1, "0.5", order_group_id="no-such-group")
    assert [(m.ord_rej_reason, m.text) for m in ers(outs)] == [(11, "ORDER_GROUP_NOT_FOUND")]


def test_group_rolling_window_trips_cancels_blocks_and_reset(ev, clock):
    gid = group(ev, limit=10).order_group_id
    place(ev, "a", SELL, 20, "0.60", order_group_id=gid, session="s1")
    place(ev, "a", SELL, 5, "0.70", order_group_id=gid, session="s2")
    place(ev, "a", SELL, 5, "0.80")  # not in the group
    place(ev, "b", BUY, 6, "0.60")
    clock.t += 16  # the first 6 leave the window
    place(ev, "b", BUY, 6, "0.60")
    assert len(ev.books[SYM].asks) == 3
    clock.t += 4
    _, outs = place(ev, "b", BUY, 5, "0.60")  # 6 + 5 = 11 > 10 within 15 s
    cx = [(o.session, o.message.text, o.message.leaves_qty) for o in outs
          if o.account == "a" and o.message.exec_type is X.CANCELED]
    assert cx == [("s1", "ORDER_GROUP_CANCEL", 0), ("s2", "ORDER_GROUP_CANCEL", 0)]
    assert [o.price for o in ev.books[SYM].asks] == [D("0.80")]
    _, outs = place(ev, "a", SELL, 1, "0.90", order_group_id=gid)
    assert [(m.ord_rej_reason, m.text) for m in ers(outs)] == [(3, "EXCEEDED_ORDER_GROUP_RISK_LIMIT")]
    assert isinstance(only(gact(ev, GA.RESET, gid), OrderGroupResponse), OrderGroupResponse)
    _, outs = place(ev, "a", SELL, 1, "0.90", order_group_id=gid)
    assert kinds(outs) == [(X.NEW, S.NEW)]


def test_group_taker_trips_its_own_group_mid_match(ev):
    gid = group(ev, limit=3).order_group_id
    place(ev, "a", BUY, 2, "0.40", order_group_id=gid)
    place(ev, "b", SELL, 2, "0.60")
    place(ev, "c", SELL, 2, "0.61")
    _, outs = place(ev, "a", BUY, 10, "0.65", order_group_id=gid)
    mine = [(m.exec_type, m.text, m.price) for m in ers(outs, "a")]
    assert mine == [(X.TRADE, None, D("0.65")), (X.TRADE, None, D("0.65")),
                    (X.CANCELED, "ORDER_GROUP_CANCEL", D("0.40")), (X.CANCELED, "ORDER_GROUP_CANCEL", D("0.65"))]
    assert ers(outs, "a")[-1].cum_qty == 4


def test_group_trigger_delete_and_update(ev):
    gid = group(ev, limit=100).order_group_id
    place(ev, "a", SELL, 2, "0.60", order_group_id=gid)
    outs = gact(ev, GA.TRIGGER, gid)
    assert isinstance(outs[0].message, OrderGroupResponse)
    assert [m.text for m in ers(outs)] == ["ORDER_GROUP_CANCEL"]
    _, outs = place(ev, "a", SELL, 1, "0.60", order_group_id=gid)
    assert ers(outs)[0].ord_rej_reason == 3
    gact(ev, GA.RESET, gid)
    place(ev, "a", SELL, 5, "0.60", order_group_id=gid)
    place(ev, "b", BUY, 4, "0.60")
    up = gact(ev, GA.UPDATE, gid, contracts_limit=5)
    assert only(up, OrderGroupResponse).contracts_limit == 5 and not ers(up)  # 4 <= 5: nothing happens
    down = gact(ev, GA.UPDATE, gid, contracts_limit=3)
    assert [m.text for m in ers(down)] == ["ORDER_GROUP_CANCEL"]  # already 4 > 3
    gact(ev, GA.RESET, gid)
    place(ev, "a", SELL, 1, "0.60", order_group_id=gid)
    gone = gact(ev, GA.DELETE, gid)
    assert [m.text for m in ers(gone)] == ["ORDER_GROUP_CANCEL"]
    _, outs = place(ev, "a", SELL, 1, "0.60", order_group_id=gid)
    assert ers(outs)[0].text == "ORDER_GROUP_NOT_FOUND"


# ------------------------------------------------------------------ trade report details
def test_trade_report_extras(clock):
    clock.t = 1_800_000_000.123456
    eng = Engine("event", clock=clock, exchange_index=3)
    place(eng, "a", SELL, 10, "0.70")
    _, outs = place(eng, "b", BUY, 10, "0.70")
    t, m = ers(outs, "b")[0], ers(outs, "a")[0]
    assert t.trd_match_id == m.trd_match_id and t.trd_match_id
    assert (t.aggressor, m.aggressor) == (True, False)
    assert t.last_mkt == m.last_mkt == 3
    assert t.transact_time.microsecond == 123000
    assert t.exec_id.endswith(";3") and exec_id_key(t.exec_id)[0] == 3
    (fee,) = t.fees
    assert (fee.amount, fee.currency, fee.fee_type, fee.basis) == (D("0.15"), "USD", "4", 0)  # ceil(0.147)
    assert m.fees[0].amount == 0
    assert [c.kind for c in t.collateral] == ["BALANCE"]
    assert t.collateral[0].amount == -D("7.00") - D("0.15")
    assert m.collateral[0].amount == -D("3.00")


def test_closing_trade_redeems_pairs(ev):
    place(ev, "a", SELL, 10, "0.60")
    place(ev, "b", BUY, 10, "0.60")  # b: 10 YES
    place(ev, "c", BUY, 10, "0.70")
    _, outs = place(ev, "b", SELL, 10, "0.70")  # b buys 10 NO at 0.30: pairs redeem for $10
    t = ers(outs, "b")[0]
    assert (t.long_qty, t.short_qty) == (0, 0)
    assert t.fee_total == D("0.15")
    assert t.collateral[0].amount == -D("3.00") - D("0.15") + 10
    pos = ev.ledger.positions("b")["market_positions"][0]
    assert (pos["position_fp"], pos["realized_pnl_dollars"]) == ("0.00", "1.0000")


def test_margin_closing_fill_collateral_is_realized_minus_fee(mg):
    place(mg, "a", SELL, 3, "100", symbol="P")
    place(mg, "b", BUY, 3, "100", symbol="P")
    place(mg, "c", BUY, 3, "110", symbol="P")
    _, outs = place(mg, "b", SELL, 5, "109.5001", symbol="P")
    t = ers(outs, "b")[-1]
    fee = D("0.0660")  # 0.0002 * 3 * 110 = 0.066
    assert t.collateral[0].amount == 3 * D(10) - fee
    assert (t.long_qty, t.short_qty, t.leaves_qty) == (0, 0, 2)
    assert mg.ledger.fills("b")[-1]["realized_pnl"] == "30.0000"


def test_margin_collateral_change_is_a_4dp_amount_a_report_can_carry(mg):
    """Found by the randomized session (size 1000): an entry price averaged to 6 dp made a realized
    PnL of 6 dp, the Trade report's 1704 could not be encoded and the report was never sent."""
    from fixgw.fix import codec as fields
    from fixgw.pricing import Units

    outs = []
    for account, side, qty, price in (("a", SELL, 2, "100.0000"), ("b", BUY, 2, "100.0000"),
                                      ("a", SELL, 1, "100.2500"), ("b", BUY, 1, "100.2500"),  # b: 3 at 100.083333
                                      ("c", BUY, 3, "101.0000"), ("b", SELL, 3, "101.0000")):
        outs += place(mg, account, side, qty, price, symbol="P")[1]
    assert mg.ledger.fills("b")[-1]["realized_pnl"] == "2.750001"  # 3 x (101 - 100.083333)
    changes = [m.collateral[0].amount for m in ers(outs, "b") if m.exec_type is X.TRADE]
    assert len(changes) == 3 and all(c == c.quantize(D("0.0001")) for c in changes), changes
    for m in ers(outs):
        fields.encode(m, Units.DOLLARS)  # every report is one its session can carry
    assert mg.cash.balance("b")["balance_dollars"] == f"{sum(changes):.4f}"  # the oracle books what it reports


def test_settlement_reports_once_per_holding_account(ev):
    place(ev, "a", SELL, 5, "0.40", alloc_account=2)
    place(ev, "b", BUY, 5, "0.40")
    place(ev, "c", BUY, 1, "0.10")
    outs = ev.settle(SYM, "yes")
    assert [(o.account, o.message.exec_type) for o in outs if isinstance(o.message, ExecutionReport)] == [
        ("c", X.CANCELED)]  # the market closes: resting orders go first
    ums = {o.account: o.message for o in outs if isinstance(o.message, MarketSettlementReport)}
    assert set(ums) == {"a", "b"} and all(o.session is None for o in outs if o.account in ums)
    (pb,) = ums["b"].parties
    assert (pb.party_id, pb.long_qty, pb.short_qty, pb.collateral[0].amount, pb.collateral[0].kind) == (
        "b", 5, 0, D("5.00"), "PAYOUT")
    (pa,) = ums["a"].parties
    assert (pa.party_id, pa.short_qty, pa.collateral[0].amount) == ("a:2", 5, 0)
    assert ums["b"].market_result == "yes" and ums["b"].settlement_price == 1
    _, outs = place(ev, "b", BUY, 1, "0.5")
    assert [(m.ord_rej_reason, m.text) for m in ers(outs)] == [(2, "MARKET_ALREADY_CLOSED")]
    with pytest.raises(ValueError):
        Engine("margin").settle(SYM, "yes")
    with pytest.raises(ValueError):
        ev.settle(SYM, "scalar")


def test_exec_ids_increase_as_integer_tuples(ev):
    outs = []
    for i in range(12):  # crosses the 9 -> 10 boundary where string order breaks
        outs += place(ev, "a", SELL, 1, "0.60", flags=F0)[1]
        outs += place(ev, "b", BUY, 1, "0.60", flags=F0)[1]
    ids = [m.exec_id for m in ers(outs) if m.exec_id != "-1;-1"]
    keys = [exec_id_key(i) for i in ids]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert sorted(ids) != ids  # string order would be wrong
    t = [m for m in ers(outs) if m.exec_type is X.TRADE]
    assert t[0].exec_id.split(";")[0] == t[1].exec_id.split(";")[0]  # both sides in one batch


# ------------------------------------------------------------------ random order flow
ACCOUNTS = ["a", "b", "c"]
SYMS = ["KXE-26-A", "KXE-26-B"]
op = st.tuples(st.sampled_from(["new"] * 6 + ["cancel", "replace"]), st.sampled_from(ACCOUNTS),
               st.sampled_from(SYMS), st.sampled_from([BUY, SELL]), st.integers(1, 6), st.integers(40, 60),
               st.sampled_from([None, None, TimeInForce.IOC, TimeInForce.FOK]),
               st.sampled_from([False] * 4 + [True]), st.sampled_from([None, SelfTradePrevention.MAKER]),
               st.integers(0, 50), st.integers(0, 8))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=20, max_size=80), st.sampled_from(["event", "margin"]))
def test_random_flow_keeps_invariants(ops, product):
    clock = Clock()
    eng = Engine(product, clock=clock)
    placed: list[NewOrderSingle] = []
    current: dict[int, NewOrderSingle] = {}
    seen: list[Out] = []
    for kind, acct, sym, side, qty, cents, tif, post, stp, pick, new_qty in ops:
        clock.t += 0.25
        if kind == "new":
            req = nos(side, qty, D(cents) / 100, symbol=sym, time_in_force=tif, post_only=post and tif is None,
                      stp_type=stp)
            placed.append(req)
            current[len(placed) - 1] = req
            outs = eng.new_order(acct, f"{acct}-s", req, F0)
        elif not placed:
            continue
        else:
            i = pick % len(placed)
            req = current[i]
            owner = next((x.account for x in eng.orders.values() if x.cl_ord_id == req.cl_ord_id
                          and x.symbol == req.symbol and x.side == req.side), "a")
            if kind == "cancel":
                outs = eng.cancel(owner, f"{owner}-s", cancel_req(req), F0)
            else:
                r = replace_req(req, new_qty, D(cents) / 100)
                outs = eng.replace(owner, f"{owner}-s", r, F0)
                if any(isinstance(x.message, ExecutionReport) for x in outs):
                    current[i] = req.model_copy(update={"cl_ord_id": r.cl_ord_id})
        seen += outs
        for book in eng.books.values():
            assert not book.crossed()
        for order in eng.resting.values():
            assert order.cum + order.leaves == order.requested_qty and order.leaves > 0
        for sym in SYMS:
            assert sum(eng.ledger.net_position(a, 0, sym) for a in ACCOUNTS) == 0
    reports = [x.message for x in seen if isinstance(x.message, ExecutionReport)]
    for m in reports:
        if m.ord_status in (S.NEW, S.PARTIALLY_FILLED, S.REPLACED, S.PENDING_NEW):
            assert m.cum_qty + m.leaves_qty == m.order_qty
    keys = [exec_id_key(m.exec_id) for m in reports if m.exec_id != "-1;-1"]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    trades: dict[str, list[ExecutionReport]] = {}
    for m in reports:
        if m.exec_type is X.TRADE:
            trades.setdefault(m.trd_match_id, []).append(m)
    for pair in trades.values():  # one side's YES is the other side's NO, at one price
        a, b = pair
        assert {a.side, b.side} == {BUY, SELL} and a.last_qty == b.last_qty and a.last_px == b.last_px
        assert {a.aggressor, b.aggressor} == {True, False}
