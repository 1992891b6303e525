"""Reports the recorder must not lose: a listener gap during the last backfill page, a report even
the lenient decoder cannot read, an answer KalshiDC lost, a watcher that fails, a busy store at a
checkpoint. Real parts: the simulator's config, the recorder's own threads, SQLite files."""
import io
import re
import threading

import quickfix as fix

from fixgw.dispatch import Inbound
from fixgw.models.fix import EventResendComplete, Side, exec_id_key
from fixgw.pricing import Units
from fixgw.recorder.phase import Page, Phase
from fixgw.recorder.service import Recorder
from fixgw.recorder.store import StoredReport, open_store
from fixgw.adapter.recovery import GAP_PREFIX
from fixgw.testing.launch import gateway_config, make_account
from harness import wait_for
from test_commands import raw_of, trade


def _recorder(tmp_path, sim, **kw):
    listener = make_account(tmp_path / "keys", sim.keys, "event", account="acct")
    dc = make_account(tmp_path / "keys", sim.keys, "event", account="acct")
    cfg = gateway_config(tmp_path / "rec", sim, [
        dict(name="listener", product="event", type="NR", listener=True, account=listener),
        dict(name="dc", product="event", type="DC", account=dc)])
    store = open_store(f"sqlite:///{tmp_path / 'd.db'}")
    out = io.StringIO()
    return Recorder(cfg, store, account="acct", out=out, **kw), store, out, listener


def _seed(store):
    t0 = trade(0, Side.BUY, "0.40", 1, "KXA-26-T1")
    store.put([StoredReport.from_model("acct", "event", t0, raw_of(t0, Units.DOLLARS), units=Units.DOLLARS)])
    store.set_watermark("acct", "event", 0, t0.exec_id)
    return t0


def test_listener_gap_during_the_last_page_keeps_the_watermark_below_the_lost_report(tmp_path, sim):
    rec, store, out, _ = _recorder(tmp_path, sim)
    t0 = _seed(store)
    rec = Recorder(rec.config, store, account="acct", out=out)  # picks up the watermark
    rec._writer.start()
    p = rec.products["event"]
    lrt, drt = rec.gateway.runtime("listener"), rec.gateway.runtime("dc")
    # the watcher sent the last page (no end) for the listener's current connection
    p.phase, p.page = Phase.ASKING, Page(t0.exec_id, None, rec._epoch(p), lrt.lifecycle.logons)
    rec._on_raw(drt, "8", raw_of(trade(1, Side.BUY, "0.40", 1, "KXA-26-T1"), drt.units))  # the replay: 2;1
    # 3;2 happens; the listener loses it in a MsgSeqNum gap, then receives 4;3 live
    rec._on_inbound(None, Inbound("listener", None, error=GAP_PREFIX + "KalshiNR: expected 5, received 6; 1 message(s) lost"))
    rec._on_raw(lrt, "8", raw_of(trade(3, Side.BUY, "0.40", 1, "KXA-26-T1"), lrt.units))
    rec._on_inbound(None, Inbound("dc", EventResendComplete(ref_seq_num=2, count=1)))  # the last page completes
    assert rec.flush(10)
    lost = trade(2, Side.BUY, "0.40", 1, "KXA-26-T1").exec_id
    assert lost not in [r.exec_id for r in store.reports("acct", "event")]
    # the watermark must stay below the lost report: the next backfill starts there and fetches it
    assert exec_id_key(store.watermark("acct", "event", 0)) < exec_id_key(lost)
    assert p.phase is Phase.WANTED and p.page is None
    assert "asking again from the watermark" in out.getvalue()


def _live(rec, listener, raws):
    """Reports as QuickFIX hands them to the listener session, live and contiguous with the watermark."""
    rec._writer.start()
    p = rec.products["event"]
    p.phase, p.live_gen = Phase.LIVE, 0
    sid = fix.SessionID("FIXT.1.1", listener.api_key_id, "KalshiNR")
    for raw in raws:
        rec.gateway.app.fromApp(fix.Message(raw, False), sid)
    assert rec.flush(10)


def test_a_report_the_lenient_decoder_cannot_read_is_stored_as_text_and_skipped_by_views(tmp_path, sim):
    from fixgw.recorder.views import Query
    rec, store, out, listener = _recorder(tmp_path, sim)
    units = rec.gateway.runtime("listener").units
    broken = re.sub("\x0137=[^\x01]*", "", raw_of(trade(1, Side.BUY, "0.40", 2, "KXA-26-T1"), units))  # no OrderID
    _live(rec, listener, [broken, raw_of(trade(2, Side.BUY, "0.40", 2, "KXA-26-T1"), units)])
    stored = {r.exec_id: r for r in store.reports("acct", "event")}
    assert list(stored) == ["2;1", "3;2"] and "\x0137=" not in stored["2;1"].raw
    assert (stored["2;1"].symbol, stored["2;1"].subaccount) == ("KXA-26-T1", 0)
    assert stored["2;1"].transact_time == trade(1, Side.BUY, "0.40", 2, "KXA-26-T1").transact_time
    assert store.watermark("acct", "event", 0) == "3;2"
    assert "stored as received under ExecID 2;1" in out.getvalue()
    skipped = []
    q = Query(store, "acct", "event", on_skip=lambda e, r: skipped.append(e))
    assert [er.exec_id for er in q.reports()] == ["3;2"] and skipped == ["2;1"]


def test_a_report_without_a_readable_exec_id_is_a_visible_gap(tmp_path, sim):
    rec, store, out, listener = _recorder(tmp_path, sim)
    units = rec.gateway.runtime("listener").units
    broken = re.sub("\x01(17|37)=[^\x01]*", "", raw_of(trade(1, Side.BUY, "0.40", 2, "KXA-26-T1"), units))
    _live(rec, listener, [broken, raw_of(trade(2, Side.BUY, "0.40", 2, "KXA-26-T1"), units)])
    assert [r.exec_id for r in store.reports("acct", "event")] == ["3;2"]
    gaps = store.gaps()
    assert len(gaps) == 1 and "without a readable ExecID" in gaps[0].reason and "listener" in gaps[0].reason
    assert "GAP event" in out.getvalue()


def test_a_dc_gap_gives_the_page_up_and_a_late_answer_is_ignored(tmp_path, sim):
    rec, store, out, _ = _recorder(tmp_path, sim)
    t0 = _seed(store)
    rec = Recorder(rec.config, store, account="acct", out=out)
    rec._writer.start()
    p = rec.products["event"]
    drt = rec.gateway.runtime("dc")
    p.phase, p.page = Phase.ASKING, Page(t0.exec_id, "20001;0", rec._epoch(p), 0)  # a page in flight
    rec._on_raw(drt, "8", raw_of(trade(1, Side.BUY, "0.40", 1, "KXA-26-T1"), drt.units))
    # KalshiDC's next message was lost: perhaps the page's EventResendComplete itself
    rec._on_inbound(None, Inbound("dc", None, error=GAP_PREFIX + "KalshiDC: expected 7, received 9; 2 message(s) lost"))
    assert p.page is None and p.phase is Phase.WANTED  # the watcher asks again from the watermark, no reconnect needed
    rec._on_inbound(None, Inbound("dc", EventResendComplete(ref_seq_num=5, count=1)))  # a late answer to the old page
    assert rec.flush(10)
    assert store.watermark("acct", "event", 0) == t0.exec_id and p.page is None
    assert "EventResendComplete (RefSeqNum 5) answers no request in flight" in out.getvalue()
    # the watcher asked again (U1 MsgSeqNum 9) before a late answer to the first page (RefSeqNum 5) came
    p.phase, p.page, p.page_seq = Phase.ASKING, Page(t0.exec_id, "20001;0", rec._epoch(p), 0), 9
    rec._on_inbound(None, Inbound("dc", EventResendComplete(ref_seq_num=5, count=1)))
    assert rec.flush(10)
    assert store.watermark("acct", "event", 0) == t0.exec_id and p.page is not None
    rec._on_inbound(None, Inbound("dc", EventResendComplete(ref_seq_num=9, count=1)))  # its own answer
    assert rec.flush(10)
    assert store.watermark("acct", "event", 0) == "20001;0"


def test_an_unexpected_error_in_the_watcher_stops_the_recording_loudly(tmp_path, sim):
    failures = []
    rec, store, out, _ = _recorder(tmp_path, sim, on_failure=failures.append)
    rec._writer.start()

    def broken(name):
        raise RuntimeError(f"no runtime {name}")
    rec.gateway.runtime = broken
    rec._watch()  # returns: the error is caught, named, and passed on
    assert rec.failure == "recorder backfill watcher: RuntimeError: no runtime listener"
    assert failures == [rec.failure] and "WATCHER FAILED" in out.getvalue()
    assert not rec.flush(1)  # nothing after it counts as recorded


def test_a_busy_store_at_a_checkpoint_is_repeated_and_keeps_the_kept_books_on(tmp_path, caplog):
    import sqlite3

    from fixgw.recorder.kept import Keeper
    store = open_store(f"sqlite:///{tmp_path / 'd.db'}")
    ers = [trade(i, Side.BUY, "0.40", 1, "KXA-26-T1") for i in range(3)]
    store.put([StoredReport.from_model("acct", "event", er, raw_of(er, Units.DOLLARS), units=Units.DOLLARS) for er in ers])
    busy = sqlite3.OperationalError("database is locked")
    busy.sqlite_errorcode = sqlite3.SQLITE_BUSY
    assert store.transient(busy)
    count, calls = store.count, []

    def count_busy_once(*a, **kw):
        calls.append(a)
        if len(calls) == 1:
            raise busy
        return count(*a, **kw)
    store.count = count_busy_once
    keeper = Keeper(store, "acct", every=1)
    keeper.set_watermark("event", 0, ers[0].exec_id)  # the first checkpoint: no count asked
    try:
        keeper.set_watermark("event", 0, ers[2].exec_id)
    except sqlite3.OperationalError as e:  # for the writer's _durably to repeat
        assert e is busy
    else:
        raise AssertionError("a busy store was swallowed by the kept books")
    assert "event" not in keeper._off and "turned off" not in caplog.text
    keeper.set_watermark("event", 0, ers[2].exec_id)  # the writer's repeat
    cp = store.checkpoint("acct", "event")
    assert store.watermark("acct", "event", 0) == ers[2].exec_id and cp.exec_id == ers[2].exec_id and cp.reports == 3


def test_from_text_reads_the_keys_with_the_lenient_rules():
    import datetime as dt

    import pytest

    from fixgw.errors import DecodeError
    raw = raw_of(trade(4, Side.BUY, "0.40", 2, "KXA-26-T1"), Units.DOLLARS)
    odd = re.sub("\x0160=[^\x01]*", "\x0160=yesterday\x0179=x7", raw).replace("\x0117=5;4", "\x0117=5;4\x0117=9;9")
    r = StoredReport.from_text("acct", "event", odd, dt.datetime(2026, 11, 21), Units.DOLLARS)
    assert (r.exec_id, r.key, r.symbol, r.subaccount, r.transact_time, r.raw) == ("5;4", (0, 5, 4), "KXA-26-T1", 0,
                                                                                  None, odd)
    with pytest.raises(DecodeError, match="ExecID"):
        StoredReport.from_text("acct", "event", re.sub("\x0117=[^\x01]*", "", raw), dt.datetime(2026, 11, 21))
    with pytest.raises(DecodeError, match="35=8"):
        StoredReport.from_text("acct", "event", raw.replace("\x0135=8\x01", "\x0135=9\x01"), dt.datetime(2026, 11, 21))


def test_the_next_page_is_asked_for_from_the_recorder_s_thread_not_quickfix_s(tmp_path, sim):
    rec, store, out, _ = _recorder(tmp_path, sim)
    t0 = _seed(store)
    rec = Recorder(rec.config, store, account="acct", out=out)
    sent = []
    rec.gateway.event_resend = lambda session, begin, end: sent.append(
        (threading.current_thread().name, session, begin, end))
    rec._writer.start()
    p = rec.products["event"]
    p.phase, p.page = Phase.ASKING, Page(t0.exec_id, "20001;0", rec._epoch(p), 0)  # a middle page in flight
    rec._on_inbound(None, Inbound("dc", EventResendComplete(ref_seq_num=5, count=1)))  # as QuickFIX's thread
    assert sent == []  # no network send from inside the callback
    threading.Thread(target=rec._watch, name="recorder-watch", daemon=True).start()
    try:
        wait_for(lambda: sent, 10, "the next page")
        assert sent == [("recorder-watch", "dc", "20001;0", "40001;0")]
    finally:
        rec._stop.set()


def test_a_stopped_recorder_does_no_idle_work_so_its_store_can_be_closed(tmp_path, sim):
    """After stop() the writer no longer folds kept books when idle: fixgw record/serve/run close the
    store right after, and a catch-up step on a closed store logged "kept books turned off ... run
    fixgw rebuild" at every clean shutdown after a backfill."""
    rec, store, out, _ = _recorder(tmp_path, sim)
    rec._writer.start()
    assert rec.stop()
    steps = []
    rec.kept.catch_up = lambda products: steps.append(products) or False
    rec.kept.behind["event"] = ("1;1", (0, 1, 1))  # a product still behind when the recorder stopped
    assert rec.flush() and rec.flush()  # two turns of the writer's loop, each past its idle work
    assert steps == []
    store.close()
