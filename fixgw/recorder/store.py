"""What the recorder stores, and the interface every storage backend offers (pure core).

Identity.  A report is the same report when (account, product, exchange index,
clock, event) are the same: that is what ExecID means (``clock;event[;index]``,
integers, unique within an exchange index), and it is what the backends put
their unique key on.  So ``4;7`` and ``4;7;0`` are one event, as the
reference says index 0 is written without its suffix.  ExecIDs are kept as
they came on the wire (``exec_id``), but are never compared or ordered as
strings: ``9;100`` comes before ``10;2``.

Time.  Every datetime leaves the store timezone-aware in UTC.  A naive datetime
given to the store (``received_at``, ``since``/``until``, a gap's
``recorded_at``) is taken to be UTC, which is what FIX timestamps are.

Watermarks.  Besides reports and gaps, a store keeps one watermark per
(account, product, exchange index): the recorder's durable claim that every
report at or below that ExecID is stored, so a restart resumes the replay there.

Backends import nothing from QuickFIX: the recorder hands them FIX text
(``Message.toString()``) and they keep it verbatim, so a report can always be
decoded again by a later codec.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Iterator, Protocol, Sequence, runtime_checkable

from fixgw.fix import codec, codec_tables, lenient, wire
from fixgw.errors import DecodeError, FixgwError
from fixgw.models.fix import ExecType, ExecutionReport, MarketSettlementReport, OrdStatus, Side
from fixgw.pricing import EVENT, MARGIN, Units

PRODUCTS = frozenset({EVENT, MARGIN})
UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
INT64_MAX = 2**63 - 1
# Digits only: int() alone would also accept " 7", "+7" and "1_0", none of which
# Kalshi sends, and each would alias another ExecID under the numeric key.
_EXEC_ID = re.compile(r"[0-9]{1,19};[0-9]{1,19}(?:;[0-9]{1,19})?\Z")
# What StoredReport.scan reads: the columns, and the fields every ExecutionReport must carry.
_SCAN = re.compile("\x01(14|17|37|39|54|55|60|79|150|151)=([^\x01]*)")
_REQUIRED = ("14", "17", "37", "39", "54", "55", "150", "151")
_ENUMS = (("150", frozenset(ExecType) - {ExecType.REJECTED}), ("39", frozenset(OrdStatus)), ("54", frozenset(Side)))


class StoreError(FixgwError):
    """The store cannot be used as asked (unknown URL, a schema newer than this code)."""


# --------------------------------------------------------------------------- time
def utc(t: dt.datetime) -> dt.datetime:
    """Aware UTC datetime; naive input is taken to be UTC already."""
    if not isinstance(t, dt.datetime):
        raise TypeError(f"expected a datetime, got {type(t).__name__}")
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def to_micros(t: dt.datetime | None) -> int | None:
    """Integer microseconds since the epoch: exact, and sorts like the instant it is."""
    if t is None:
        return None
    d = (t if t.tzinfo is UTC else utc(t)) - EPOCH
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


def from_micros(us: int | None) -> dt.datetime | None:
    return None if us is None else EPOCH + dt.timedelta(microseconds=us)


# --------------------------------------------------------------------------- data
def exec_key(exec_id: str) -> tuple[int, int, int]:
    """(exchange index, clock, event) of a real ExecID; DecodeError for anything else.

    Stricter than :func:`fixgw.models.fix.exec_id_key` because the result is a
    database key: components must be plain digits that fit a signed 64-bit column.
    """
    if not (isinstance(exec_id, str) and _EXEC_ID.match(exec_id)):
        raise DecodeError("8", f"ExecID {exec_id!r} is not clock;event[;index] in digits", 17)
    clock, _, event = exec_id.partition(";")
    if len(clock) <= 18 and len(event) <= 18 and ";" not in event:  # clock;event that fit without a check
        return (0, int(clock), int(event))
    parts = [int(p) for p in exec_id.split(";")]
    if max(parts) > INT64_MAX:
        raise DecodeError("8", f"ExecID {exec_id!r} does not fit 64-bit integers", 17)
    return (parts[2] if len(parts) == 3 else 0, parts[0], parts[1])


@dataclass(frozen=True, slots=True)
class StoredReport:
    """One ExecutionReport as recorded: the raw text plus the columns it is found by."""

    account: str
    product: str  # "event" | "margin"
    exec_id: str  # as on the wire
    exchange_index: int  # the ordering key, from the ExecID
    clock: int
    event: int
    symbol: str  # 55
    subaccount: int  # 79, 0 when absent (the primary account)
    transact_time: dt.datetime | None  # 60
    raw: str  # the FIX message as received, SOH-separated
    received_at: dt.datetime
    units: Units  # of its prices, as the session that received it asked (UseDollars); margin: dollars

    def __post_init__(self) -> None:
        if self.product not in PRODUCTS:
            raise ValueError(f"product must be one of {sorted(PRODUCTS)}, not {self.product!r}")
        if not self.account:
            raise ValueError("account must not be empty")

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.exchange_index, self.clock, self.event)

    @classmethod
    def from_raw(cls, account: str, product: str, raw: str, received_at: dt.datetime,
                 units: Units) -> StoredReport:
        """Decode ``raw`` (an ExecutionReport) and keep it with its keys.

        DecodeError: not FIX, not 35=8, or a malformed ExecID.  ValueError: a pending
        report (``-1;-1``), which has no ExecID to key on and is never replayed by the
        drop copy, so storing it would break "exactly once".
        """
        if isinstance(raw, str) and "\x00" in raw:  # PostgreSQL text cannot hold NUL
            raise DecodeError("8", "message contains a NUL character")
        msg = codec.decode_raw(raw, units)
        if not isinstance(msg, ExecutionReport):
            raise DecodeError(type(msg).__name__, "not an ExecutionReport (35=8)", 35)
        return cls.from_model(account, product, msg, raw, received_at, units)

    @classmethod
    def from_model(cls, account: str, product: str, msg: ExecutionReport, raw: str,
                   received_at: dt.datetime | None = None, units: Units | None = None) -> StoredReport:
        """:meth:`from_raw` for a caller that already decoded ``raw`` (in ``units``) into ``msg``.

        ``received_at`` defaults to now; ``units`` may be left out for margin only (always dollars).
        Same refusals as :meth:`from_raw`.
        """
        if not isinstance(raw, str) or "\x00" in raw:
            raise DecodeError("8", "raw must be FIX text without NUL characters")
        if msg.is_pending:
            raise ValueError(f"pending ExecutionReport (ExecID -1;-1, order {msg.order_id}) "
                             "has no ExecID and is not recorded")
        index, clock, event = exec_key(msg.exec_id)
        received_at = dt.datetime.now(UTC) if received_at is None else utc(received_at)
        return cls(account, product, msg.exec_id, index, clock, event, msg.symbol,
                   msg.alloc_account or 0, msg.transact_time, raw, received_at, _units(product, units))

    @classmethod
    def scan(cls, account: str, product: str, raw: str, received_at: dt.datetime, units: Units,
             key: tuple[int, int, int] | None = None) -> StoredReport | None:
        """:meth:`from_model` without the model: the columns read from the text in one pass, for the
        recorder's writer (the views and the kept books decode the stored text when they read it).

        None when the text is not plain, so the caller decodes it and says what is wrong: a field
        below appearing twice, a required one (37 17 150 39 54 55 14 151) missing or empty, an
        ExecType, OrdStatus or Side the dictionary does not list, a rejected report (150=8), an ExecID
        that is no store key (a pending one), a TransactTime or AllocAccount that does not convert, a
        NUL character. ``key``: the ExecID's key when the caller parsed it already.
        """
        pairs = _SCAN.findall(raw)
        f = dict(pairs)
        if len(f) != len(pairs) or not all(map(f.get, _REQUIRED)) or "\x00" in raw:
            return None
        for tag_, allowed in _ENUMS:
            if f[tag_] not in allowed:
                return None
        exec_id = f["17"]
        try:
            index, clock, event = key if key is not None else exec_key(exec_id)
            when = codec_tables.time_from_wire(f["60"]) if "60" in f else None
            sub = codec_tables.int_from_wire(f["79"]) if "79" in f else 0
        except (ValueError, KeyError, IndexError):
            return None
        return cls(account, product, exec_id, index, clock, event, f["55"], sub, when, raw,
                   received_at if received_at.tzinfo is UTC else utc(received_at),
                   units if units.__class__ is Units else _units(product, units))

    @classmethod
    def from_text(cls, account: str, product: str, raw: str, received_at: dt.datetime,
                  units: Units | None = None) -> StoredReport:
        """An ExecutionReport even the lenient decoder cannot read, kept as its text: ExecID(17),
        Symbol(55), AllocAccount(79) and TransactTime(60) read from the text (a repeated tag keeps its
        first value, as the lenient decoder does); 55 absent is "", 79 absent or not digits is 0, 60
        absent or not a UTCTimestamp is None. Views and replays skip it, naming it, when they decode it.

        DecodeError: not FIX, not 35=8, or no readable ExecID (nothing to key it on).
        """
        if not isinstance(raw, str) or "\x00" in raw:
            raise DecodeError("8", "raw must be FIX text without NUL characters")
        mt, keys, values = wire.parse(raw)
        if mt != "8":
            raise DecodeError(mt, "not an ExecutionReport (35=8)", 35)
        found: dict[str, str] = {}
        for k, v in zip(keys, values):
            found.setdefault(k, v)
        exec_id = found.get("17")
        if exec_id is None:
            raise DecodeError("8", "no ExecID(17)", 17)
        index, clock, event = exec_key(exec_id)
        sub = found.get("79", "")
        try:
            when = codec_tables.time_from_wire(found["60"]) if "60" in found else None
        except (ValueError, KeyError, IndexError):
            when = None
        return cls(account, product, exec_id, index, clock, event, found.get("55", ""),
                   int(sub) if sub.isdigit() and len(sub) <= 18 else 0, when, raw, utc(received_at),
                   _units(product, units))

    def decode(self) -> ExecutionReport:
        """The report as a model again, in the units it was received in (the store keeps text so a
        newer codec can reread it); decoded leniently, as it was when received (:func:`fixgw.fix.lenient.decode`)."""
        return lenient.decode(self.raw, self.units)[0]


def _units(product: str, units: Units | None) -> Units:
    if units is None:
        if product != MARGIN:
            raise ValueError("the units of an event-contract report must be given (the session's UseDollars)")
        return Units.DOLLARS
    return Units(units)


@dataclass(frozen=True, slots=True)
class StoredSettlement:
    """One MarketSettlementReport (35=UMS) as recorded: raw text, found by its report id (20105)."""

    account: str
    product: str
    report_id: str  # 20105, a new id per page: the identity
    symbol: str  # 55
    raw: str  # as received, header included (its SendingTime is the settlement's time)
    received_at: dt.datetime

    @classmethod
    def from_model(cls, account: str, product: str, msg: MarketSettlementReport, raw: str,
                   received_at: dt.datetime | None = None) -> StoredSettlement:
        if not isinstance(raw, str) or "\x00" in raw:
            raise DecodeError("UMS", "raw must be FIX text without NUL characters")
        return cls(account, product, msg.report_id, msg.symbol, raw,
                   dt.datetime.now(UTC) if received_at is None else utc(received_at))


Key = tuple[int, int, int]  # (exchange index, clock, event): the order of reports()

# Both backends page through reports() by key instead of holding a cursor open:
# a reader then never keeps the writer's lock (SQLite) or a transaction (PostgreSQL)
# for as long as its consumer takes, and memory stays at one page.
PAGE_SIZE = 1000


@dataclass(frozen=True)
class Checkpoint:
    """The kept books (:mod:`fixgw.recorder.kept`) of every report with key <= ``through``."""

    account: str
    product: str
    through: Key
    exec_id: str  # the ExecID of ``through``, as the watermark named it
    version: int  # of the state's layout and the code that folded it
    reports: int  # how many reports were folded
    state: bytes
    updated_at: dt.datetime | None = None


@dataclass(frozen=True)
class Gap:
    """ExecIDs the recorder knows it is missing (e.g. older than the 3-hour replay window)."""

    account: str
    product: str
    begin_exec_id: str  # inclusive, as U1 BeginExecID
    end_exec_id: str | None  # inclusive; None = up to whatever came next
    reason: str
    recorded_at: dt.datetime

    @classmethod
    def now(cls, account: str, product: str, begin_exec_id: str, end_exec_id: str | None,
            reason: str) -> Gap:
        return cls(account, product, begin_exec_id, end_exec_id, reason, dt.datetime.now(UTC))


# --------------------------------------------------------------------------- interface
@runtime_checkable
class Store(Protocol):
    """Durable, deduplicating storage of ExecutionReports. Backends: sqlite, postgres.

    Opening one that cannot be used (unreachable, damaged, a newer schema) raises
    StoreError naming the path or URL (never a password) and the cause.
    """

    where: str  # "SQLite store /path" / "PostgreSQL store postgresql://user@host:port/db"

    def transient(self, exc: BaseException) -> bool:
        """True when the write that raised ``exc`` may succeed if repeated (busy, connection lost)."""

    def put(self, reports: Sequence[StoredReport]) -> int:
        """Store a batch in one transaction; known ones are ignored. Durable on return."""

    def last_exec_id(self, account: str, product: str, exchange_index: int = 0) -> str | None:
        """The greatest ExecID by (clock, event) on one exchange index, or None."""

    def reports(self, account: str, product: str, *, ticker: str | None = None,
                since: dt.datetime | None = None, until: dt.datetime | None = None,
                subaccount: int | None = None, after: Key | None = None, upto: Key | None = None,
                trades: bool = False) -> Iterator[StoredReport]:
        """Reports in (exchange_index, clock, event) order, fetched page by page.

        ``since`` is inclusive and ``until`` exclusive, both on TransactTime; reports
        without a TransactTime are left out when either is given. ``after`` (exclusive)
        and ``upto`` (inclusive) bound the key; ``trades`` keeps Trade reports (150=F) only.
        """

    def texts(self, account: str, product: str, *, ticker: str | None = None, subaccount: int | None = None,
              after: Key | None = None, trades: bool = False, size: int = PAGE_SIZE) -> Iterator[tuple]:
        """``(exchange_index, clock, event, exec_id, symbol, raw, units)`` of what :meth:`reports` gives, in
        its order, ``size`` rows per query (no StoredReport is made: a page of fills reads these)."""

    def count(self, account: str | None = None, product: str | None = None, *, after: Key | None = None,
              upto: Key | None = None) -> int:
        """Stored reports, optionally of one account/product and with key in (after, upto]."""

    def last_seq(self, account: str) -> int:
        """Where the account's newest report stands in the order reports were stored (0: none)."""

    def tail(self, account: str, after: int, limit: int = ...) -> list[tuple[int, StoredReport]]:
        """The account's reports stored after position ``after``, in storing order, with positions."""

    def put_settlements(self, settlements: Sequence[StoredSettlement]) -> int:
        """Store settlement reports in one transaction; known report ids are ignored."""

    def settlements(self, account: str, product: str) -> list[StoredSettlement]:
        """Settlement reports in the order they were first stored."""

    def exec_ids(self, account: str, product: str) -> set[str]: ...

    def add_gap(self, gap: Gap) -> None: ...

    def watermark(self, account: str, product: str, exchange_index: int = 0) -> str | None:
        """The ExecID at or below which every report is stored, as the recorder last said."""

    def set_watermark(self, account: str, product: str, exchange_index: int,
                      exec_id: str, kept: Checkpoint | None = None) -> None:
        """Durably move the watermark forward (never back: a lower ExecID is ignored);
        ``kept``, written in the same transaction, replaces the account's checkpoint."""

    def put_checkpoint(self, kept: Checkpoint) -> None:
        """Replace the checkpoint of (kept.account, kept.product) (a rebuild)."""

    def checkpoint(self, account: str, product: str) -> Checkpoint | None:
        """The kept checkpoint of (account, product), or None."""

    def gaps(self, account: str | None = None, product: str | None = None) -> list[Gap]:
        """Gaps in the order they were recorded."""

    def schema_version(self) -> int: ...

    def close(self) -> None: ...


def watermark_key(exchange_index: int, exec_id: str) -> tuple[int, int]:
    """(clock, event) of a watermark, checking that it belongs to ``exchange_index``."""
    index, clock, event = exec_key(exec_id)
    if index != exchange_index:
        raise ValueError(f"ExecID {exec_id!r} is on exchange index {index}, not {exchange_index}")
    return clock, event


def check_version(found: int, known: int, where: str) -> None:
    if found > known:
        raise StoreError(f"{where} has schema version {found}, but this fixgw only knows up to "
                         f"{known}: upgrade fixgw (refusing to touch a newer database)")


def open_store(url: str) -> Store:
    """``sqlite:///path/file.db`` (or a bare path) or ``postgresql://user@host:port/db``.

    SQLite URLs follow SQLAlchemy's convention, which most tools share: after
    ``sqlite:///`` comes the path, so ``sqlite:///x.db`` is relative to the working
    directory and ``sqlite:////var/lib/x.db`` is absolute.
    """
    if not isinstance(url, str) or not url:
        raise StoreError(f"store URL must be a non-empty string, not {url!r}")
    scheme, sep, rest = url.partition("://")
    if not sep or "/" in scheme or "\\" in scheme:
        from fixgw.recorder.sqlite import SqliteStore
        return SqliteStore(url)
    scheme = scheme.lower()
    if scheme == "sqlite":
        path = rest[1:] if rest.startswith("/") else ""
        if not path:
            raise StoreError(f"{url!r} names no file (sqlite:///relative.db or sqlite:////abs.db)")
        from fixgw.recorder.sqlite import SqliteStore
        return SqliteStore(path)
    if scheme in ("postgresql", "postgres"):
        from fixgw.recorder.postgres import PostgresStore
        return PostgresStore(url)
    raise StoreError(f"unknown store URL scheme {scheme!r}: use sqlite:///path or postgresql://")
