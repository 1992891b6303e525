"""Kept books (fixgw.recorder.kept): a checkpoint plus the reports after it equals a full replay.

Random report streams (orders of the account, of two subaccounts and of two FCM
sub-traders: new, partial fills, fills, cancels, with fees and BALANCE changes)
reach the store in a random order and in random batches, some twice; the
watermark moves to the highest key below which everything is stored (what the
recorder proves), with a checkpoint every ``every`` reports (random). At random
moments the kept read must equal the full replay field by field.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import random
import uuid
from decimal import Decimal as D

import pytest

from fixgw.fix import codec as fields
from fixgw.models import fix as m
from fixgw.pricing import Units
from fixgw.recorder import kept
from fixgw.recorder.replay import Replayed, replay
from fixgw.recorder.store import StoredReport, StoredSettlement, exec_key, open_store
from fixgw.recorder.views import Query

SOH = "\x01"
UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 21, 12, tzinfo=UTC)
TICKERS = ["KXHIGHNY-26NOV21-T50", "KXHIGHNY-26NOV21-T51", "KXRAIN-26NOV21-B1", "KXRAIN-26NOV21-B2"]
SUBTRADERS = ["3f1c0d5e-0000-4000-8000-00000000000a", "3f1c0d5e-0000-4000-8000-00000000000b"]


def text(model, units: Units) -> str:
    mt, pairs = fields.encode(model, units)
    body = f"35={mt}{SOH}34=2{SOH}49=KalshiDC{SOH}52=20261121-18:00:00.000{SOH}56=key{SOH}" + \
        "".join(f"{t}={v}{SOH}" for t, v in pairs)
    head = f"8=FIXT.1.1{SOH}9={len(body)}{SOH}"
    return f"{head}{body}10={sum((head + body).encode()) % 256:03d}{SOH}"


def stream(rng: random.Random, product: str, n_orders: int, units: Units | None = None) -> list[StoredReport]:
    """Interleaved order lifecycles, ExecIDs in the order they happen (clock;event)."""
    units = units or (Units.DOLLARS if product == "margin" else rng.choice([Units.CENTS, Units.DOLLARS]))
    orders = []
    for i in range(n_orders):
        sub = rng.choice([None, None, 1])
        who = rng.choice([None, None, *SUBTRADERS])
        orders.append(dict(id=f"o{i}-{uuid.UUID(int=rng.getrandbits(128))}", side=rng.choice(list(m.Side)[:2]),
                           symbol=rng.choice(TICKERS), qty=D(rng.randint(1, 20)), cum=D(0), sub=sub,
                           parties=(m.Party(party_id=who, role=24),) if who else (), steps=0, done=False,
                           ioc=rng.random() < 0.3))  # one report: filled at once, or canceled
    out, clock = [], 100
    live = list(orders)
    while live:
        o = rng.choice(live)
        clock += rng.randint(1, 3)
        kw = dict(order_id=o["id"], cl_ord_id=f"c-{o['id']}", side=o["side"], symbol=o["symbol"],
                  order_qty=o["qty"], price=D(rng.randint(1, 99)) / 100, alloc_account=o["sub"],
                  parties=o["parties"], transact_time=T0 + dt.timedelta(seconds=clock), exec_id=f"{clock};{rng.randint(0, 9)}")
        left = o["qty"] - o["cum"]
        if o["steps"] == 0 and o["ioc"] and rng.random() < 0.3:
            er = m.ExecutionReport(exec_type=m.ExecType.CANCELED, ord_status=m.OrdStatus.CANCELED, cum_qty=D(0),
                                   leaves_qty=D(0), **kw)
            o["done"] = True
        elif o["steps"] == 0 and not o["ioc"]:
            er = m.ExecutionReport(exec_type=m.ExecType.NEW, ord_status=m.OrdStatus.NEW, cum_qty=D(0),
                                   leaves_qty=o["qty"], **kw)
        elif rng.random() < 0.15:
            er = m.ExecutionReport(exec_type=m.ExecType.CANCELED, ord_status=m.OrdStatus.CANCELED,
                                   cum_qty=o["cum"], leaves_qty=D(0), **kw)
            o["done"] = True
        else:
            q = D(rng.randint(1, int(left)))
            o["cum"] += q
            px = D(rng.randint(1, 99)) / 100
            fee = D(rng.randint(0, 7)) / 100
            er = m.ExecutionReport(
                exec_type=m.ExecType.TRADE, ord_status=m.OrdStatus.FILLED if o["cum"] == o["qty"]
                else m.OrdStatus.PARTIALLY_FILLED, cum_qty=o["cum"], leaves_qty=o["qty"] - o["cum"],
                last_px=px, last_qty=q, last_mkt=0, trd_match_id=f"t{clock}", aggressor=rng.random() < 0.5,
                fees=(m.MiscFee(amount=fee, currency="USD", fee_type="4"),),
                collateral=(m.CollateralChange(amount=-(q * px + fee), kind="BALANCE"),), **kw)
            o["done"] = o["cum"] == o["qty"]
        o["steps"] += 1
        if o["done"]:
            live.remove(o)
        out.append(StoredReport.from_model("acct", product, er, text(er, units), T0, units))
    return out


def settlement(rng: random.Random, ticker: str, rid: str) -> StoredSettlement:
    parties = [m.SettlementParty(party_id=p, collateral=(m.CollateralChange(amount=D(rng.randint(0, 900)) / 100,
                                                                             kind="PAYOUT"),))
               for p in ["me", *SUBTRADERS]]
    ums = m.MarketSettlementReport(report_id=rid, symbol=ticker, clearing_business_date="20261121",
                                   market_result=rng.choice(["yes", "no"]), parties=tuple(parties))
    return StoredSettlement.from_model("acct", "event", ums, text(ums, Units.DOLLARS), T0)


def assert_same(a: Replayed, b: Replayed) -> None:
    """Field by field: positions, cash, open orders and settlements of every scope."""
    assert sorted(a.subtraders.books) == sorted(b.subtraders.books)
    for who in [None, *sorted(b.subtraders.books)]:
        x, y = a.books(who), b.books(who)
        assert x.ledger.events == y.ledger.events, who  # EventBook: P, C, R, F, T, V, index, time
        assert x.ledger.margins == y.ledger.margins, who
        assert x.ledger.settled == y.ledger.settled, who
        assert x.orders.orders("resting") == y.orders.orders("resting"), who
        assert a.view(who).settlements == b.view(who).settlements, who
        for product in ("event", "margin"):
            assert a.cash.balance(product, who) == b.cash.balance(product, who)
    assert (a.cash.since, a.cash._sum, a.cash._updated) == (b.cash.since, b.cash._sum, b.cash._updated)


@pytest.fixture(params=["sqlite", "postgres"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/recorder.db"
    return request.getfixturevalue("pg_database")


@pytest.mark.parametrize("seed", range(12))
def test_kept_books_plus_the_tail_equal_a_full_replay(url, seed):
    rng = random.Random(seed)
    product = "margin" if seed % 3 == 2 else "event"
    units = Units.DOLLARS if product == "margin" else rng.choice([Units.CENTS, Units.DOLLARS])
    reports = stream(rng, product, rng.randint(15, 60), units)
    store = open_store(url)
    keeper = kept.Keeper(store, "acct", every=rng.randint(1, 40), step=rng.randint(1, 30))
    by_key = sorted(reports, key=lambda r: r.key)
    arrival = list(reports)
    for i in range(len(arrival)):  # arrive late or early, within a window of a few reports
        j = min(len(arrival) - 1, i + rng.randint(0, 6))
        arrival[i], arrival[j] = arrival[j], arrival[i]
    stored: set = set()
    checks = checkpoints = 0
    i = 0
    while i < len(arrival):
        batch = arrival[i:i + rng.randint(1, 12)]
        i += len(batch)
        store.put(batch + rng.sample(reports[:i], min(3, i)))  # some again: a resend
        stored.update(r.key for r in batch)
        top = None
        for r in by_key:  # the watermark: the highest key with everything below it stored
            if r.key not in stored:
                break
            top = r
        if top is not None and rng.random() < 0.7:  # a third of the moves while "backfilling": no fold
            keeper.set_watermark(product, 0, top.exec_id, defer=rng.random() < 0.3)
        if rng.random() < 0.3:  # the writer had nothing to write
            keeper.catch_up([product])
            cp = store.checkpoint("acct", product)
            if cp is not None:
                checkpoints += 1
                assert cp.through <= exec_key(store.watermark("acct", product, 0))
                assert all(o.status == "resting" for o in kept.loads(cp.state).own.orders.orders())
        if rng.random() < 0.3 or i >= len(arrival):
            if product == "event" and rng.random() < 0.5:
                t = rng.choice(TICKERS)
                store.put_settlements([settlement(rng, t, f"s-{t}")])
            full = replay(store, "acct", product, party_id="me", kept=False)
            assert_same(replay(store, "acct", product, party_id="me"), full)
            checks += 1
    assert checks and checkpoints  # the kept path was taken, and compared
    while keeper.catch_up([product]):
        pass
    assert not keeper.behind  # caught up; from here a checkpoint comes every ``every`` reports again
    # the views answer the same from either path
    for who in (None, *SUBTRADERS):
        q = Query(store, "acct", product, subtrader=who, party_id="me", settlement_status="all")
        body = q.positions()
        cp = store.checkpoint("acct", product)
        store.put_checkpoint(dataclasses.replace(cp, version=kept.VERSION + 1))  # another version: full replay
        assert q.positions() == body
        store.put_checkpoint(cp)
    store.close()


def test_rebuild_writes_the_checkpoint_of_everything_up_to_the_watermark(tmp_path):
    rng = random.Random(7)
    store = open_store(f"sqlite:///{tmp_path}/r.db")
    reports = stream(rng, "event", 30)
    store.put(reports)
    assert kept.rebuild(store, "acct", "event") is None  # no watermark: nothing is known to be complete
    by_key = sorted(reports, key=lambda r: r.key)
    store.set_watermark("acct", "event", 0, by_key[len(by_key) // 2].exec_id)
    cp = kept.rebuild(store, "acct", "event")
    assert cp.through == by_key[len(by_key) // 2].key and cp.reports == len(by_key) // 2 + 1
    assert store.checkpoint("acct", "event") == dataclasses.replace(cp, updated_at=store.checkpoint(
        "acct", "event").updated_at)
    assert_same(replay(store, "acct", "event"), replay(store, "acct", "event", kept=False))
    books, through = kept.load(store, "acct", "event")
    assert through == cp.through
    store.close()


def test_kept_state_is_plain_data_only():
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    with pytest.raises(pickle.UnpicklingError, match="builtins.print"):
        kept.loads(pickle.dumps((kept.VERSION, Evil())))


def test_fills_page_reads_pages_in_key_order_and_equals_the_full_list(tmp_path):
    rng = random.Random(3)
    store = open_store(f"sqlite:///{tmp_path}/r.db")
    reports = stream(rng, "event", 40)
    store.put(reports)
    for product_filter in (dict(), dict(ticker=TICKERS[0]), dict(subtrader=SUBTRADERS[0])):
        q = Query(store, "acct", "event", **product_filter)
        whole = list(q.fills())
        pages, cursor = [], None
        while True:
            page, cursor = Query(store, "acct", "event", limit=7, cursor=cursor, **product_filter).fills_page()
            pages += page
            assert len(page) <= 7
            if cursor is None:
                break
        assert pages == whole and whole
    store.close()


def test_cli_fills_pages_and_rebuild(tmp_path):
    import json

    from click.testing import CliRunner

    from fixgw.cli import cli

    url = f"sqlite:///{tmp_path}/r.db"
    store = open_store(url)
    reports = stream(random.Random(5), "event", 20)
    store.put(reports)
    top = max(reports, key=lambda r: r.key)
    store.set_watermark("acct", "event", 0, top.exec_id)
    whole = [json.loads(f.model_dump_json()) for f in Query(store, "acct", "event").fills()]
    store.close()
    base = ["--store", url, "--account", "acct"]
    rows, cursor = [], None
    while True:
        out = CliRunner().invoke(cli, ["fills", *base, "--limit", "5", *(["--cursor", cursor] if cursor else [])])
        assert out.exit_code == 0, out.output
        rows += [json.loads(line) for line in out.stdout.splitlines()]
        if "last page" in out.stderr:
            break
        cursor = out.stderr.split("--cursor '")[1].split("'")[0]
    assert rows == whole and len(whole) > 5
    out = CliRunner().invoke(cli, ["fills", *base, "--limit", "5", "--cursor", "nonsense"])
    assert out.exit_code == 2 and "--cursor" in out.output
    out = CliRunner().invoke(cli, ["rebuild", *base, "--product", "event"])
    assert out.exit_code == 0 and f"{len(reports)} reports up to {top.exec_id} kept" in out.stderr
    out = CliRunner().invoke(cli, ["rebuild", *base, "--product", "margin"])
    assert out.exit_code == 0 and "no watermark yet" in out.stderr
    with open_store(url) as store:
        assert store.checkpoint("acct", "event").reports == len(reports)
        assert_same(replay(store, "acct", "event"), replay(store, "acct", "event", kept=False))


def test_checkpoints_come_less_often_as_the_books_grow(tmp_path):
    """A checkpoint writes the whole state: with many open orders, writing one every few reports
    would cost the state's size per report (the 100k backfill took 5.8x the bare client)."""
    rng = random.Random(5)
    reports = sorted(stream(rng, "event", 60, Units.DOLLARS), key=lambda r: r.key)
    store = open_store(f"sqlite:///{tmp_path / 'k.db'}")
    keeper = kept.Keeper(store, "acct", every=1)
    seen = []  # (reports folded, bytes) of each checkpoint written
    for r in reports:
        store.put([r])
        keeper.set_watermark("event", 0, r.exec_id)
        cp = store.checkpoint("acct", "event")
        if cp is not None and (not seen or cp.reports != seen[-1][0]):
            seen.append((cp.reports, len(cp.state)))
    assert len(seen) >= 2
    for (before, size), (after, _) in zip(seen, seen[1:]):
        assert after - before >= max(1, size // kept.BYTES_PER_REPORT)
    assert seen[-1][1] // kept.BYTES_PER_REPORT > 1  # the rule was in play, not just every=1
    store.close()


def test_a_backfill_defers_the_fold_and_catch_up_folds_it_in_steps(tmp_path):
    """While a product backfills the writer moves its watermark without folding (a backfill costs
    what storing costs); when it has nothing to write, catch_up folds at most ``step`` reports a
    call, each step a checkpoint a read can start from, until the books reach the watermark."""
    rng = random.Random(11)
    reports = sorted(stream(rng, "event", 40, Units.CENTS), key=lambda r: r.key)
    store = open_store(f"sqlite:///{tmp_path / 'k.db'}")
    keeper = kept.Keeper(store, "acct", every=1, step=7)
    for r in reports:  # the backfill: every move deferred
        store.put([r])
        keeper.set_watermark("event", 0, r.exec_id, defer=True)
    assert store.checkpoint("acct", "event") is None and "event" in keeper.behind
    keeper.set_watermark("event", 0, reports[-1].exec_id)  # live again: still behind, so still no fold
    assert store.checkpoint("acct", "event") is None
    assert not keeper.catch_up(["margin"]) and store.checkpoint("acct", "event") is None  # not that product
    folded = []
    while keeper.catch_up(["event"]):
        folded.append(store.checkpoint("acct", "event").reports)
        assert_same(replay(store, "acct", "event"), replay(store, "acct", "event", kept=False))
    cp = store.checkpoint("acct", "event")
    assert folded == list(range(7, len(reports), 7))  # one step each
    assert cp.through == reports[-1].key and cp.reports == len(reports) and not keeper.behind
    assert_same(replay(store, "acct", "event"), replay(store, "acct", "event", kept=False))
    store.close()


def test_a_catch_up_step_that_fails_is_folded_again_or_turns_the_books_off(tmp_path):
    """A passing store error while a step's checkpoint is written is raised for the writer to
    repeat the step, which then writes it (the books are not left ahead of the store); any other
    error turns the kept books off for the run instead of stopping the recording."""
    rng = random.Random(3)
    reports = sorted(stream(rng, "event", 20, Units.CENTS), key=lambda r: r.key)
    store = open_store(f"sqlite:///{tmp_path / 'k.db'}")
    store.put(reports)
    keeper = kept.Keeper(store, "acct", every=1, step=len(reports))
    keeper.set_watermark("event", 0, reports[-1].exec_id, defer=True)
    real, fails = store.put_checkpoint, [True]

    def busy(cp):
        if fails and fails.pop():
            store.transient = lambda e: True  # this store's answer for the error below
            raise RuntimeError("database is locked")
        return real(cp)

    store.put_checkpoint = busy
    with pytest.raises(RuntimeError):
        keeper.catch_up(["event"])
    assert "event" in keeper.behind and store.checkpoint("acct", "event") is None
    assert not keeper.catch_up(["event"])  # the writer's repeat
    assert store.checkpoint("acct", "event").through == reports[-1].key
    assert_same(replay(store, "acct", "event"), replay(store, "acct", "event", kept=False))

    store.close()
    store = open_store(f"sqlite:///{tmp_path / 'full.db'}")
    store.put(reports)
    other = kept.Keeper(store, "acct", every=1, step=5)
    other.set_watermark("event", 0, reports[-1].exec_id, defer=True)
    store.put_checkpoint = lambda cp: (_ for _ in ()).throw(OSError("disk full"))
    assert not other.catch_up(["event"]) and "event" in other._off and not other.behind
    assert store.checkpoint("acct", "event") is None  # reads replay in full, exactly
    store.close()
