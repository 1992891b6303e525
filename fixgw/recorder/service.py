"""The drop-copy recorder: listener sessions for the live stream, KalshiDC for the holes.

Every ExecutionReport that is neither pending nor a reject (150=8) is stored once
per (account, product, ExecID). QuickFIX's thread only files each one as text;
the writer thread decodes, stores and folds it into the kept books. Correctness rests on a durable **watermark** per exchange index: every
report at or below it is in the store. It only moves forward when that is
provably true — after a backfill page answered by EventResendComplete (U2) has
been written, or for live reports received while the listener has been
connected since the last complete backfill. Whatever happens (SIGKILL, a
dropped connection, a hole in the live stream), the next backfill starts at
the watermark, so nothing is skipped; duplicates are ignored by the store.

Order of operations on every (re)connect: the listener logs on first, then the
recorder asks KalshiDC for everything from the watermark to the latest, so any
report is either live (after the logon) or in the replay (before the request).
EventResendReject (U3) is recorded as a visible gap with its range and reason.
A MsgSeqNum gap on the listener, or its logon, while the last page is in
flight means that page proves nothing (live reports past a lost one are in
it): it is asked again. A MsgSeqNum gap on KalshiDC gives the page in flight
up (its answer may be what was lost); a late answer to it is ignored.

An ExecutionReport even the lenient decoder cannot read is stored as its text
under its ExecID (views and replays name and skip it); without a readable
ExecID it is recorded as a gap. Either way no later report passes it unseen.

A store failure is loud.  Every write happens on the writer thread; one that
fails for a passing reason (the store's ``transient()``: database busy, the
PostgreSQL connection lost) is repeated, reconnecting, for up to ``retry_s``;
any other failure, or one that outlasts that, stops recording: ``failure``
holds the reason, ``on_failure`` is called (the commands stop the process with
a non-zero exit status), and nothing received after it is counted as stored or
moves a watermark, so the next start backfills it from KalshiDC.

MarketSettlementReports (35=UMS, on an RT listener that asked for them with
``receive_settlement_reports``) are stored once per report id, with their header
(the SendingTime is the settlement's time); the views apply them.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Sequence, TextIO

from fixgw.config import GatewayConfig, Kind
from fixgw.errors import FixgwError
from fixgw.application import Inbound
from fixgw.gateway import Gateway
from fixgw.models.fix import (EventResendComplete, EventResendReject, ExecType, MarketSettlementReport, exec_id_key)
from fixgw.recorder.kept import Keeper
from fixgw.recorder.phase import Page, Phase, Product, Step
from fixgw.recorder.store import UTC, Gap, Key, Store, StoredReport, StoredSettlement
from fixgw.recovery import GAP_PREFIX
from fixgw.state import State

log = logging.getLogger("fixgw.recorder")
REASONS = {1: "too many requests", 2: "server error", 3: "BeginExecID outside the 3-hour window",
           4: "EndExecID too large"}


def _tops(reports: list[StoredReport]) -> dict[tuple[str, int], tuple[Key, str]]:
    """The highest (key, ExecID) per (product, exchange index) among ``reports``, by their keys."""
    best: dict[tuple[str, int], tuple[Key, str]] = {}
    for r in reports:
        where, key = (r.product, r.exchange_index), r.key
        top = best.get(where)
        if top is None or key > top[0]:
            best[where] = (key, r.exec_id)
    return best


class _Raw(NamedTuple):
    """An ExecutionReport as QuickFIX's thread hands it over, still text: the writer decodes it."""

    rt: object  # the session's application.SessionRuntime
    product: str
    raw: str
    contiguous: bool
    received: float  # time.time() when it arrived
    invalid: bool  # QuickFIX's validation refused it: the lenient decoder reads it


_REJECTED, _PENDING = "\x01150=8\x01", "\x0117=-1;-1\x01"


@dataclass(frozen=True)
class _Mark:
    """After the reports queued before it are durable, move the watermark to ``exec_id`` (its
    ``key``; None: to the highest ExecID received so far, when a backfill reached the latest)."""

    product: str
    index: int
    exec_id: str | None
    key: Key | None = None


class Recorder:
    def __init__(self, config: GatewayConfig, store: Store, *, account: str, batch: int = 500,
                 flush_s: float = 0.05, page_clocks: int = 20_000, retry_s: float = 60.0,
                 out: TextIO = sys.stderr, on_failure: Callable[[str], None] | None = None,
                 on_stored: Sequence[Callable[[list[StoredReport]], None]] = ()):
        self.config, self.store, self.account = config, store, account
        self.retry_s, self.on_failure = retry_s, on_failure
        self.failure: str | None = None  # why recording stopped, if the store failed
        # called by the writer thread with each batch once it is durable (it may hold reports the
        # store already had); a callback must return at once, it holds up the next batch
        self.on_stored = list(on_stored)
        self.batch, self.flush_s, self.page_clocks, self.out = batch, flush_s, page_clocks, out
        self.products: dict[str, Product] = {}
        for s in config.session:
            p = self.products.setdefault(s.product.value, Product(s.product.value, [], ""))
            if s.type is Kind.DC:
                p.dc = s.name
            elif s.listener:
                p.listeners.append(s.name)
        for p in self.products.values():
            if not p.dc or len(p.listeners) != 1:
                raise FixgwError(f"recorder: product {p.name} needs exactly one listener session "
                                 f"(listener = true, NR or RT) and one KalshiDC session")
            for index in (0,):
                w = store.watermark(account, p.name, index)
                if w is None:  # killed before the first watermark: re-fetch from the first report
                    first = next(iter(store.reports(account, p.name)), None)
                    w = first.exec_id if first is not None else None
                if w is not None:
                    p.watermark[index], p.marks[index] = w, exec_id_key(w)
        self.kept = Keeper(store, account)
        # Messages come straight from QuickFIX's thread (no dispatcher hop): ExecutionReports go to
        # the writer thread as text (QuickFIX's thread does not decode them); the others are decoded
        # there and handed to _on_inbound. Fills/positions come from the store: no translation.
        self.gateway = Gateway(config, translate=False, on_inbound=self._on_inbound, on_raw=self._on_raw)
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()  # the watcher has a page to ask for
        self._errors: dict[str, str] = {}
        # Reports this run whose write was confirmed (new ones only): never one that is not stored,
        # possibly fewer than were (a commit whose answer was lost, then repeated, adds nothing).
        self.stored = 0
        self._writer = threading.Thread(target=self._write_loop, name="recorder-writer", daemon=True)

    # -- lifecycle ------------------------------------------------------
    def start(self) -> "Recorder":
        self._writer.start()
        self.gateway.start()
        threading.Thread(target=self._watch, name="recorder-watch", daemon=True).start()
        return self

    def stop(self, timeout: float = 10.0) -> bool:
        """Log out and write what was received; False if that could not all be made durable."""
        self._stop.set()
        self._wake.set()
        self.gateway.stop()
        return self.flush(timeout)

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until everything received so far is durable (reports reach the writer's queue
        straight from QuickFIX's thread, so a marker behind them is enough). False if the
        writer has stopped on a failure or did not get there within ``timeout``."""
        if self.failure is not None or not self._writer.is_alive():
            return False
        done = threading.Event()
        self._q.put(done)
        while not done.wait(0.1):
            timeout -= 0.1
            if self.failure is not None or timeout <= 0:
                return False
        return self.failure is None

    # -- events (QuickFIX's thread) ---------------------------------------
    def _product_of(self, session: str) -> Product | None:
        for p in self.products.values():
            if session == p.dc or session in p.listeners:
                return p
        return None

    def _on_raw(self, rt, msg_type: str, raw: str, invalid: bool = False) -> bool:
        """Take an ExecutionReport undecoded (QuickFIX's thread): the writer decodes and files it."""
        if msg_type != "8":
            return False
        session = rt.config.name
        p = self._product_of(session)
        if p is None:
            return False
        live = session in p.listeners
        gen = rt.lifecycle.logons if live else -2
        with self._lock:
            contiguous = live and p.contiguous(gen)
            if not live and _REJECTED not in raw and _PENDING not in raw:
                p.received += 1
                if p.received % 10_000 == 0:
                    i = raw.find("\x0117=") + 4
                    self._say(f"backfill {p.name}: {p.received} reports so far, at {raw[i:raw.find(chr(1), i)]}")
        self._q.put(_Raw(rt, p.name, raw, contiguous, time.time(), invalid))
        return True

    def _decoded(self, item: _Raw) -> StoredReport | Gap | None:
        """The writer's half of :meth:`_on_raw`. A report QuickFIX accepted is keyed from its text in
        one pass (:meth:`StoredReport.scan`; the views and the kept books decode it when they read it);
        anything else is decoded here, leniently if need be, and what is odd about it is said."""
        if not item.invalid:
            report = StoredReport.scan(self.account, item.product, item.raw,
                                       dt.datetime.fromtimestamp(item.received, UTC), item.rt.units)
            if report is not None:
                item.rt.last_exec_id = report.exec_id
                return report
        try:
            inbound = self.gateway.app.decode(item.rt, item.raw, item.invalid)
            msg = inbound.message
            if msg is None:
                return self._undecodable(item, inbound.session, inbound.error)
            if msg.is_pending or msg.exec_type is ExecType.REJECTED:
                return None
            if msg.anomalies:  # kept and stored as received; named so nobody is surprised later
                self._say(f"{inbound.session}: report {msg.exec_id} stored with what the dictionary does not "
                          f"allow: {'; '.join(map(str, msg.anomalies))}")
            return StoredReport.from_model(self.account, item.product, msg, item.raw,
                                           dt.datetime.fromtimestamp(item.received, UTC), item.rt.units)
        except Exception as exc:  # noqa: BLE001 - a bad report is not a store failure
            # What the callback guard does with it on QuickFIX's thread: name it, go on.
            rt = item.rt
            rt.lifecycle.note_error(f"internal error in fromApp: {type(exc).__name__}: {exc}")
            rt.metrics.callback_errors += 1
            log.error("session=%s callback=fromApp error=%s: %s", rt.config.name, type(exc).__name__, exc)
            return None

    def _undecodable(self, item: _Raw, session: str, error: str) -> StoredReport | Gap | None:
        """An ExecutionReport even the lenient decoder cannot read: stored as its text under its
        ExecID (views and replays name and skip it), so no later report moves the watermark past it
        unseen; without a readable ExecID, a visible gap from the watermark (writer thread)."""
        if _REJECTED in item.raw or _PENDING in item.raw:  # never stored, decoded or not
            self._say(f"{session}: {error}; a rejected or pending report, not recorded")
            return None
        try:
            report = StoredReport.from_text(self.account, item.product, item.raw,
                                            dt.datetime.fromtimestamp(item.received, UTC), item.rt.units)
        except ValueError as e:  # DecodeError too: no ExecID to key it on
            with self._lock:
                begin = self.products[item.product].watermark.get(0, "?")
            gap = Gap.now(self.account, item.product, begin, None,
                          f"{session}: an ExecutionReport without a readable ExecID ({e}); {error}")
            return gap  # the writer records it (durably, or the recording stops) and says it
        self._say(f"{session}: {error}; stored as received under ExecID {report.exec_id} "
                  "(views and replays name and skip it)")
        return report

    def _on_inbound(self, rt, event: Inbound) -> None:
        """A decoded message other than an ExecutionReport (QuickFIX's thread)."""
        p = self._product_of(event.session)
        if p is None:
            return
        msg = event.message
        if msg is None:
            given_up = None
            if event.error and event.error.startswith(GAP_PREFIX):
                with self._lock:
                    if event.session in p.listeners:  # reports were lost: nothing live counts until a backfill
                        p.gaps += 1
                        p.fire(Step.LISTENER_LOST)
                    elif p.page is not None:  # the page in flight lost a message, perhaps its answer:
                        given_up = p.page  # it proves nothing
                        p.fire(Step.AGAIN)
            self._say(f"{event.session}: {event.error}")
            if given_up is not None:
                self._say(f"backfill {p.name}: {given_up.begin}..{given_up.end or 'latest'} lost a message in a "
                          "MsgSeqNum gap; asking again from the watermark")
            return
        # ExecutionReports never come this way: _on_raw takes them as text for the writer
        if isinstance(msg, MarketSettlementReport):  # on an RT listener with 20127=Y
            self._q.put(StoredSettlement.from_model(self.account, p.name, msg, event.raw))
        elif isinstance(msg, EventResendComplete) and event.session == p.dc:
            self._page_done(p, msg.count, msg.ref_seq_num)
        elif isinstance(msg, EventResendReject) and event.session == p.dc:
            self._rejected(p, msg)

    def _epoch(self, p: Product) -> int:
        """The listener epoch: changes with every MsgSeqNum gap and every logon of the listener, so a
        page asked for in another epoch cannot prove that the live stream since then is whole."""
        return p.gaps + self.gateway.runtime(p.listeners[0]).lifecycle.logons

    def _stale(self, p: Product, what: str, ref_seq_num: int) -> bool:
        """An answer for no page in flight (KalshiDC's MsgSeqNum gap gave that page up), or for
        another U1 than the one in flight (when its MsgSeqNum is known)."""
        if p.page is not None and p.page_seq in (None, ref_seq_num):
            return False
        self._say(f"backfill {p.name}: {what} (RefSeqNum {ref_seq_num}) answers no request in flight "
                  f"(given up after a MsgSeqNum gap on {p.dc}); ignored")
        return True

    def _page_done(self, p: Product, count: int, ref_seq_num: int) -> None:
        with self._lock:
            if self._stale(p, "EventResendComplete", ref_seq_num):
                return
            begin, end, epoch, gen = p.page
            # the last page hands over to the live stream: a listener gap or logon since it was asked
            # for means live reports past a lost one are in page_top, so it proves nothing
            moved = end is None and epoch != self._epoch(p)
            if moved:
                p.fire(Step.AGAIN)
            elif end is None:
                p.fire(Step.CAUGHT_UP)
                p.live_gen = gen  # the listener connection the last page was asked on
            else:
                p.fire(Step.PAGE)
        if moved:  # the watermark stays; the next backfill asks again from it
            self._say(f"backfill {p.name}: {begin}..latest ended after the listener lost reports or reconnected; "
                      "asking again from the watermark")
            return
        self._say(f"backfill {p.name}: {begin}..{end or 'latest'} complete, {count} reports")
        if end is None:
            self._q.put(_Mark(p.name, exec_id_key(begin)[0], None))
            return
        key = exec_id_key(end)
        self._q.put(_Mark(p.name, key[0], end, key))
        self._next_page(p, end)

    def _rejected(self, p: Product, msg: EventResendReject) -> None:
        with self._lock:
            if self._stale(p, f"EventResendReject {msg.reason}", msg.ref_seq_num):
                return
            begin, end, epoch, gen = p.page
            if msg.reason == 4 and end is not None:
                p.fire(Step.PAGE)  # the page ran past the latest: the next one has no end
            elif msg.reason in (1, 2) or epoch != self._epoch(p):
                p.fire(Step.AGAIN)
            else:  # what follows is recorded; the gap stays visible
                p.fire(Step.CAUGHT_UP)
                p.live_gen = gen
        reason = f"{REASONS.get(msg.reason, 'reason ' + str(msg.reason))}" + (f": {msg.text}" if msg.text else "")
        if msg.reason == 4 and end is not None:  # the page ran past the latest: finish without an end
            self._next_page(p, begin, final=True)
            return
        if msg.reason in (1, 2):  # too many requests / server error: not a gap, ask again shortly
            self._say(f"backfill {p.name}: drop copy answered '{reason}'; retrying in 1 s")
            with self._lock:
                p.retry_at = time.monotonic() + 1.0
            return
        # said once stored; when the listener lost reports or reconnected since, the backfill runs again
        self._q.put(Gap.now(self.account, p.name, begin, end, f"U3 {msg.reason}: {reason}"))

    # -- backfill -------------------------------------------------------
    def _next_page(self, p: Product, begin: str, final: bool = False) -> None:
        """Have the watcher thread ask for the next page (the phase is NEXT): nothing is sent from a
        QuickFIX callback."""
        with self._lock:
            if p.phase is Phase.NEXT:
                p.next_page = (begin, final)
        self._wake.set()

    def _send_page(self, p: Product, begin: str, final: bool = False, step: Step = Step.START) -> None:
        """Ask for [begin, begin's clock + page]; the last page (past the latest) has no end. ``step``:
        START (the first page, the phase is WANTED) or SENT (the next one, NEXT); in any other phase
        the backfill has moved on meanwhile and nothing is sent."""
        index, clock, _ = exec_id_key(begin)
        end = None if final else f"{clock + self.page_clocks};0" + (f";{index}" if index else "")
        rt = self.gateway.runtime(p.dc)
        page = Page(begin, end, self._epoch(p), self.gateway.runtime(p.listeners[0]).lifecycle.logons)
        with self._lock:
            if p.phase is not (Phase.WANTED if step is Step.START else Phase.NEXT):
                return
            p.fire(step)
            p.page = page
        try:
            before = rt.fix_session.getExpectedSenderNum() if rt.fix_session is not None else None
            self.gateway.event_resend(p.dc, begin, end)
            # the U1's MsgSeqNum, unless QuickFIX's thread sent something (a heartbeat) in between
            if before is not None and rt.fix_session.getExpectedSenderNum() == before + 1:
                with self._lock:
                    if p.page is page:
                        p.page_seq = before
        except FixgwError as e:
            with self._lock:
                p.fire(Step.AGAIN)
            self._say(f"backfill {p.name}: {e}; will retry")

    def _watch(self) -> None:
        """Start a backfill whenever a listener (re)connects, once KalshiDC is up. Without it no
        backfill runs and no watermark moves, so an unexpected error stops the recording loudly."""
        try:
            self._watch_forever()
        except Exception as e:  # noqa: BLE001 - as a store failure: named, and the process exits non-zero
            cause = f"{type(e).__name__}: {' '.join(str(e).split())}"
            log.exception("recorder account=%s event=watcher-failed", self.account)
            self._fail(f"recorder backfill watcher: {cause}", "WATCHER FAILED")

    def _watch_forever(self) -> None:
        seen_logons: dict[str, int] = {}
        while not self._stop.is_set():
            self._wake.wait(0.2)
            self._wake.clear()
            if self._stop.is_set():
                return
            for p in self.products.values():
                with self._lock:
                    page = p.next_page if p.phase is Phase.NEXT else None
                if page is not None:
                    self._send_page(p, *page, step=Step.SENT)
                for name in p.listeners + [p.dc]:
                    lc = self.gateway.runtime(name).lifecycle
                    if lc.logons != seen_logons.get(name, 0) or lc.state is not State.LOGGED_ON:
                        if name in p.listeners and lc.logons != seen_logons.get(name, 0):
                            with self._lock:
                                p.fire(Step.LISTENER_LOST)
                        if name == p.dc:  # a request in flight died with its connection: ask again
                            with self._lock:
                                if p.phase in (Phase.ASKING, Phase.NEXT) and (
                                        lc.state is not State.LOGGED_ON or lc.logons != seen_logons.get(name, 0)):
                                    p.fire(Step.AGAIN)
                        seen_logons[name] = lc.logons
                    if lc.last_error and self._errors.get(name) != lc.last_error:
                        self._errors[name] = lc.last_error
                        self._say(f"{name}: {lc.last_error}")
                up = all(self.gateway.runtime(n).lifecycle.state is State.LOGGED_ON for n in p.listeners + [p.dc])
                gen = self.gateway.runtime(p.listeners[0]).lifecycle.logons
                with self._lock:
                    go = up and p.phase is Phase.WANTED and time.monotonic() >= p.retry_at
                    if go:
                        p.received = 0
                        start = p.watermark.get(0)
                        if start is None:
                            p.fire(Step.EMPTY)
                            p.live_gen = gen
                if go:
                    if start is None:
                        self._say(f"{p.name}: empty store; recording from the live stream "
                                  "(give a starting ExecID to backfill earlier reports)")
                    else:
                        self._say(f"backfill {p.name}: from {start}")
                        self._send_page(p, start)

    # -- the writer ------------------------------------------------------
    def _write_loop(self) -> None:
        try:
            self._write_forever()
        except Exception as e:  # noqa: BLE001 - any failure stops recording, loudly
            cause = " ".join(str(e).split()) or type(e).__name__
            log.error("recorder account=%s event=store-failed store=%r cause=%r stored=%d",
                      self.account, self.store.where, cause, self.stored)
            self._fail(f"{self.store.where}: {cause}", "STORE FAILED")

    def _fail(self, failure: str, headline: str) -> None:
        """Stop recording: ``failure`` says why; ``on_failure`` (the commands) ends the process non-zero."""
        self.failure = failure
        self._say(f"{headline}: {failure}; recording stopped after {self.stored} reports stored this run "
                  "(what was not stored is backfilled from KalshiDC on the next start)")
        if self.on_failure is not None:
            self.on_failure(failure)

    def _durably(self, what: str, fn, *args):
        """``fn(*args)``, repeated while it fails for a passing reason, for up to ``retry_s``."""
        deadline, delay = time.monotonic() + self.retry_s, 0.1
        while True:
            try:
                return fn(*args)
            except Exception as e:
                if not self.store.transient(e) or time.monotonic() + delay > deadline:
                    raise
                self._say(f"{self.store.where}: {what} failed ({' '.join(str(e).split())}); "
                          f"retrying in {delay:g} s")
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _write_forever(self) -> None:
        batch: list[StoredReport] = []
        settled: list[StoredSettlement] = []
        live: list[StoredReport] = []  # the batch's reports contiguous with the watermark
        marks: list[_Mark] = []
        waiters: list[threading.Event] = []
        while True:
            deadline = time.monotonic() + self.flush_s
            while len(batch) < self.batch:
                try:
                    item = self._q.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if isinstance(item, threading.Event):
                    waiters.append(item)
                    break
                if isinstance(item, _Mark):
                    marks.append(item)
                    break
                if isinstance(item, Gap):
                    self._gap(item)
                    continue
                if isinstance(item, StoredSettlement):
                    settled.append(item)
                    continue
                if item.__class__ is _Raw:
                    report, contiguous = self._decoded(item), item.contiguous
                    if report is None:
                        continue
                    if isinstance(report, Gap):  # a report without a readable ExecID
                        self._gap(report)
                        continue
                else:
                    report, contiguous = item
                batch.append(report)
                if contiguous:
                    live.append(report)
            live_top = _tops(live)
            if batch:
                self._note_tops(_tops(batch))
                self.stored += self._durably(f"writing {len(batch)} reports", self.store.put, batch)
                for callback in self.on_stored:
                    callback(batch)
                batch, live = [], []
            if settled:  # after the batch: the fills a settlement closes are stored first
                self._durably(f"writing {len(settled)} settlement reports", self.store.put_settlements, settled)
                settled = []
            for (product, index), (key, exec_id) in live_top.items():
                self._advance(product, index, key, exec_id)
            for m in marks:
                with self._lock:
                    top = (m.key, m.exec_id) if m.exec_id else self.products[m.product].page_top.get(m.index)
                if top is not None:
                    self._advance(m.product, m.index, *top)
            marks = []
            for w in waiters:
                w.set()
            waiters = []

    def _gap(self, gap: Gap) -> None:
        self._durably("recording a gap", self.store.add_gap, gap)
        self._say(f"GAP {gap.product}: {gap.begin_exec_id}..{gap.end_exec_id or 'latest'} "
                  f"({gap.reason}); recorded as a gap")

    def _note_tops(self, tops: dict[tuple[str, int], tuple[Key, str]]) -> None:
        """Remember the highest ExecID received per (product, exchange index): one lock per batch."""
        with self._lock:
            for (product, index), top in tops.items():
                page_top = self.products[product].page_top
                if index not in page_top or top[0] > page_top[index][0]:
                    page_top[index] = top

    def _advance(self, product: str, index: int, key: Key, exec_id: str) -> None:
        p = self.products[product]
        with self._lock:
            if index in p.marks and key <= p.marks[index]:
                return
            p.watermark[index], p.marks[index] = exec_id, key
        # with the kept books' checkpoint, now and then
        self._durably("moving the watermark", self.kept.set_watermark, product, index, exec_id, key)
        p.moved_at = time.time()

    def backlog(self) -> int:
        """Reports (and markers) received and not yet taken by the writer."""
        return self._q.qsize()

    def _say(self, text: str) -> None:
        log.warning("recorder account=%s %s", self.account, text)
        try:
            print(f"fixgw record: {text}", file=self.out, flush=True)
        except Exception:  # noqa: BLE001 - a closed terminal must not stop recording
            pass
