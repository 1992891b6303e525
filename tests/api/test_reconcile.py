"""Acceptance: `fixgw reconcile` against the simulator's REST endpoints (its own ledger, signed).

Clean books exit 0; one trade report removed from a copy of the store is found
as a missing fill and a position difference on that ticker, exit 1.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys

from apiharness import ENV, EV2, http


def reconcile_config(served) -> str:
    key, sim = served["rest_key"], served["sim"]
    cfg = served["root"] / "reconcile.toml"
    cfg.write_text(served["cfg"].read_text() + f"""
[rest]
base_url = "{sim.rest_url}"
api_key_id = "{key.api_key_id}"
private_key = "{key.private_key}"
""")
    return str(cfg)


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fixgw", "reconcile", *args], capture_output=True, text=True,
                          timeout=120, env=ENV)


def test_simulator_rest_is_signed(served):
    r = http.get(served["sim"].rest_url + "/portfolio/fills")
    assert r.status_code == 401 and r.json()["error"]["code"] == "missing_parameters"


def test_clean_books_then_an_injected_break(served):
    cfg = reconcile_config(served)
    clean = run(cfg)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.strip().endswith("0 breaks"), clean.stdout
    assert "BREAK" not in clean.stdout
    # a copy of the store without alice's fill on EV2
    broken = served["root"] / "broken.db"
    with sqlite3.connect(served["root"] / "dropcopy.db") as src, sqlite3.connect(broken) as dst:
        src.backup(dst)
    with sqlite3.connect(broken) as db:
        gone = db.execute("DELETE FROM reports WHERE symbol = ? AND raw LIKE ?",
                          (EV2, "%\x01150=F\x01%")).rowcount
        # the kept books may already hold that fill (when the watermark moved past it before the
        # copy): a report deleted beneath them needs them dropped, or reads would still count it
        db.execute("DELETE FROM kept")
    assert gone == 1
    out = run(cfg, "--store", f"sqlite:///{broken}")
    assert out.returncode == 1, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    breaks = [line for line in lines if line.startswith("BREAK")]
    assert len(breaks) == 2, out.stdout
    assert breaks[0].startswith(f"BREAK fill {EV2}: fill ") and "is at Kalshi, not in the recorder" in breaks[0]
    assert breaks[1].startswith(f"BREAK position {EV2}: ") and breaks[1].endswith("only Kalshi has it (position 2.00)")
    assert lines[-1].endswith("2 breaks")


def test_unreachable_exchange_is_an_error_not_a_clean_result(served, tmp_path):
    cfg = reconcile_config(served)
    text = open(cfg).read().replace(served["sim"].rest_url, "http://127.0.0.1:9/trade-api/v2")
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    out = run(str(bad))
    assert out.returncode == 2 and "reconcile:" in out.stderr, out.stderr
