"""The drop-copy recorder: listener sessions for the live stream, KalshiDC for the holes.

Every ExecutionReport that is neither pending nor a reject (150=8) is stored once
per (account, product, ExecID). QuickFIX's thread only files each one as text;
the writer thread (:mod:`fixgw.recorder.writer`) keys and stores it and folds
it into the kept books. Correctness rests on a durable **watermark** per exchange index: every
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
Where a product's backfill is, is a :class:`~fixgw.recorder.phase.Phase` moved by
its transition table. A MsgSeqNum gap on the listener, or its logon, while the
last page is in flight means that page proves nothing (live reports past a
lost one are in it): it is asked again. A MsgSeqNum gap on KalshiDC gives the
page in flight up (its answer may be what was lost); a late answer to it is
ignored. Pages are asked for by the watcher thread, never from a QuickFIX
callback.

An ExecutionReport even the lenient decoder cannot read is stored as its text
under its ExecID (views and replays name and skip it); without a readable
ExecID it is recorded as a gap. Either way no later report passes it unseen.

A store failure is loud: recording stops and the process exits non-zero
(see :mod:`fixgw.recorder.writer`).

MarketSettlementReports (35=UMS, on an RT listener that asked for them with
``receive_settlement_reports``) are stored once per report id, with their header
(the SendingTime is the settlement's time); the views apply them.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from typing import Callable, Sequence, TextIO

from fixgw.config import GatewayConfig, Kind
from fixgw.errors import FixgwError
from fixgw.fix import tags
from fixgw.dispatch import Inbound
from fixgw.adapter.gateway import Gateway
from fixgw.models.fix import EventResendComplete, EventResendReject, MarketSettlementReport, exec_id_key
from fixgw.recorder.kept import Keeper
from fixgw.recorder.phase import Page, Phase, Product, Step
from fixgw.recorder.store import Gap, Store, StoredReport, StoredSettlement
from fixgw.recorder.writer import PENDING, REJECTED, Mark, Raw, Writer
from fixgw.adapter.recovery import GAP_PREFIX
from fixgw.state import State

log = logging.getLogger("fixgw.recorder")
_EXEC_ID_AT = f"\x01{tags.EXEC_ID}="
REASONS = {1: "too many requests", 2: "server error", 3: "BeginExecID outside the 3-hour window",
           4: "EndExecID too large"}


class Recorder(Writer):
    @classmethod
    def from_config(cls, config: GatewayConfig, store: Store, **extra) -> "Recorder":
        """A recorder with the settings of ``config``'s ``[recorder]`` section (account, batch,
        flush_ms, page_clocks, retry_s); ``extra`` passes the rest (``out``, ``on_failure``, ...)."""
        rc = config.recorder
        return cls(config, store, account=rc.account, batch=rc.batch, flush_s=rc.flush_ms / 1000,
                   page_clocks=rc.page_clocks, retry_s=rc.retry_s, **extra)

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
            if not live and REJECTED not in raw and PENDING not in raw:
                p.received += 1
                if p.received % 10_000 == 0:
                    i = raw.find(_EXEC_ID_AT) + len(_EXEC_ID_AT)
                    self._say(f"backfill {p.name}: {p.received} reports so far, at {raw[i:raw.find(chr(1), i)]}")
        self._q.put(Raw(rt, p.name, raw, contiguous, time.time(), invalid))
        return True

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
            self._q.put(Mark(p.name, exec_id_key(begin)[0], None))
            return
        key = exec_id_key(end)
        self._q.put(Mark(p.name, key[0], end, key))
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
    def _say(self, text: str) -> None:
        log.warning("recorder account=%s %s", self.account, text)
        try:
            print(f"fixgw record: {text}", file=self.out, flush=True)
        except Exception:  # noqa: BLE001 - a closed terminal must not stop recording
            pass
