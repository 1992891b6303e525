"""The reading half of a SQL store, shared by the SQLite and PostgreSQL backends (pure core).

Both backends keep the same tables and answer the same queries; they differ in
the parameter placeholder, how times are stored (microseconds vs timestamptz)
and how a query reaches the database. Subclasses supply those three things.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Iterator

from fixgw.pricing import MARGIN, Units
from fixgw.recorder.store import PAGE_SIZE, Checkpoint, Gap, Key, StoredReport, StoredSettlement

COLUMNS = ("account, product, exec_id, exchange_index, clock, event, symbol, subaccount, "
           "transact_time, raw, received_at, units")
TEXT_COLUMNS = "exchange_index, clock, event, exec_id, symbol, raw, units"  # SqlReads.texts
SETTLEMENT_COLUMNS = "account, product, report_id, symbol, raw, received_at"
# Migration 3 of both backends (their own column types): settlement reports, kept as text.
SETTLEMENTS_TABLE = ("CREATE TABLE settlements (id {id}, account text NOT NULL, product text NOT NULL, "
                     "report_id text NOT NULL, symbol text NOT NULL, raw text NOT NULL, received_at {time} NOT NULL)",
                     "CREATE UNIQUE INDEX settlements_key ON settlements (account, product, report_id)")
# Migration 4 (its blob type per backend): the kept checkpoint of each (account, product), see
# fixgw.recorder.kept: the books of every report with key <= (exchange_index, clock, event).
KEPT_TABLE = ("CREATE TABLE kept (account text NOT NULL, product text NOT NULL, exchange_index bigint NOT NULL, "
              "clock bigint NOT NULL, event bigint NOT NULL, exec_id text NOT NULL, version integer NOT NULL, "
              "reports bigint NOT NULL, state {blob} NOT NULL, updated_at {time} NOT NULL, "
              "PRIMARY KEY (account, product))",)
KEPT_COLUMNS = "account, product, exchange_index, clock, event, exec_id, version, reports, state, updated_at"
# The units migration (SQLite 5, PostgreSQL 6): the units of each report's prices (UseDollars of the session that received it), so no
# reader infers them; rows stored before it get what readers inferred then (legacy_units).
UNITS_COLUMN = "ALTER TABLE reports ADD COLUMN units text"
LEGACY_PAGE = ("SELECT account, product, exchange_index, clock, event, raw FROM reports "
               "WHERE (account, product, exchange_index, clock, event) > ({p}, {p}, {p}, {p}, {p}) "
               "ORDER BY account, product, exchange_index, clock, event LIMIT 1000")
SET_UNITS = ("UPDATE reports SET units={p} WHERE account={p} AND product={p} AND exchange_index={p} "
             "AND clock={p} AND event={p}")
_UNITS = {u.value: u for u in Units}


def legacy_units(raw: str, product: str) -> Units:
    """The units of a report stored before they were recorded with it (before the units migration),
    as readers inferred them then: margin prices are always dollars; an event-contract price is
    strictly between $0 and $1, so a report whose price fields (6, 31, 44) reach 1 or more was
    written in cents. Only the migration that records the units uses it, once per old row."""
    if product == MARGIN:
        return Units.DOLLARS
    for tag_ in ("\x016=", "\x0131=", "\x0144="):
        start = raw.find(tag_)
        if start >= 0:
            value = raw[start + len(tag_):raw.find("\x01", start + 1)]
            try:
                if Decimal(value) >= 1:
                    return Units.CENTS
            except ArithmeticError:
                continue
    return Units.DOLLARS


def record_units(query, update_many, p: str) -> None:
    """The units migration's data step, page by page in key order: every row stored before it gets the units
    readers inferred then (:func:`legacy_units`), so it reads as it did."""
    after: tuple = ("", "", -1, -1, -1)
    while True:
        rows = query(LEGACY_PAGE.format(p=p), after)
        if not rows:
            return
        update_many(SET_UNITS.format(p=p), [(legacy_units(raw, product).value, account, product, index, clock, event)
                                            for account, product, index, clock, event, raw in rows])
        after = tuple(rows[-1][:5])


# A Trade report (150=F): what a page of fills reads, filtered in the database.
TRADE_PATTERN = "%\x01150=F\x01%"


class SqlReads:
    P = "?"  # the driver's parameter placeholder
    SEQ = "rowid"  # the column numbering reports in the order they were stored (PostgreSQL: seq)

    def _query(self, sql: str, args) -> list[tuple]:  # all rows, under the store's lock
        raise NotImplementedError

    def _time_arg(self, t: dt.datetime):  # a datetime as the tables store it
        raise NotImplementedError

    def _time_of(self, value) -> dt.datetime | None:  # back from the tables
        raise NotImplementedError

    def _report(self, row: tuple) -> StoredReport:
        (account, product, exec_id, index, clock, event, symbol, sub, tt, raw, received, units) = row
        return StoredReport(account, product, exec_id, index, clock, event, symbol, sub,
                            self._time_of(tt), raw, self._time_of(received),
                            # NULL: written after the migration by an older fixgw still running
                            _UNITS[units] if units is not None else legacy_units(raw, product))

    def _optional(self, **cols: object) -> tuple[str, list]:
        given = {k: v for k, v in cols.items() if v is not None}
        if not given:
            return "", []
        return " WHERE " + " AND ".join(f"{k}={self.P}" for k in given), list(given.values())

    def last_exec_id(self, account: str, product: str, exchange_index: int = 0) -> str | None:
        p = self.P
        rows = self._query(f"SELECT exec_id FROM reports WHERE account={p} AND product={p} "
                           f"AND exchange_index={p} ORDER BY clock DESC, event DESC LIMIT 1",
                           (account, product, exchange_index))
        return rows[0][0] if rows else None

    def reports(self, account: str, product: str, *, ticker: str | None = None,
                since: dt.datetime | None = None, until: dt.datetime | None = None,
                subaccount: int | None = None, after: Key | None = None, upto: Key | None = None,
                trades: bool = False) -> Iterator[StoredReport]:
        where, args = self._where(account, product, ticker, since, until, subaccount, upto, trades)
        return (self._report(row) for row in self._pages(COLUMNS, where, args, after, PAGE_SIZE, slice(3, 6)))

    def texts(self, account: str, product: str, *, ticker: str | None = None, subaccount: int | None = None,
              after: Key | None = None, trades: bool = False, size: int = PAGE_SIZE) -> Iterator[tuple]:
        """``(exchange_index, clock, event, exec_id, symbol, raw, units)`` of the reports :meth:`reports`
        gives for the same arguments, without making a StoredReport of each row (what a page of
        fills reads); fetched ``size`` rows at a time (a page of n asks n + 1: is there a next one?)."""
        where, args = self._where(account, product, ticker, None, None, subaccount, None, trades)
        for *row, raw, units in self._pages(TEXT_COLUMNS, where, args, after, size, slice(0, 3)):
            yield (*row, raw, _UNITS[units] if units is not None else legacy_units(raw, product))

    def _where(self, account, product, ticker, since, until, subaccount, upto, trades) -> tuple[str, list]:
        p = self.P
        where, args = [f"account={p}", f"product={p}"], [account, product]
        for clause, value in ((f"symbol={p}", ticker), (f"transact_time>={p}", since),
                              (f"transact_time<{p}", until), (f"subaccount={p}", subaccount)):
            if value is not None:
                where.append(clause)
                args.append(self._time_arg(value) if isinstance(value, dt.datetime) else value)
        if upto is not None:
            where.append(f"(exchange_index, clock, event) <= ({p}, {p}, {p})")
            args.extend(upto)
        if trades:
            where.append(f"raw LIKE {p}")
            args.append(TRADE_PATTERN)
        return " AND ".join(where), args

    def _pages(self, columns: str, where: str, args: list, after: Key | None, size: int,
               key: slice) -> Iterator[tuple]:
        """Keyset pages of ``size`` rows (``key``: where the row's key is): a slow reader holds no
        lock or transaction between pages."""
        p = self.P
        first = f"SELECT {columns} FROM reports WHERE {where} ORDER BY exchange_index, clock, event LIMIT {size}"
        after_sql = (f"SELECT {columns} FROM reports WHERE {where} "
                     f"AND (exchange_index, clock, event) > ({p}, {p}, {p}) "
                     f"ORDER BY exchange_index, clock, event LIMIT {size}")
        sql, page_args = (first, args) if after is None else (after_sql, [*args, *after])
        while True:
            rows = self._query(sql, page_args)
            yield from rows
            if len(rows) < size:
                return
            sql, page_args = after_sql, [*args, *rows[-1][key]]

    def last_seq(self, account: str) -> int:
        """The storing order's position of the account's newest report (0: none). Per account: on
        PostgreSQL a position is taken at insert, not at commit, so another account's batch may
        commit higher positions while one of this account's is still open (one writer per account)."""
        return self._query(f"SELECT coalesce(max({self.SEQ}), 0) FROM reports WHERE account = {self.P}",
                           (account,))[0][0]

    def tail(self, account: str, after: int, limit: int = PAGE_SIZE) -> list[tuple[int, StoredReport]]:
        """The account's reports stored after position ``after`` (see :meth:`last_seq`), in the order
        they were stored, with their positions: a report a backfill stores below newer keys comes
        after them here, and one the store already had (not stored again) never comes twice."""
        p = self.P
        rows = self._query(f"SELECT {self.SEQ}, {COLUMNS} FROM reports WHERE {self.SEQ} > {p} AND account = {p} "
                           f"ORDER BY {self.SEQ} LIMIT {int(limit)}", (after, account))
        return [(row[0], self._report(row[1:])) for row in rows]

    def count(self, account: str | None = None, product: str | None = None, *, after: Key | None = None,
              upto: Key | None = None) -> int:
        where, args = self._optional(account=account, product=product)
        p = self.P
        for op, key in ((">", after), ("<=", upto)):
            if key is not None:
                where += (" AND " if where else " WHERE ") + f"(exchange_index, clock, event) {op} ({p}, {p}, {p})"
                args = [*args, *key]
        return self._query(f"SELECT count(*) FROM reports{where}", args)[0][0]

    def exec_ids(self, account: str, product: str) -> set[str]:
        p = self.P
        rows = self._query(f"SELECT exec_id FROM reports WHERE account={p} AND product={p}", (account, product))
        return {row[0] for row in rows}

    def settlements(self, account: str, product: str) -> list[StoredSettlement]:
        p = self.P
        rows = self._query(f"SELECT {SETTLEMENT_COLUMNS} FROM settlements WHERE account={p} AND product={p} "
                           "ORDER BY id", (account, product))
        return [StoredSettlement(a, pr, rid, sym, raw, self._time_of(t)) for a, pr, rid, sym, raw, t in rows]

    def gaps(self, account: str | None = None, product: str | None = None) -> list[Gap]:
        where, args = self._optional(account=account, product=product)
        rows = self._query("SELECT account, product, begin_exec_id, end_exec_id, reason, recorded_at "
                           f"FROM gaps{where} ORDER BY id", args)
        return [Gap(a, pr, b, e, r, self._time_of(t)) for a, pr, b, e, r, t in rows]

    def checkpoint(self, account: str, product: str) -> Checkpoint | None:
        p = self.P
        rows = self._query(f"SELECT {KEPT_COLUMNS} FROM kept WHERE account={p} AND product={p}", (account, product))
        if not rows:
            return None
        a, pr, index, clock, event, exec_id, version, n, state, at = rows[0]
        return Checkpoint(a, pr, (index, clock, event), exec_id, version, n, bytes(state), self._time_of(at))
