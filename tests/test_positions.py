"""Ledger rules, walked by hand, plus invariants over random fill sequences."""

import datetime as dt
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw.models.rest import Fill, MarginFill
from fixgw.positions import Ledger, event_ticker

T0 = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.timezone.utc)
MKT = "KXHIGHNY-26NOV21-T50"
_ids = iter(range(10**9))


def fill(outcome: str, q: str, yes_px: str, fee: str = "0", *, ticker: str = MKT, sub: int | None = None,
         minute: int = 0, index: int = 0) -> Fill:
    n = next(_ids)
    return Fill(fill_id=f"t{n}", exchange_index=index, trade_id=f"t{n}", order_id=f"o{n}", ticker=ticker,
                market_ticker=ticker, outcome_side=outcome, book_side="bid" if outcome == "yes" else "ask",
                count_fp=q, yes_price_dollars=yes_px, no_price_dollars=D(1) - D(yes_px), is_taker=True,
                created_time=T0 + dt.timedelta(minutes=minute), fee_cost=fee, subaccount_number=sub)


def mfill(side: str, q: str, px: str, fee: str = "0", ticker: str = "KXBTCPERP") -> MarginFill:
    n = next(_ids)
    return MarginFill(fill_id=f"m{n}", order_id=f"mo{n}", is_taker=True, side=side, count=q, created_time=T0,
                      ticker=ticker, price=px, entry_price="0", fees=fee, realized_pnl="0")


def numbers(ledger: Ledger, ticker: str = MKT, sub: int = 0) -> dict:
    out = ledger.market_position(sub, ticker).model_dump(mode="json")
    return {k: out[k] for k in ("position_fp", "market_exposure_dollars", "realized_pnl_dollars",
                                "fees_paid_dollars", "total_traded_dollars")}


def test_event_ticker_drops_the_last_segment():
    assert event_ticker("KXHIGHNY-26NOV21-T50") == "KXHIGHNY-26NOV21"
    assert event_ticker("PLAIN") == "PLAIN"


def test_event_walk_open_add_partial_close_flip():
    ledger = Ledger(user_id="u")
    # open: buy YES 10 @ 0.56, fee 0.18 -> P=10, C=5.60, T=5.60
    ledger.add(fill("yes", "10", "0.56", "0.18"))
    assert numbers(ledger) == {"position_fp": "10.00", "market_exposure_dollars": "5.6000",
                               "realized_pnl_dollars": "0.0000", "fees_paid_dollars": "0.1800",
                               "total_traded_dollars": "5.6000"}
    # add: buy YES 5 @ 0.50 -> P=15, C=5.60+2.50=8.10, T=8.10
    ledger.add(fill("yes", "5", "0.50", "0.07", minute=1))
    assert numbers(ledger)["market_exposure_dollars"] == "8.1000"
    # partial close: buy NO 6 @ yes 0.70 (px 0.30): k=6, removed=8.10*6/15=3.24, C=4.86,
    # R += 6 - 3.24 - 6*0.30 = 0.96; P=9; T=8.10+1.80=9.90; F=0.25
    ledger.add(fill("no", "6", "0.70", "0", minute=2))
    assert numbers(ledger) == {"position_fp": "9.00", "market_exposure_dollars": "4.8600",
                               "realized_pnl_dollars": "0.9600", "fees_paid_dollars": "0.2500",
                               "total_traded_dollars": "9.9000"}
    # flip YES->NO: buy NO 13 @ yes 0.40 (px 0.60): k=9, removed=4.86, C=0,
    # R += 9 - 4.86 - 9*0.60 = -1.26 -> R=-0.30; rest 4 opens NO: P=-4, C=4*0.60=2.40; T=9.90+7.80=17.70
    update = ledger.add(fill("no", "13", "0.40", "0.10", minute=3))
    assert numbers(ledger) == {"position_fp": "-4.00", "market_exposure_dollars": "2.4000",
                               "realized_pnl_dollars": "-0.3000", "fees_paid_dollars": "0.3500",
                               "total_traded_dollars": "17.7000"}
    assert ledger.market_position(0, MKT).last_updated_ts == T0 + dt.timedelta(minutes=3)
    # volume = 10+5+6+13 = 34 contracts; position_fee_cost mirrors fees_paid
    assert update.model_dump(mode="json") == {
        "user_id": "u", "market_ticker": MKT, "position_fp": "-4.00", "position_cost_dollars": "2.4000",
        "realized_pnl_dollars": "-0.3000", "fees_paid_dollars": "0.3500", "position_fee_cost_dollars": "0.3500",
        "volume_fp": "34.00", "subaccount": 0}
    assert ledger.cost_basis(0, MKT) == (D(0), D("2.40"))


def test_event_removed_cost_is_quantized_to_six_places_half_even():
    ledger = Ledger()
    # YES 2 @ 0.25 + YES 1 @ 0.50 -> P=3, C=1.00
    ledger.add(fill("yes", "2", "0.25"))
    ledger.add(fill("yes", "1", "0.50"))
    book = ledger.events[(0, MKT)]
    # close 1 (NO @ yes 0.50, px 0.50): removed = 1.00/3 = 0.333333; C=0.666667; R = 1-0.333333-0.5 = 0.166667
    ledger.add(fill("no", "1", "0.50"))
    assert (book.C, book.R) == (D("0.666667"), D("0.166667"))
    # close 1: removed = 0.666667/2 = 0.3333335 -> 0.333334 (half even); C=0.333333; R += 0.166666
    ledger.add(fill("no", "1", "0.50"))
    assert (book.C, book.R) == (D("0.333333"), D("0.333333"))
    # close the last: removed = 0.333333; C=0; R += 0.166667 -> 0.5 = 3*$1 - 1.00 cost - 1.50 paid for NO
    ledger.add(fill("no", "1", "0.50"))
    assert (book.P, book.C, book.R) == (0, 0, D("0.5"))
    assert numbers(ledger)["realized_pnl_dollars"] == "0.5000"


def test_event_positions_roll_up_per_event_and_subaccount():
    ledger = Ledger()
    ledger.add(fill("yes", "10", "0.56", "0.18"))                 # T50: P=10, C=5.60
    ledger.add(fill("no", "4", "0.60", minute=5))                 # T50: P=6, C=3.36, R=0.16
    ledger.add(fill("no", "3", "0.30", "0.05", ticker="KXHIGHNY-26NOV21-T52", index=1))  # P=-3, C=2.10
    ledger.add(fill("yes", "1", "0.10", ticker="OTHER-EV-M1", sub=2))  # other subaccount
    (event,) = ledger.event_positions(0)
    assert event.model_dump(mode="json") == {
        "event_ticker": "KXHIGHNY-26NOV21", "total_cost_dollars": "5.4600", "total_cost_shares_fp": "9.00",
        "event_exposure_dollars": "5.4600", "realized_pnl_dollars": "0.1600", "fees_paid_dollars": "0.2300"}
    assert [p.ticker for p in ledger.market_positions(0)] == ["KXHIGHNY-26NOV21-T50", "KXHIGHNY-26NOV21-T52"]
    assert [p.event_ticker for p in ledger.event_positions(2)] == ["OTHER-EV"]
    assert ledger.market_position(1, MKT) is None


def test_a_resent_fill_is_counted_once():
    ledger = Ledger()
    f = fill("yes", "10", "0.56", "0.18")
    assert ledger.add(f) is not None
    assert ledger.add(f) is None
    assert numbers(ledger)["position_fp"] == "10.00"


def test_margin_walk_long_to_short_and_flat():
    ledger = Ledger()
    steps = [
        # bid 2 @ 100: E = 2*100/2 = 100; P=2; F=0.10
        (mfill("bid", "2", "100", "0.10"), "100.0000", "0.0000"),
        # bid 1 @ 103: E = (2*100 + 103)/3 = 101; P=3; F=0.15
        (mfill("bid", "1", "103", "0.05"), "101.0000", "0.0000"),
        # ask 1 @ 104: close k=1, realized 1*(104-101)=3; P=2, E=101; F=0.20
        (mfill("ask", "1", "104", "0.05"), "101.0000", "3.0000"),
        # ask 5 @ 99.50: close k=2, realized 2*(99.5-101)=-3; rest 3 opens short: P=-3, E=99.5; F=0.45
        (mfill("ask", "5", "99.50", "0.25"), "99.5000", "-3.0000"),
    ]
    for f, entry, realized in steps:
        out = ledger.add_margin(f)
        assert (dollar(out.entry_price), dollar(out.realized_pnl)) == (entry, realized)
    pos = ledger.margin_position(0, "KXBTCPERP", mark=D("100"))
    # unrealized = (100 - 99.5) * -3 = -1.50
    assert pos.model_dump(mode="json") == {
        "subaccount": 0, "market_ticker": "KXBTCPERP", "position": "-3.00", "entry_price": "99.5000",
        "unrealized_pnl": "-1.5000", "margin_used": None, "fees": "0.4500", "roe": None, "is_portfolio": False}
    assert ledger.margin_position(0, "KXBTCPERP").unrealized_pnl is None  # no mark: not known
    # bid 3 @ 98: close k=3, realized 3*(99.5-98)=4.5; P=0 -> E=0; fees stay cumulative: 0.60
    out = ledger.add_margin(mfill("bid", "3", "98", "0.15"))
    assert (out.entry_price, out.realized_pnl, out.fees) == (D(0), D("4.5"), D("0.15"))
    book = ledger.margins[(0, "KXBTCPERP")]
    assert (book.P, book.E, book.F, book.R) == (0, 0, D("0.60"), D("4.5"))


def test_margin_fees_do_not_depend_on_how_the_fills_were_split():
    """Issue 9 defect 5: a flip in one fill or two, and a flat position, keep every fee paid."""
    def run(*fills):
        ledger = Ledger()
        for f in fills:
            ledger.add_margin(f)
        return ledger.margin_position(0, "KXBTCPERP").model_dump(mode="json")

    one = run(mfill("bid", "5", "100", "0.05"), mfill("ask", "8", "101", "0.08"))
    two = run(mfill("bid", "5", "100", "0.05"), mfill("ask", "5", "101", "0.05"), mfill("ask", "3", "101", "0.03"))
    assert one == two and one["fees"] == "0.1300" and one["position"] == "-3.00"
    flat = run(mfill("bid", "5", "100", "0.05"), mfill("ask", "5", "101", "0.05"))
    assert (flat["position"], flat["fees"]) == ("0.00", "0.1000")
    assert flat["unrealized_pnl"] is None  # JSON null: fixgw has no mark price


def test_margin_entry_price_is_quantized_to_six_places():
    ledger = Ledger()
    ledger.add_margin(mfill("bid", "1", "100"))
    ledger.add_margin(mfill("bid", "2", "100.01"))
    # (1*100 + 2*100.01)/3 = 100.006666... -> 100.006667 (printed as is: FixedPointDollars has 6 dp)
    assert ledger.margins[(0, "KXBTCPERP")].E == D("100.006667")
    assert ledger.margin_positions(0)[0].model_dump(mode="json")["entry_price"] == "100.006667"


def dollar(d: D) -> str:
    return f"{d.quantize(D('0.0001')):f}"


# ---------------------------------------------------------------- invariants
qty = st.integers(1, 5000).map(lambda n: D(n) / 100)
price = st.integers(1, 9999).map(lambda n: D(n) / 10000)
fee = st.integers(0, 500).map(lambda n: D(n) / 10000)
event_fills = st.lists(st.tuples(st.sampled_from(["yes", "no"]), qty, price, fee), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(event_fills, price)
def test_event_invariants(fills, close_px):
    ledger = Ledger()
    signed = D(0)
    for outcome, q, px, f in fills:
        ledger.add(fill(outcome, str(q), str(px), str(f)))
        signed += q if outcome == "yes" else -q
        book = ledger.events[(0, MKT)]
        assert book.C >= 0
        assert book.P == signed
        # cash identity: what was paid = open cost + $1 per redeemed pair - realized
        assert book.T == book.C + (book.V - abs(book.P)) / 2 - book.R
    book = ledger.events[(0, MKT)]
    if book.P:
        ledger.add(fill("no" if book.P > 0 else "yes", str(abs(book.P)), str(close_px)))
    assert (book.P, book.C) == (0, 0)


margin_fills = st.lists(st.tuples(st.sampled_from(["bid", "ask"]), qty, price.map(lambda p: p * 200), fee),
                        min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(margin_fills, price)
def test_margin_invariants(fills, close_px):
    ledger = Ledger()
    signed = paid = D(0)
    for side, q, px, f in fills:
        ledger.add_margin(mfill(side, str(q), str(px), str(f)))
        signed += q if side == "bid" else -q
        paid += f
        book = ledger.margins[(0, "KXBTCPERP")]
        assert book.P == signed
        assert (book.E == 0) == (book.P == 0) and book.E >= 0
        assert book.F == paid  # cumulative, however the fills were split
    book = ledger.margins[(0, "KXBTCPERP")]
    if book.P:
        ledger.add_margin(mfill("ask" if book.P > 0 else "bid", str(abs(book.P)), str(close_px)))
    assert (book.P, book.E, book.F) == (0, 0, paid)
