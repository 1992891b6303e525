"""The recorder's writer thread: every write to the store, in batches (see :mod:`fixgw.recorder.service`).

QuickFIX's thread only files each ExecutionReport as text (:class:`Raw`); the writer keys it from
its text (or decodes it when it is not plain), stores batches in one transaction each, moves the
watermarks behind them (:class:`Mark`) and, with a watermark, the kept books' checkpoint.

A store failure is loud. One that fails for a passing reason (the store's ``transient()``:
database busy, the PostgreSQL connection lost) is repeated, reconnecting, for up to ``retry_s``;
any other failure, or one that outlasts that, stops recording: ``failure`` holds the reason,
``on_failure`` is called (the commands stop the process with a non-zero exit status), and nothing
received after it is counted as stored or moves a watermark, so the next start backfills it from
KalshiDC.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import NamedTuple

from fixgw.fix import tags
from fixgw.models.fix import ExecType
from fixgw.recorder.phase import Phase
from fixgw.recorder.store import UTC, Gap, Key, StoredReport, StoredSettlement

log = logging.getLogger("fixgw.recorder")


def _tops(reports: list[StoredReport]) -> dict[tuple[str, int], tuple[Key, str]]:
    """The highest (key, ExecID) per (product, exchange index) among ``reports``, by their keys."""
    best: dict[tuple[str, int], tuple[Key, str]] = {}
    for r in reports:
        where, key = (r.product, r.exchange_index), r.key
        top = best.get(where)
        if top is None or key > top[0]:
            best[where] = (key, r.exec_id)
    return best


class Raw(NamedTuple):
    """An ExecutionReport as QuickFIX's thread hands it over, still text: the writer keys it."""

    rt: object  # the session's application.SessionRuntime
    product: str
    raw: str
    contiguous: bool
    received: float  # time.time() when it arrived
    invalid: bool  # QuickFIX's validation refused it: the lenient decoder reads it


CATCH_UP_S = 5.0  # under traffic that never lets the writer idle, a kept-books step at least this often
GATHER_S = 0.005  # while a batch fills, the writer looks at the queue this often instead of being woken per report
REJECTED = f"\x01{tags.EXEC_TYPE}={ExecType.REJECTED.value}\x01"
PENDING = f"\x01{tags.EXEC_ID}=-1;-1\x01"


@dataclass(frozen=True)
class Mark:
    """After the reports queued before it are durable, move the watermark to ``exec_id`` (its
    ``key``; None: to the highest ExecID received so far, when a backfill reached the latest)."""

    product: str
    index: int
    exec_id: str | None
    key: Key | None = None


class Writer:
    """The writer half of :class:`~fixgw.recorder.service.Recorder` (a mixin: the recorder owns
    the store, the queue ``_q``, the products, the lock and the ``_stop`` event these methods use)."""

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

    def _decoded(self, item: Raw) -> StoredReport | Gap | None:
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

    def _undecodable(self, item: Raw, session: str, error: str) -> StoredReport | Gap | None:
        """An ExecutionReport even the lenient decoder cannot read: stored as its text under its
        ExecID (views and replays name and skip it), so no later report moves the watermark past it
        unseen; without a readable ExecID, a visible gap from the watermark (writer thread)."""
        if REJECTED in item.raw or PENDING in item.raw:  # never stored, decoded or not
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
        marks: list[Mark] = []
        waiters: list[threading.Event] = []
        next_step = 0.0
        while True:
            deadline = time.monotonic() + self.flush_s
            # kept books: a step when idle, or now and then under traffic that never stops; never once
            # the recorder is stopping (its owner closes the store as soon as stop() has flushed)
            if self.kept.behind and not self._stop.is_set() and (
                    self._q.empty() or time.monotonic() >= next_step):
                self._catch_up()
                next_step = time.monotonic() + CATCH_UP_S
            while len(batch) < self.batch:
                try:
                    item = self._q.get_nowait()
                except queue.Empty:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    if batch:  # gather: what arrives meanwhile queues up without waking this thread
                        time.sleep(min(left, GATHER_S))  # for each report (a wake costs both threads)
                        continue
                    try:
                        item = self._q.get(timeout=left)
                    except queue.Empty:
                        break
                if item.__class__ is not Raw:  # a report is by far the most common item
                    if isinstance(item, threading.Event):
                        waiters.append(item)
                        break
                    if isinstance(item, Mark):
                        marks.append(item)
                        break
                    if isinstance(item, Gap):
                        self._gap(item)
                        continue
                    if isinstance(item, StoredSettlement):
                        settled.append(item)
                        continue
                report = self._decoded(item)
                if report is None:
                    continue
                if isinstance(report, Gap):  # a report without a readable ExecID
                    self._gap(report)
                    continue
                batch.append(report)
                if item.contiguous:
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
        # with the kept books' checkpoint, now and then; not while the product backfills
        self._durably("moving the watermark", self.kept.set_watermark, product, index, exec_id, key,
                      p.phase is not Phase.LIVE)
        p.moved_at = time.time()

    def _catch_up(self) -> None:
        """Nothing to write: fold a step of the kept books of every product that is behind and
        no longer backfilling (see :class:`~fixgw.recorder.kept.Keeper`)."""
        live = [name for name, p in self.products.items() if p.phase is Phase.LIVE]
        self._durably("keeping the books", self.kept.catch_up, live)

    def backlog(self) -> int:
        """Reports (and markers) received and not yet taken by the writer."""
        return self._q.qsize()

