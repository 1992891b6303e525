"""Click commands of the local API: ``fixgw serve`` and ``fixgw reconcile``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from fixgw.api.serve import serve
from fixgw.errors import ConfigError, FixgwError


@click.command(help="Compare the recorder's fills and positions with Kalshi's REST answers for the "
                    "account's [rest] key; print each break and exit 1 when there is one (2: could not compare).")
@click.argument("config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--store", help="Override [recorder] store (sqlite:///path or postgresql://...).")
@click.option("--min-ts", type=int, help="Compare fills from this Unix second on (the recorder started later).")
def reconcile(config_path: Path, store: str | None, min_ts: int | None) -> None:
    import httpx

    from fixgw.api.reconcile import Kalshi, compare_fills, compare_positions
    from fixgw.config import load
    from fixgw.recorder import views
    from fixgw.recorder.commands import store_url
    from fixgw.recorder.store import open_store
    from fixgw.signing import Signer

    config = load(config_path)
    rc = config.rest
    if rc is None:
        raise ConfigError(f"{config_path}: no [rest] table; reconcile needs the account's Kalshi REST key "
                          "(base_url, api_key_id, private_key)")
    db = open_store(store_url(config, store))
    try:
        q = views.Query(db, config.recorder.account, "event", subaccount=rc.subaccount, min_ts=min_ts)
        ours = [json.loads(f.model_dump_json()) for f in q.fills()]
        our_pos = [json.loads(p.model_dump_json()) for p in q.positions()["market_positions"]]
    finally:
        db.close()
    kalshi = Kalshi(rc.base_url, rc.api_key_id, Signer.from_file(rc.private_key))
    try:
        theirs, _ = kalshi.walk("/portfolio/fills", "fills", subaccount=rc.subaccount, min_ts=min_ts)
        their_pos, _ = kalshi.walk("/portfolio/positions", "market_positions", subaccount=rc.subaccount)
    except httpx.HTTPError as e:
        raise FixgwError(f"reconcile: {e}") from None
    finally:
        kalshi.close()
    breaks = compare_fills(ours, theirs) + compare_positions(our_pos, their_pos)
    for b in breaks:
        click.echo(str(b))
    click.echo(f"reconcile: account {config.recorder.account}: {len(ours)} fills recorded, {len(theirs)} at "
               f"Kalshi; {len(our_pos)} positions recorded, {len(their_pos)} at Kalshi; "
               f"{len(breaks)} break{'s' if len(breaks) != 1 else ''}")
    sys.exit(1 if breaks else 0)


COMMANDS = [serve, reconcile]
