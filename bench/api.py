"""Local API figures (``python -m bench.api [N]``; not part of ``make bench``'s default run).

Where the time goes (cProfile, 1000 fills): decoding the stored FIX text
(:func:`fixgw.fields.decode_raw`, about 60%), the REST models' serialisation
(about 20%), the store's page reads (about 15%); the bare query only fetches text.
A cursor's page k re-reads the k-1 pages before it (offset cursors over the views).

* ``api_fills_page_p50_ms`` / ``_p99_ms``: ``GET /trade-api/v2/portfolio/fills?limit=1000``
  (signed, over 127.0.0.1 with httpx, a real uvicorn server) on a SQLite store of N
  trade reports. Baseline: the bare SQL query of the same 1000 rows
  (``SELECT raw ... ORDER BY exchange_index, clock, event LIMIT 1000``), same run.

Not measured here (not done): ER arrival -> WebSocket latency, and recording throughput with
100 subscribers attached.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from bench.translation import sample_reports
from fixgw.api import app as appmod, auth
from fixgw.api.auth import Verifier
from fixgw.api.rest import Source
from fixgw.api.stream import Hub
from fixgw.pricing import Units
from fixgw.recorder.store import StoredReport, open_store
from fixgw.signing import Signer, generate_keypair, load_public_key

ACCOUNT = "bench"


def _quantiles(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    return statistics.median(s), s[min(len(s) - 1, int(len(s) * 0.99))]


def _server(app) -> tuple[uvicorn.Server, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", ws="websockets-sansio"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, sock.getsockname()[1]


def run(n: int = 1_000_000, requests: int = 50):
    tmp = Path(tempfile.mkdtemp(prefix="fixgw-bench-api-"))
    url = f"sqlite:///{tmp / 'api.db'}"
    store = open_store(url)
    now = dt.datetime.now(dt.timezone.utc)
    raws = sample_reports(min(n, 20_000))
    for start in range(0, n, 10_000):  # the sample repeated under fresh ExecIDs
        batch = []
        for i in range(start, min(n, start + 10_000)):
            raw = raws[i % len(raws)]
            head, _, rest = raw.partition("\x0117=")
            old = rest.split("\x01", 1)[0]
            batch.append(StoredReport.from_raw(ACCOUNT, "event", raw.replace(f"\x0117={old}\x01",
                                               f"\x0117={1000 + i};{5000 + i}\x01"), now, Units.CENTS))
        store.put(batch)
    priv, pub = generate_keypair(tmp / "k.pem")
    signer = Signer.from_file(priv)
    hub = Hub(None, ACCOUNT)
    hub.start()
    app = appmod.build(Source(store, ACCOUNT), Verifier({"k": load_public_key(pub)}), hub)
    server, port = _server(app)
    path = "/trade-api/v2/portfolio/fills"
    ours = []
    with httpx.Client(trust_env=False) as http:
        for _ in range(requests):
            t = time.perf_counter()
            r = http.get(f"http://127.0.0.1:{port}{path}", params={"limit": 1000},
                         headers=auth.headers(signer, "k", "GET", path))
            ours.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200 and len(r.json()["fills"]) == 1000, r.text[:200]
    bare, db = [], sqlite3.connect(tmp / "api.db")
    for _ in range(requests):
        t = time.perf_counter()
        rows = db.execute("SELECT raw FROM reports WHERE account = ? AND product = 'event' "
                          "ORDER BY exchange_index, clock, event LIMIT 1000", (ACCOUNT,)).fetchall()
        bare.append((time.perf_counter() - t) * 1000)
        assert len(rows) == 1000
    db.close()
    (o50, o99), (b50, b99) = _quantiles(ours), _quantiles(bare)
    yield f"api_fills_page_p50_ms_{n}", o50, "ms", b50, o50 / b50
    yield f"api_fills_page_p99_ms_{n}", o99, "ms", b99, o99 / b99
    server.should_exit = True
    hub.stop()
    store.close()


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    for name, value, unit, baseline, ratio in run(n):
        print(json.dumps({"name": name, "value": round(value, 2), "unit": unit, "baseline": round(baseline, 3),
                          "ratio": round(ratio, 1)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
