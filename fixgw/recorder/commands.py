"""``fixgw record``, ``fills``, ``orders``, ``positions``, ``export``: click commands for the drop copy."""

from __future__ import annotations

import csv
import json
import signal
import sys
import threading
from pathlib import Path

import click

from fixgw.config import GatewayConfig, load


def store_url(config: GatewayConfig, override: str | None = None) -> str:
    url = override or config.recorder.store
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_absolute():
            path = config.state_dir / path
        return f"sqlite:///{path}"
    return url


def _open(config_path: Path | None, store: str | None):
    from fixgw.recorder.store import open_store

    if config_path is None and store is None:
        raise click.UsageError("give CONFIG or --store URL")
    config = load(config_path) if config_path is not None else None
    url = store_url(config, store) if config is not None else store
    return open_store(url), config


@click.command(help="Record the drop copy (listener + KalshiDC sessions of CONFIG) until SIGTERM/SIGINT. "
                    "Exits 1 if the store fails (the reason on stderr), 2 if it cannot start.")
@click.argument("config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--store", help="Override [recorder] store (sqlite:///path or postgresql://...).")
def record(config_path: Path, store: str | None) -> None:
    from fixgw import lock
    from fixgw.recorder.service import Recorder
    from fixgw.recorder.store import open_store

    config = load(config_path)
    rc = config.recorder
    held = lock.acquire(config.state_dir)  # creates it like `run`; one process per state directory
    db = open_store(store_url(config, store))
    stop = threading.Event()
    recorder = Recorder.from_config(config, db, on_failure=lambda _: stop.set())
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    recorder.start()
    click.echo(f"fixgw record: account {rc.account} -> {db.where}", err=True)
    stop.wait()
    durable = recorder.stop()
    db.close()
    lock.release(held)
    if recorder.failure is not None or not durable:
        reason = recorder.failure or "the store did not make the last reports durable in time"
        click.echo(f"fixgw record: failed: {reason}; {recorder.stored} reports stored this run", err=True)
        sys.exit(1)
    click.echo(f"fixgw record: stopped; {recorder.stored} reports stored this run", err=True)


def _filters(f):
    for opt in (click.option("--account"), click.option("--product", type=click.Choice(["event", "margin"]),
                                                           default="event", show_default=True),
                click.option("--ticker"), click.option("--event", "event_ticker"),
                click.option("--subaccount", type=int),
                click.option("--subtrader", help="FCM: one sub-trader's books (GET /fcm/...); default: the account's own."),
                click.option("--min-ts", type=int, help="Unix seconds, inclusive."),
                click.option("--max-ts", type=int, help="Unix seconds, inclusive."),
                click.option("--store", help="sqlite:///path or postgresql://... instead of CONFIG's."),
                click.option("--user-id", help="Kalshi user_id for orders (default: CONFIG's user_id)."),
                click.argument("config_path", required=False,
                               type=click.Path(exists=True, dir_okay=False, path_type=Path))):
        f = opt(f)
    return f


def _query(config_path, store, account, product, user_id=None, **filters):
    from fixgw.recorder import views

    db, config = _open(config_path, store)
    party = None
    if config is not None:
        account, user_id = account or config.recorder.account, user_id if user_id is not None else config.user_id
        party = config.party_id
    return db, views.Query(db, account or "default", product, user_id=user_id or "", party_id=party, **filters)


@click.command(help="Recorded fills as REST JSON lines (like GET /portfolio/fills), or a table.")
@_filters
@click.option("--table", is_flag=True, help="A table for people instead of JSON lines.")
@click.option("--follow", "-f", is_flag=True, help="Keep running: print each new fill as the recorder "
              "stores it (another process may be recording), until SIGINT/SIGTERM.")
@click.option("--limit", type=click.IntRange(1), help="One page of this many fills (in ExecID order); "
              "the next page's cursor goes to stderr.")
@click.option("--cursor", help="Fills after this ExecID (the cursor a page printed).")
def fills(config_path, store, user_id, account, product, ticker, event_ticker, subaccount, subtrader, min_ts, max_ts,
          table, follow, limit, cursor) -> None:
    if follow and (limit is not None or cursor is not None):
        raise click.UsageError("--follow prints every fill: it does not take --limit/--cursor")
    db, q = _query(config_path, store, account, product, user_id, ticker=ticker, event_ticker=event_ticker,
                   subaccount=subaccount, subtrader=subtrader, min_ts=min_ts, max_ts=max_ts,
                   limit=limit, cursor=cursor)
    columns = ["created_time", "ticker", "outcome_side", "count_fp", "yes_price_dollars", "is_taker",
               "fee_cost"] if product == "event" else \
        ["created_time", "ticker", "side", "count", "price", "entry_price", "realized_pnl", "fees"]
    since = _stamp(db, q)
    if limit is None and cursor is None:
        rows = [json.loads(f.model_dump_json()) for f in q.fills()]
    else:
        from fixgw.errors import DecodeError

        try:
            page, after = q.fills_page()
        except DecodeError as e:
            raise click.BadParameter(str(e), param_hint="--cursor") from None
        rows = [json.loads(f.model_dump_json()) for f in page]
        click.echo(f"fixgw fills: next page --cursor '{after}'" if after else "fixgw fills: last page", err=True)
    _emit(rows, table, columns)
    if follow:
        _follow(db, q, since, lambda: [json.loads(f.model_dump_json()) for f in q.fills()],
                {r["fill_id"]: r for r in rows}, "fill_id", table, columns)
    db.close()


def _stamp(db, q, settled: bool = False) -> tuple[int, int]:
    """What ``--follow`` polls: the account's report count (with ``settled``, its settlements too)."""
    return db.count(q.account, q.product), len(db.settlements(q.account, q.product)) if settled else 0


def _follow(db, q, since: tuple[int, int], rows, printed: dict, key: str, table: bool, columns: list[str],
            settled: bool = False) -> None:
    """Poll :func:`_stamp` from ``since`` (taken before the first rows were read, so a report stored
    while they were read is not missed); when it moves, read ``rows()`` again and print each row
    whose ``key`` is new or whose row differs from the one printed last, in the order ``rows()`` gives. ``printed`` (key -> row) holds what is on screen.

    Each change re-reads the view (a backfill can fill holes below the newest ExecID, so
    "after the last one" would miss them); positions come from the kept books plus the tail
    (:mod:`fixgw.recorder.kept`), fills and orders from the account's reports: fine for a
    terminal, not a feed. A row that leaves the view (a settled position) is not printed.
    """
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    sys.stdout.flush()
    last = since
    while not stop.wait(0.2):
        now = _stamp(db, q, settled)
        if now == last:
            continue
        last = now
        new = [r for r in rows() if printed.get(r[key]) != r]
        printed.update((r[key], r) for r in new)
        if new:
            _emit(new, table, columns)
            sys.stdout.flush()


@click.command(help="Recorded orders as REST JSON lines (GET /portfolio/orders; with --product margin "
                    "GET /margin/orders), or a table.")
@_filters
@click.option("--status", type=click.Choice(["resting", "canceled", "executed"]))
@click.option("--table", is_flag=True, help="A table for people instead of JSON lines.")
@click.option("--follow", "-f", is_flag=True, help="Keep running: print an order again each time a stored "
              "report changes it (another process may be recording), until SIGINT/SIGTERM.")
def orders(config_path, store, user_id, account, product, ticker, event_ticker, subaccount, subtrader, min_ts, max_ts,
           status, table, follow) -> None:
    db, q = _query(config_path, store, account, product, user_id, ticker=ticker, event_ticker=event_ticker,
                   subaccount=subaccount, subtrader=subtrader, min_ts=min_ts, max_ts=max_ts)
    columns = ["created_time", "ticker", "outcome_side", "status", "yes_price_dollars", "fill_count_fp",
               "remaining_count_fp"] if product == "event" else \
        ["created_time", "ticker", "side", "price", "fill_count", "remaining_count", "last_update_reason"]

    def rows():
        return [json.loads(o.model_dump_json()) for o in q.orders(status)]

    try:
        since = _stamp(db, q)
        now = rows()
        _emit(now, table, columns)
        if follow:
            _follow(db, q, since, rows, {r["order_id"]: r for r in now}, "order_id", table, columns)
    finally:
        db.close()


@click.command(help="Positions derived from the recorded reports and settlements (like GET /portfolio/positions; "
                    "with --subtrader GET /fcm/positions).")
@_filters
@click.option("--settlement-status", type=click.Choice(["unsettled", "settled", "all"]), help="Default unsettled.")
@click.option("--count-filter", help="position,total_traded: rows where any is non-zero.")
@click.option("--limit", type=click.IntRange(1, 1000), help="Rows per page (default 100).")
@click.option("--cursor", help="The cursor of the previous page.")
@click.option("--profile", type=click.Choice(["default", "seed"]),
              help="Schema profile of the JSON (default: CONFIG's profile, else default).")
@click.option("--table", is_flag=True)
@click.option("--follow", "-f", is_flag=True, help="Keep running: print each market position (one line "
              "each, not the body) and then each one again when a stored report or settlement changes it, "
              "until SIGINT/SIGTERM.")
def positions(config_path, store, user_id, account, product, ticker, event_ticker, subaccount, subtrader, min_ts, max_ts,
              settlement_status, count_filter, limit, cursor, profile, table, follow) -> None:
    if follow and (limit is not None or cursor is not None):
        raise click.UsageError("--follow prints every position: it does not take --limit/--cursor")
    db, q = _query(config_path, store, account, product, user_id, ticker=ticker, event_ticker=event_ticker,
                   subaccount=subaccount, subtrader=subtrader, min_ts=min_ts, max_ts=max_ts,
                   settlement_status=settlement_status, count_filter=count_filter, limit=limit, cursor=cursor)
    if profile is None and config_path is not None:
        profile = load(config_path).profile
    key, ident = ("market_positions", "ticker") if product == "event" else ("positions", "market_ticker")
    columns = ["ticker", "position_fp", "market_exposure_dollars", "realized_pnl_dollars", "fees_paid_dollars"] \
        if product == "event" else ["market_ticker", "position", "entry_price", "fees"]
    if follow:
        def rows():
            return [json.loads(p.model_dump_json()) for p in q.positions(whole=True)[key]]

        try:
            since = _stamp(db, q, settled=True)
            now = rows()
            _emit(now, table, columns)
            _follow(db, q, since, rows, {r[ident]: r for r in now}, ident, table, columns, settled=True)
        finally:
            db.close()
        return
    if product == "event" and not table:
        click.echo(json.dumps(q.positions_json(profile)))
        db.close()
        return
    out = q.positions()
    db.close()
    if table:
        _emit([json.loads(p.model_dump_json()) for p in out[key]], True, columns)
    else:
        click.echo(json.dumps({k: v if isinstance(v, str) else [json.loads(p.model_dump_json()) for p in v]
                               for k, v in out.items()}))


@click.command(help="Write one kind of recorded row (fills, orders, market positions or event positions) "
                    "to CSV or JSONL.")
@_filters
@click.option("--what", type=click.Choice(["fills", "orders", "positions", "event_positions"]), default="fills",
              show_default=True, help="positions: market (margin) positions; event_positions: the event roll-ups.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
def export(config_path, store, user_id, account, product, ticker, event_ticker, subaccount, subtrader, min_ts, max_ts,
           what, fmt, output) -> None:
    from fixgw.models import rest

    if what == "event_positions" and product != "event":
        raise click.UsageError("event_positions exist for event contracts only (margin has positions)")
    shape = {("fills", "event"): rest.Fill, ("fills", "margin"): rest.MarginFill,
             ("orders", "event"): rest.Order, ("orders", "margin"): rest.MarginOrder,
             ("positions", "event"): rest.MarketPosition, ("positions", "margin"): rest.MarginPosition,
             ("event_positions", "event"): rest.EventPosition}[(what, product)]
    db, q = _query(config_path, store, account, product, user_id, ticker=ticker, event_ticker=event_ticker,
                   subaccount=subaccount, subtrader=subtrader, min_ts=min_ts, max_ts=max_ts)
    try:
        if what == "fills":
            items = q.fills()
        elif what == "orders":
            items = q.orders()
        else:
            pos = q.positions(whole=True)
            items = pos["event_positions" if what == "event_positions" else
                        "market_positions" if product == "event" else "positions"]
        n = _write(output, fmt, list(shape.model_fields), (json.loads(x.model_dump_json()) for x in items))
    finally:
        db.close()
    click.echo(f"wrote {n} {what} to {output}", err=True)


def _write(output: Path, fmt: str, columns: list[str], rows) -> int:
    """One row per line (JSONL) or a CSV whose header is every field of the shape, in the
    schema's order: an optional field a row leaves out is an empty cell, never a lost column."""
    n = 0
    with open(output, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns) if fmt == "csv" else None
        if writer is not None:
            writer.writeheader()
        for row in rows:
            if writer is None:
                f.write(json.dumps(row) + "\n")
            else:
                writer.writerow(row)
            n += 1
    return n


@click.command(help="Recorded settlements as REST JSON lines (like GET /portfolio/settlements), or a table.")
@_filters
@click.option("--table", is_flag=True)
def settlements(config_path, store, user_id, account, product, ticker, event_ticker, subaccount, subtrader, min_ts, max_ts,
                table) -> None:
    db, q = _query(config_path, store, account, product, ticker=ticker, event_ticker=event_ticker,
                   subaccount=subaccount, subtrader=subtrader, min_ts=min_ts, max_ts=max_ts)
    rows = [json.loads(s.model_dump_json()) for s in q.settlements()]
    db.close()
    _emit(rows, table, ["settled_time", "ticker", "market_result", "yes_count_fp", "no_count_fp", "revenue",
                        "fee_cost"])


@click.command(help="Balance from the recorded BALANCE/PAYOUT changes (like GET /portfolio/balance).")
@_filters
@click.option("--start", help="Starting balance in dollars (default: CONFIG's starting_balance).")
def balance(config_path, store, user_id, account, product, ticker, event_ticker, subaccount, subtrader, min_ts, max_ts,
            start) -> None:
    from decimal import Decimal, InvalidOperation

    db, q = _query(config_path, store, account, product, subtrader=subtrader)
    if start is None and config_path is not None:
        start = load(config_path).starting_balance
    try:
        start = Decimal(start) if start is not None else None
    except InvalidOperation:
        raise click.BadParameter(f"{start!r} is not an amount in dollars", param_hint="--start") from None
    bal, since = q.balance(start)
    db.close()
    if start is None:
        click.echo(f"fixgw balance: no starting balance given (--start or starting_balance): this is the change "
                   f"since {since.isoformat() if since else 'the first report (none stored)'}", err=True)
    click.echo(bal.model_dump_json())


@click.command("fcm-fills", help="FCM members: recorded fills across the sub-traders (like GET /fcm/fills).")
@_filters
@click.option("--table", is_flag=True)
def fcm_fills(config_path, store, user_id, account, product, ticker, event_ticker, subaccount, subtrader, min_ts, max_ts,
              table) -> None:
    db, q = _query(config_path, store, account, product, min_ts=min_ts, max_ts=max_ts)
    rows = [json.loads(f.model_dump_json()) for f in q.fcm_fills()]
    db.close()
    _emit(rows, table, ["created_time", "ticker", "taker_outcome_side", "count_fp", "yes_price_dollars",
                        "maker_subtrader_id", "taker_subtrader_id"])


def _emit(rows: list[dict], table: bool, columns: list[str]) -> None:
    if table:
        from fixgw.table import render
        click.echo(render(rows, columns))
    else:
        for row in rows:
            sys.stdout.write(json.dumps(row) + "\n")


@click.command(help="Rebuild the kept books (positions, balances, open orders) of the recorded reports up to "
                    "the watermark, from nothing: after an upgrade, or to check them. The recorder also "
                    "rebuilds them by itself at its next watermark move when they are missing or outdated.")
@click.option("--account")
@click.option("--product", type=click.Choice(["event", "margin"]), multiple=True,
              help="Default: both.")
@click.option("--store", help="sqlite:///path or postgresql://... instead of CONFIG's.")
@click.argument("config_path", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def rebuild(account, product, store, config_path) -> None:
    from fixgw.recorder.kept import rebuild as rebuild_kept

    db, config = _open(config_path, store)
    account = account or (config.recorder.account if config is not None else None) or "default"
    try:
        for name in product or ("event", "margin"):
            cp = rebuild_kept(db, account, name)
            click.echo(f"fixgw rebuild: {account}/{name}: " + (
                f"{cp.reports} reports up to {cp.exec_id} kept ({len(cp.state)} bytes)" if cp else
                "no watermark yet, nothing to keep (reads replay every report)"), err=True)
    finally:
        db.close()


COMMANDS = [record, fills, orders, positions, export, settlements, fcm_fills, balance, rebuild]
