"""Where a product's backfill is, as a transition table (pure core).

The recorder (:mod:`fixgw.recorder.service`) runs one backfill per product: KalshiDC replays
everything from the watermark in pages of EventResendRequests (U1), and once a page reaching
the latest is answered (EventResendComplete, U2) the listener's live reports are contiguous
with the watermark and move it themselves.

* ``WANTED``: a backfill must run before live reports count (at start, after the listener
  lost reports or reconnected, after a page was given up); the watcher starts one once every
  session is logged on and any retry delay has passed.
* ``ASKING``: a page is in flight (:attr:`Product.page`).
* ``NEXT``: a page ended short of the latest; the watcher asks for the next one
  (:attr:`Product.next_page`), never QuickFIX's callback thread.
* ``LIVE``: caught up: live reports received on the listener connection :attr:`Product.live_gen`
  are contiguous with the watermark.

A step the table does not list leaves the phase unchanged: a listener that loses reports
while a backfill runs changes nothing here, because the last page is judged by the listener
epoch it was asked in (:attr:`Page.epoch`), so it proves nothing when that changed. Every
field of a :class:`Product` is read and written under the recorder's one lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

Key = tuple[int, int, int]


class Phase(StrEnum):
    WANTED = "wanted"
    ASKING = "asking"
    NEXT = "next"
    LIVE = "live"


class Step(StrEnum):
    START = "start"  # the watcher asked for the first page
    EMPTY = "empty"  # nothing stored yet: recording starts from the live stream
    PAGE = "page"  # a page ending short of the latest completed
    SENT = "sent"  # the watcher asked for the next page
    CAUGHT_UP = "caught-up"  # the last page completed (or was refused as a gap) in the listener's epoch
    AGAIN = "again"  # the backfill must run (again) from the watermark
    LISTENER_LOST = "listener-lost"  # the listener lost reports (MsgSeqNum gap) or reconnected


P, S = Phase, Step
TRANSITIONS: dict[tuple[Phase, Step], Phase] = {
    (P.WANTED, S.START): P.ASKING,
    (P.WANTED, S.EMPTY): P.LIVE,
    (P.ASKING, S.PAGE): P.NEXT,
    (P.NEXT, S.SENT): P.ASKING,
    (P.ASKING, S.CAUGHT_UP): P.LIVE,
    (P.LIVE, S.LISTENER_LOST): P.WANTED,
    **{(phase, S.AGAIN): P.WANTED for phase in Phase},
}


class Page(NamedTuple):
    """One U1 in flight: [begin, end] (end None: to the latest), asked in listener ``epoch``
    while the listener's connection was number ``gen``."""

    begin: str
    end: str | None
    epoch: int
    gen: int


@dataclass
class Product:
    """Backfill state of one product: its listener session, its KalshiDC session, where it is."""

    name: str
    listeners: list[str]
    dc: str
    phase: Phase = Phase.WANTED
    page: Page | None = None  # ASKING: the U1 in flight
    page_seq: int | None = None  # its MsgSeqNum, when known: U2/U3 name it in RefSeqNum(45)
    next_page: tuple[str, bool] | None = None  # NEXT: (begin, final) of the page to ask for
    live_gen: int = -1  # LIVE: live reports on this listener connection (its logon count) are contiguous
    retry_at: float = 0.0  # WANTED: not before (after a refusal worth retrying)
    gaps: int = 0  # MsgSeqNum gaps on the listener; with its logons, the listener epoch
    watermark: dict[int, str] = field(default_factory=dict)  # exchange index -> ExecID
    marks: dict[int, Key] = field(default_factory=dict)  # the watermarks' keys (parsed once)
    page_top: dict[int, tuple[Key, str]] = field(default_factory=dict)  # the highest (key, ExecID) received
    received: int = 0  # reports of the running backfill (progress lines)
    moved_at: float = 0.0  # wall clock of the last watermark move (metrics)

    def fire(self, step: Step) -> Phase:
        """Take ``step`` (caller holds the recorder's lock); leaving a phase drops its data."""
        new = TRANSITIONS.get((self.phase, step), self.phase)
        if new is not Phase.ASKING:
            self.page, self.page_seq = None, None
        if new is not Phase.NEXT:
            self.next_page = None
        self.phase = new
        return new

    def contiguous(self, gen: int) -> bool:
        """Does a live report received on listener connection ``gen`` follow the watermark?"""
        return self.phase is Phase.LIVE and gen == self.live_gen
