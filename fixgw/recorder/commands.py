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
    return db, views.Query(db, account or default_account or "default", product, **filters)


@click.command(help="Recorded fills as REST JSON lines (like GET /portfolio/fills), or a table.")
@_filters
@click.option("--table", is_flag=True, help="A table for people instead of JSON lines.")
@click.option("--follow", "-f", is_flag=True, help="Keep running: print each new fill as the recorder "
              "stores it (another process may be recording), until SIGINT/SIGTERM.")
def fills(config_path, store, account, product, ticker, event_ticker, subaccount, min_ts, max_ts, table,
          follow) -> None:
    db, q = _query(config_path, store, account, product, ticker=ticker, event_ticker=event_ticker,
                   subaccount=subaccount, min_ts=min_ts, max_ts=max_ts)
    columns = ["created_time", "ticker", "outcome_side", "count_fp", "yes_price_dollars", "is_taker",
               "fee_cost"] if product == "event" else \
        ["created_time", "ticker", "side", "count", "price", "entry_price", "realized_pnl", "fees"]
    rows = [json.loads(f.model_dump_json()) for f in q.fills()]
    _emit(rows, table, columns)
    if follow:
        _follow(db, q, {r["fill_id"] for r in rows}, table, columns)
    db.close()


def _follow(db, q, seen: set[str], table: bool, columns: list[str]) -> None:
    """Poll the store's report count; when it moves, print the fills not printed yet, in ExecID order.

    Each change re-reads the account's reports (a backfill can fill holes below the newest
    ExecID, so "after the last one" would miss them): fine for a terminal, not a feed.
    """
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    sys.stdout.flush()
    count = db.count(q.account, q.product)
    while not stop.wait(0.2):
        now = db.count(q.account, q.product)
        if now == count:
            continue
        count = now
        new = [json.loads(f.model_dump_json()) for f in q.fills() if f.fill_id not in seen]
        seen.update(r["fill_id"] for r in new)
        if new:
            _emit(new, table, columns)
            sys.stdout.flush()


@click.command(help="Positions derived from the recorded reports (like GET /portfolio/positions).")
@_filters
@click.option("--table", is_flag=True)
def positions(config_path, store, account, product, ticker, event_ticker, subaccount, min_ts, max_ts, table) -> None:
    db, q = _query(config_path, store, account, product, ticker=ticker, event_ticker=event_ticker,
                   subaccount=subaccount, min_ts=min_ts, max_ts=max_ts)
    out = q.positions()
    db.close()
    if table:
        key = "market_positions" if product == "event" else "positions"
        _emit([json.loads(p.model_dump_json()) for p in out[key]], True,
              ["ticker", "position_fp", "market_exposure_dollars", "realized_pnl_dollars", "fees_paid_dollars"]
              if product == "event" else ["market_ticker", "position", "entry_price", "fees"])
    else:
        click.echo(json.dumps({k: [json.loads(p.model_dump_json()) for p in v] for k, v in out.items()}))


@click.command(help="Write recorded fills, orders or positions to CSV or JSONL.")
@_filters
@click.option("--what", type=click.Choice(["fills", "orders", "positions"]), default="fills", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
def export(config_path, store, account, product, ticker, event_ticker, subaccount, min_ts, max_ts, what, fmt,
           output) -> None:
    db, q = _query(config_path, store, account, product, ticker=ticker, event_ticker=event_ticker,
                   subaccount=subaccount, min_ts=min_ts, max_ts=max_ts)
    if what == "fills":
        rows = (json.loads(f.model_dump_json()) for f in q.fills())
    elif what == "orders":
        rows = (json.loads(o.model_dump_json()) for o in q.orders())
    else:
        pos = q.positions()
        rows = (json.loads(p.model_dump_json()) for v in pos.values() for p in v)
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


def _emit(rows: list[dict], table: bool, columns: list[str]) -> None:
    if table:
        from fixgw.table import render
        click.echo(render(rows, columns))
    else:
        for row in rows:
            sys.stdout.write(json.dumps(row) + "\n")


COMMANDS = [record, fills, positions, export]
