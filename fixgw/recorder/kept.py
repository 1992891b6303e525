"""Kept books: positions, balances and open orders kept up to date as reports are written (pure core).

Why: a full replay (:func:`fixgw.recorder.replay.replay`) folds every stored
report on each read, so a read costs the whole history. Instead the recorder
keeps a **checkpoint** per (account, product): the :class:`Replayed` books of
every report whose key (exchange index, clock, event) is at or below
``through``. A read loads it, folds the stored reports after ``through`` with
the same :meth:`Replayed.apply`, then applies the settlements (a market
settles after its last fill, as in a full replay), so it costs the checkpoint
plus the tail, not the history.

Why that is exact. ``through`` is always a durable watermark (index 0): every
report at or below it is already stored, so no report can be stored later
below it, and the reports after it are exactly what a full replay would fold
after the checkpoint, in the same order. The recorder writes a new checkpoint
in the transaction that moves the watermark, at most once every :data:`EVERY`
reports, folding the stored rows between the old and the new ``through`` (so
what is folded is what is stored, decoded as a full replay decodes it). Not
while the product backfills (:class:`Keeper`): the fold waits until the writer
is idle, so a backfill costs what storing its reports costs.

What is kept, and what is not (each without a part that grows with history):

* position ledgers (per subaccount and market), cash sums and times, the
  account's and each FCM sub-trader's; settlements are not in it (applied at
  read time).
* open (resting) orders only: a finished order is dropped. A later report for
  a finished order starts it afresh from that report, as :class:`Orders` does
  for an order it has forgotten; full order history stays on the full path.
* no per-fill or per-ExecID "seen" sets: the store keeps one row per ExecID
  key, so a replay never meets a report twice. (The ledger's own set is keyed
  by fill id and order id, one per ExecID in Kalshi's reports.)
* FCM fill rows (GET /fcm/fills) are not kept: that view replays in full.

No checkpoint, or one written by another :data:`VERSION`, and a read falls
back to the full replay; the recorder rebuilds it at its next watermark move
(folding from the first report once), and ``fixgw rebuild`` does it on demand.
The state is a pickle of plain data (tuples, dicts, Decimals, datetimes)
loaded by an unpickler that refuses every other class.
"""

from __future__ import annotations

import io
import logging
import pickle
from dataclasses import fields as dc_fields

from fixgw.fcm import Books
from fixgw.positions import Cash, EventBook, MarginBook
from fixgw.recorder.replay import Replayed, decode
from fixgw.recorder.store import Checkpoint, Key, Store, StoredReport, exec_key
from fixgw.translate import _Live

log = logging.getLogger("fixgw.recorder")

VERSION = 1  # bump whenever the layout or the fold changes: older checkpoints are then rebuilt
EVERY = 1000  # reports between checkpoints: the most a read folds on top of one (plus unwatermarked ones)
# ...or more when the books are large: a checkpoint writes the whole state, so one comes at most every
# (its size / BYTES_PER_REPORT) reports and its cost per report stays constant, never the state's size.
BYTES_PER_REPORT = 256
STEP = 20 * EVERY  # reports one catch-up step folds (a step takes the writer well under a second)
_LIVE = [f.name for f in dc_fields(_Live) if f.name != "seen"]
_EVENT = [f.name for f in dc_fields(EventBook)]
_MARGIN = [f.name for f in dc_fields(MarginBook)]
_ALLOWED = {("decimal", "Decimal"), ("datetime", "datetime"), ("datetime", "timezone"), ("datetime", "timedelta")}


# --------------------------------------------------------------------------- the state as plain data
def _books_out(b: Books) -> tuple:
    ledger, orders = b.ledger, b.orders
    live = {oid: o for oid, o in orders._live.items() if o.status == "resting"}
    return ({k: tuple(getattr(v, n) for n in _EVENT) for k, v in ledger.events.items()},
            {k: tuple(getattr(v, n) for n in _MARGIN) for k, v in ledger.margins.items()},
            [tuple(getattr(o, n) for n in _LIVE) for o in live.values()],
            {cid: oid for cid, oid in orders._by_client.items() if oid in live})


def _books_in(b: Books, data: tuple) -> Books:
    events, margins, live, by_client = data
    b.ledger.events = {k: EventBook(*v) for k, v in events.items()}
    b.ledger.margins = {k: MarginBook(*v) for k, v in margins.items()}
    for values in live:
        o = _Live(**dict(zip(_LIVE, values)))
        b.orders._live[o.order_id] = o
    b.orders._by_client.update(by_client)
    return b


def dumps(r: Replayed) -> bytes:
    """The kept part of ``r`` (see the module docstring) as bytes."""
    cash = r.cash
    data = (VERSION, _books_out(r.own), {name: _books_out(b) for name, b in r.subtraders.books.items()},
            (cash.since, cash._sum, cash._updated))
    return pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)


class _Plain(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"kept state names {module}.{name}, which is not plain data")
        return super().find_class(module, name)


def loads(blob: bytes) -> Replayed:
    version, own, subs, (since, sums, updated) = _Plain(io.BytesIO(blob)).load()
    if version != VERSION:
        raise ValueError(f"kept state version {version}, this fixgw writes {VERSION}")
    r = Replayed()
    _books_in(r.own, own)
    for name, data in subs.items():
        _books_in(r.subtraders.of(name), data)
    r.cash = Cash()
    r.cash.since, r.cash._sum, r.cash._updated = since, sums, updated
    return r


# --------------------------------------------------------------------------- reading and rebuilding
def load(store: Store, account: str, product: str) -> tuple[Replayed, Key | None]:
    """(books, through) from the checkpoint, or (empty books, None) for a full replay when there is
    none of this version."""
    cp = store.checkpoint(account, product)
    if cp is None or cp.version != VERSION:
        return Replayed(), None
    return loads(cp.state), cp.through


def fold(books: Replayed, store: Store, account: str, product: str, after: Key | None, upto: Key,
         limit: int | None = None) -> tuple[int, StoredReport | None]:
    """Fold the stored reports in (after, upto] into ``books``, decoded as a full replay decodes
    them, at most ``limit`` of them; (how many, the last one folded)."""
    n, last = 0, None
    for r in store.reports(account, product, after=after, upto=upto):
        try:
            books.apply(decode(r, product), product)
        except ValueError as e:  # as every view does: the report is named and skipped (apply changed nothing)
            log.warning("recorder account=%s product=%s: kept books skip stored report %s: %s",
                        account, product, r.exec_id, e)
        n, last = n + 1, r
        if n == limit:
            break
    return n, last


def rebuild(store: Store, account: str, product: str) -> Checkpoint | None:
    """Fold every report up to the watermark from nothing and store that checkpoint (None: no watermark)."""
    mark = store.watermark(account, product, 0)
    if mark is None:
        return None
    through = exec_key(mark)
    books = Replayed()
    n, _ = fold(books, store, account, product, None, through)
    cp = Checkpoint(account, product, through, mark, VERSION, n, dumps(books))
    store.put_checkpoint(cp)
    return cp


# --------------------------------------------------------------------------- the recorder's side
class Keeper:
    """The recorder writer's books, one per product, checkpointed with the watermark.

    While a product backfills, the writer moves its watermark with ``defer=True``: no fold, so a
    backfill costs what storing its reports costs. Folding is not lost, only later: the product is
    *behind* until :meth:`catch_up` (called by the writer when it has nothing to write) has folded
    up to its watermark, at most :data:`STEP` reports a call so live reports never wait long
    behind it. Meanwhile a read folds from the older checkpoint, exactly as after any checkpoint.
    """

    def __init__(self, store: Store, account: str, every: int = EVERY, step: int = STEP):
        self.store, self.account, self.every, self.step = store, account, every, step
        self._books: dict[str, tuple[Replayed, Key | None, int]] = {}  # product -> (books, through, folded)
        self._size: dict[str, int] = {}  # product -> bytes of its last checkpoint
        self._off: set[str] = set()
        self.behind: dict[str, tuple[str, Key]] = {}  # product -> the watermark (ExecID, key) not yet folded to

    def set_watermark(self, product: str, index: int, exec_id: str, key: Key | None = None,
                      defer: bool = False) -> None:
        """Move the watermark; with a new checkpoint in the same transaction once ``every`` reports
        have been stored since the last one (``key``: the ExecID's, when the caller has it), unless
        ``defer`` (a backfill is running): then the product is behind until :meth:`catch_up`.
        A passing store error (``transient()``: database busy, connection lost) is raised for the
        writer to repeat the whole move. Any other failure turns the kept books off for the run,
        logged; the watermark still moves, and reads keep working from the older checkpoint. A
        report that does not fold is skipped inside :func:`fold`."""
        kept = None
        if index == 0 and product not in self._off:
            upto = exec_key(exec_id) if key is None else key
            if defer or product in self.behind:
                self.behind[product] = (exec_id, upto)
            else:
                kept = self._guarded(product, exec_id, upto)
        self.store.set_watermark(self.account, product, index, exec_id, kept=kept)

    def catch_up(self, products) -> bool:
        """Fold one step of each behind product in ``products`` (those not backfilling) and store
        the checkpoint; True if any is still behind after it."""
        for product in [p for p in products if p in self.behind]:
            exec_id, upto = self.behind[product]
            try:
                cp = self._checkpoint(product, exec_id, upto, stepping=True)
                if cp is not None:
                    self.store.put_checkpoint(cp)
            except Exception as e:
                cp = self._failed(product, exec_id, e)  # a passing error is raised: the writer repeats the step
            if product in self._off or cp is None or cp.through >= upto:
                self.behind.pop(product, None)
        return any(p in self.behind for p in products)

    def _guarded(self, product: str, exec_id: str, upto: Key) -> Checkpoint | None:
        """The checkpoint of a watermark move (at most a step of it: the rest is left behind)."""
        try:
            cp = self._checkpoint(product, exec_id, upto)
        except Exception as e:
            return self._failed(product, exec_id, e)
        if cp is not None and cp.through < upto:  # e.g. the first move after a restart that was behind
            self.behind[product] = (exec_id, upto)
        return cp

    def _failed(self, product: str, exec_id: str, e: Exception) -> None:
        self._books.pop(product, None)  # perhaps folded in part: start again from the stored checkpoint
        if self.store.transient(e):
            raise e
        self._off.add(product)
        log.error("recorder account=%s product=%s: kept books turned off for this run after %s: %s "
                  "(while writing a checkpoint at %s); reads replay from the last checkpoint, "
                  "run fixgw rebuild", self.account, product, type(e).__name__, e, exec_id)
        return None

    def _checkpoint(self, product: str, mark: str, upto: Key, *, stepping: bool = False) -> Checkpoint | None:
        """Fold at most a step towards ``upto`` and make that checkpoint; None when there is nothing to
        write (a move, unlike a catch-up ``stepping``, writes one only every ``every`` reports)."""
        if product not in self._books:
            books, through = load(self.store, self.account, product)
            cp = self.store.checkpoint(self.account, product)
            self._books[product] = (books, through, cp.reports if cp is not None and through else 0)
        books, through, folded = self._books[product]
        every = max(self.every, self._size.get(product, 0) // BYTES_PER_REPORT)
        if through is not None and (upto <= through or (not stepping and self.store.count(
                self.account, product, after=through, upto=upto) < every)):
            return None
        n, last = fold(books, self.store, self.account, product, through, upto, self.step)
        if n == self.step and last is not None and last.key < upto:  # a step short of the watermark
            upto, mark = last.key, last.exec_id
        blob = dumps(books)
        self._size[product] = len(blob)
        self._books[product] = (loads(blob), upto, folded + n)  # what was written: no finished orders
        return Checkpoint(self.account, product, upto, mark, VERSION, folded + n, blob)
