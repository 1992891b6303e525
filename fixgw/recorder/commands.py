"""``fixgw record``, ``fills``, ``positions``, ``export``: click commands for the drop copy."""

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
    return open_store(url), (config.recorder.account if config is not None else None)


@click.command(help="Record the drop copy (listener + KalshiDC sessions of CONFIG) until SIGTERM/SIGINT.")
@click.argument("config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--store", help="Override [recorder] store (sqlite:///path or postgresql://...).")
def record(config_path: Path, store: str | None) -> None:
    from fixgw.recorder.service import Recorder
    from fixgw.recorder.store import open_store

    config = load(config_path)
    rc = config.recorder
    db = open_store(store_url(config, store))
    recorder = Recorder(config, db, account=rc.account, batch=rc.batch, flush_s=rc.flush_ms / 1000,
                        page_clocks=rc.page_clocks)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    recorder.start()
    click.echo(f"fixgw record: account {rc.account} -> {store_url(config, store).split('?')[0]}", err=True)
    stop.wait()
    recorder.stop()
    db.close()
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
                click.argument("config_path", required=False,
                               type=click.Path(exists=True, dir_okay=False, path_type=Path))):
        f = opt(f)
    return f


def _query(config_path, store, account, product, **filters):
    from fixgw.recorder import views

    db, default_account = _open(config_path, store)
    party = load(config_path).party_id if config_path is not None else None
    return db, views.Query(db, account or default_account or "default", product, party_id=party, **filters)


@click.command(help="Recorded fills as REST JSON lines (like GET /portfolio/fills), or a table.")
@_filters
@click.option("--table", is_flag=True, help="A table for people instead of JSON lines.")
@click.option("--limit", type=click.IntRange(1), help="One page of this many fills (in ExecID order); "
              "the next page's cursor goes to stderr.")
@click.option("--cursor", help="Fills after this ExecID (the cursor a page printed).")
def fills(config_path, store, account, product, ticker, event_ticker, subaccount, subtrader, min_ts, max_ts,
          table, limit, cursor) -> None:
    db, q = _query(config_path, store, account, product, ticker=ticker, event_ticker=event_ticker,
                   subaccount=subaccount, subtrader=subtrader, min_ts=min_ts, max_ts=max_ts,
                   limit=limit, cursor=cursor)
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
    db.close()
    _emit(rows, table, ["created_time", "ticker", "outcome_side", "count_fp", "yes_price_dollars", "is_taker",
                        "fee_cost"] if product == "event" else
          ["created_time", "ticker", "side", "count", "price", "entry_price", "realized_pnl", "fees"])


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
def positions(config_path, store, account, product, ticker, event_ticker, subaccount, subtrader, min_ts, max_ts,
              settlement_status, count_filter, limit, cursor, profile, table) -> None:
    db, q = _query(config_path, store, account, product, ticker=ticker, event_ticker=event_ticker,
                   subaccount=subaccount, subtrader=subtrader, min_ts=min_ts, max_ts=max_ts,
                   settlement_status=settlement_status, count_filter=count_filter, limit=limit, cursor=cursor)
    if profile is None and config_path is not None:
        profile = load(config_path).profile
    if product == "event" and not table:
        click.echo(json.dumps(q.positions_json(profile)))
        db.close()
        return
    out = q.positions()
    db.close()
    if table:
        key = "market_positions" if product == "event" else "positions"
        _emit([json.loads(p.model_dump_json()) for p in out[key]], True,
              ["ticker", "position_fp", "market_exposure_dollars", "realized_pnl_dollars", "fees_paid_dollars"]
              if product == "event" else ["market_ticker", "position", "entry_price", "fees"])
    else:
        click.echo(json.dumps({k: v if isinstance(v, str) else [json.loads(p.model_dump_json()) for p in v]
                               for k, v in out.items()}))


@click.command(help="Write recorded fills, orders or positions to CSV or JSONL.")
@_filters
@click.option("--what", type=click.Choice(["fills", "orders", "positions"]), default="fills", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
def export(config_path, store, account, product, ticker, event_ticker, subaccount, subtrader, min_ts, max_ts, what,
           fmt, output) -> None:
    db, q = _query(config_path, store, account, product, ticker=ticker, event_ticker=event_ticker,
                   subaccount=subaccount, subtrader=subtrader, min_ts=min_ts, max_ts=max_ts)
    if what == "fills":
        rows = (json.loads(f.model_dump_json()) for f in q.fills())
    elif what == "orders":
        rows = (json.loads(o.model_dump_json()) for o in q.orders())
    else:
        pos = q.positions()
        rows = (json.loads(p.model_dump_json()) for v in pos.values() if not isinstance(v, str) for p in v)
    n = 0
    with open(output, "w", newline="") as f:
        writer = None
        for row in rows:
            if fmt == "jsonl":
                f.write(json.dumps(row) + "\n")
            else:
                if writer is None:
                    writer = csv.DictWriter(f, fieldnames=list(row), extrasaction="ignore")
                    writer.writeheader()
                writer.writerow(row)
            n += 1
    db.close()
    click.echo(f"wrote {n} {what} to {output}", err=True)


@click.command(help="Recorded settlements as REST JSON lines (like GET /portfolio/settlements), or a table.")
@_filters
@click.option("--table", is_flag=True)
def settlements(config_path, store, account, product, ticker, event_ticker, subaccount, subtrader, min_ts, max_ts,
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
def balance(config_path, store, account, product, ticker, event_ticker, subaccount, subtrader, min_ts, max_ts,
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
def fcm_fills(config_path, store, account, product, ticker, event_ticker, subaccount, subtrader, min_ts, max_ts,
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

    db, default_account = _open(config_path, store)
    account = account or default_account or "default"
    try:
        for name in product or ("event", "margin"):
            cp = rebuild_kept(db, account, name)
            click.echo(f"fixgw rebuild: {account}/{name}: " + (
                f"{cp.reports} reports up to {cp.exec_id} kept ({len(cp.state)} bytes)" if cp else
                "no watermark yet, nothing to keep (reads replay every report)"), err=True)
    finally:
        db.close()


COMMANDS = [record, fills, positions, export, settlements, fcm_fills, balance, rebuild]
