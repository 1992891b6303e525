"""The recorder's share of QuickFIX's callback thread: ExecutionReports leave it as text.

QuickFIX's thread reads and parses every inbound message itself; the recorder
must add as little to that thread as it can, so it files each ExecutionReport
undecoded and its writer thread keys it from its text (decoding only what is
not plain, to say what is wrong with it). What is stored, skipped and
reported stays what the decoded path gave: a trade is stored, a rejected
report is not, an undecodable one is named with its session and not stored.
"""

from __future__ import annotations

import re
import threading

import quickfix as fix

from fixgw.fix import codec as fields
from fixgw.models.fix import ExecType, Side
from fixgw.recorder.phase import Phase
from test_commands import raw_of, trade
from test_losses import _recorder


def test_execution_reports_are_decoded_on_the_writer_thread_not_quickfix_s(tmp_path, sim, monkeypatch):
    rec, store, out, listener = _recorder(tmp_path, sim)
    decoded_on: list[str] = []
    real = fields.decode_raw_with_unknown

    def spy(raw, units, *msg_type):
        decoded_on.append(threading.current_thread().name)
        return real(raw, units, *msg_type)

    monkeypatch.setattr(fields, "decode_raw_with_unknown", spy)
    rec._writer.start()
    p = rec.products["event"]
    p.phase, p.live_gen = Phase.LIVE, 0
    units = rec.gateway.runtime("listener").units
    kept = trade(1, Side.BUY, "0.40", 2, "KXA-26-T1")
    refused = trade(2, Side.BUY, "0.40", 2, "KXA-26-T1").model_copy(update={"exec_type": ExecType.REJECTED})
    # decodes, but its ExecID is no database key: on QuickFIX's thread the callback guard named it
    # and recording went on; on the writer it must not be taken for a store failure either
    no_key = raw_of(trade(4, Side.BUY, "0.40", 2, "KXA-26-T1").model_copy(update={"exec_id": "x;1"}), units)
    # a novel enum value would be stored (read leniently, issue 10); a report without OrderID cannot be
    broken = re.sub("\x0137=[^\x01]*", "", raw_of(trade(3, Side.BUY, "0.40", 2, "KXA-26-T1"), units))
    sid = fix.SessionID("FIXT.1.1", listener.api_key_id, "KalshiNR")
    for raw in (raw_of(refused, units), broken, no_key, raw_of(kept, units)):
        rec.gateway.app.fromApp(fix.Message(raw, False), sid)  # as QuickFIX's thread calls it
    assert rec.flush(10)
    # the report without OrderID (4;3) is stored as its text, so the watermark cannot pass it unseen
    assert [r.exec_id for r in store.reports("acct", "event")] == [kept.exec_id, "4;3"]
    assert "listener: undecodable message kept as raw" in out.getvalue() and "order_id" in out.getvalue()
    assert "stored as received under ExecID 4;3" in out.getvalue()
    # none on the calling (QuickFIX) thread; the plain trade is keyed from its text, not decoded
    # (the kept books decode it when they fold it), the three odd ones are decoded to say what is odd
    assert decoded_on == ["recorder-writer"] * 3
    assert rec.failure is None and rec._writer.is_alive()
    lifecycle = rec.gateway.runtime("listener").lifecycle
    assert "x;1" in lifecycle.last_error and rec.gateway.runtime("listener").metrics.callback_errors == 1
    assert store.watermark("acct", "event", 0) == "4;3"  # live and contiguous: the watermark moved
    assert rec.gateway.runtime("listener").metrics.decode_errors == 1
    store.close()


def test_the_writer_parses_each_report_s_exec_id_once(tmp_path, sim, monkeypatch):
    from fixgw.recorder import kept, service, store as stores
    rec, store, _, _ = _recorder(tmp_path, sim)
    parsed: list[str] = []
    for module, name in ((stores, "exec_key"), (kept, "exec_key"), (service, "exec_id_key")):
        def spy(exec_id, real=getattr(module, name)):
            if threading.current_thread().name == "recorder-writer":
                parsed.append(exec_id)
            return real(exec_id)
        monkeypatch.setattr(module, name, spy)
    p = rec.products["event"]
    p.phase, p.live_gen = Phase.LIVE, 0
    rt = rec.gateway.runtime("listener")
    ers = [trade(i, Side.BUY, "0.40", 1, "KXA-26-T1") for i in range(30)]
    for er in ers:  # queued before the writer starts: one batch, one watermark move, one checkpoint
        rec._on_raw(rt, "8", raw_of(er, rt.units))
    rec.kept.every = 1
    rec._writer.start()
    assert rec.flush(10)
    assert store.watermark("acct", "event", 0) == ers[-1].exec_id
    assert store.checkpoint("acct", "event").reports == 30
    # each report's ExecID once (its key), and the top one again only by the store checking the
    # watermark it is handed (its own validation of its input)
    assert sorted(parsed) == sorted([er.exec_id for er in ers] + [ers[-1].exec_id])
    store.close()
