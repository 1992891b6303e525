"""Local API figures (``python -m bench.api [N]``; in ``make bench`` through bench/__main__.py).

* ``api_fills_page_p50_ms`` / ``_p99_ms`` (first page) and ``api_fills_deep_page_*`` (the page
  after a cursor near the store's end): ``GET /trade-api/v2/portfolio/fills?limit=1000`` (signed,
  over 127.0.0.1 with httpx, a real uvicorn server) on a SQLite store of N trade reports.
  Baseline: the bare SQL query of the same 1000 rows (``SELECT raw ... ORDER BY exchange_index,
  clock, event LIMIT 1000``, after the same key for the deep page), same run. ``*_cpu_ms``: the
  process's CPU time per request (the server, and the client in the same process; the 1000 fills
  of each answer are checked off the clock), against the bare query's: on a shared machine
  wall times grow with the others' load, CPU time does not.
* ``api_ws_latency_p50_ms`` / ``_p99_ms``: one report written durably to the store and the
  server's bell rung (what the recorder's writer does on each batch) until a WebSocket client
  subscribed to ``fill`` has the frame; the recorder's batching window (flush_ms) is not included.
  The server is the API server process ``fixgw serve`` runs (:class:`fixgw.api.worker.Worker`),
  following the store. Baseline: the durable store write alone.
* ``api_record_100_subscribers_reports_per_s``: the recorder's write path (store.put of 500-report
  batches, then the bell) while the server process folds every report and 100 WebSocket clients
  subscribed to every channel receive its frames; baseline: the same with no client attached.
  Ratio 1.0 = no slower. Alternating runs (3 each), medians. ``..._writer_cpu_us_per_report``: the
  writing thread's CPU time per report in the same runs: what the recording process itself does,
  free of the time it waits for a CPU (which on a shared machine is most of the wall-time noise).
* ``api_ws_frames_per_subscriber``: frames each of those subscribers had received (median) 10 s
  after the last batch, against the 3 per report the hub made (ws_buffer sized for the burst, so
  none is dropped for overflow). The 100 clients run in one other process (websockets, one event
  loop), as real clients would.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
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
from fixgw.api.serve import listen
from fixgw.api.stream import CHANNELS, Hub
from fixgw.api.worker import Worker
from fixgw.config import ApiConfig
from fixgw.pricing import Units
from fixgw.recorder.store import StoredReport, open_store
from fixgw.signing import Signer, generate_keypair, load_public_key

ACCOUNT = "bench"
PATH = "/trade-api/v2/portfolio/fills"


def _quantiles(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    return statistics.median(s), s[min(len(s) - 1, int(len(s) * 0.99))]


def _server(app) -> tuple[uvicorn.Server, int]:
    sock = listen("127.0.0.1", 0)  # as fixgw serve listens
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", ws="websockets-sansio",
                                           ws_per_message_deflate=False))  # as fixgw.api.serve runs it
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, sock.getsockname()[1]


def _stored(raws: list[str], start: int, n: int, now) -> list[StoredReport]:
    """``n`` reports from the sample, under fresh ExecIDs from ``start``."""
    out = []
    for i in range(start, start + n):
        raw = raws[i % len(raws)]
        old = raw.partition("\x0117=")[2].split("\x01", 1)[0]
        out.append(StoredReport.from_raw(ACCOUNT, "event", raw.replace(f"\x0117={old}\x01",
                                         f"\x0117={1000 + i};{5000 + i}\x01"), now, Units.CENTS))
    return out


class Env:
    def __init__(self, tmp: Path, name: str, ws_buffer: int = 10_000):
        self.url = f"sqlite:///{tmp / name}"
        self.path = tmp / name
        self.store = open_store(self.url)
        priv, pub = generate_keypair(tmp / f"{name}.pem")
        self.signer = Signer.from_file(priv)
        self.hub = Hub(self.store, ACCOUNT, limit=ws_buffer).start()
        self.hub.wait_primed()
        self.app = appmod.build(Source(self.store, ACCOUNT), Verifier({"k": load_public_key(pub)}), self.hub)
        self.server, self.port = _server(self.app)

    def ws_url(self) -> tuple[str, dict]:
        return f"ws://127.0.0.1:{self.port}{appmod.WS_PATH}", auth.headers(self.signer, "k", "GET", appmod.WS_PATH)

    def close(self) -> None:
        self.server.should_exit = True
        self.hub.stop()
        self.store.close()


class Served:
    """A store written by this process (the recorder's part) and the API server process following
    it, as ``fixgw serve`` runs them: :meth:`put` is what the recorder's writer does per batch."""

    def __init__(self, tmp: Path, name: str, ws_buffer: int = 10_000):
        self.url = f"sqlite:///{tmp / name}"
        self.store = open_store(self.url)
        priv, pub = generate_keypair(tmp / f"{name}.pem")
        self.signer = Signer.from_file(priv)
        sock = listen("127.0.0.1", 0)  # as fixgw serve listens
        self.port = sock.getsockname()[1]
        self.worker = Worker(dict(url=self.url, account=ACCOUNT, user_id="", party_id=None, starting_balance=None,
                                  profile="default", keys={"k": str(pub)}, max_skew_s=300, ws_buffer=ws_buffer,
                                  nice=ApiConfig().nice),
                             sock).start()

    def put(self, batch: list[StoredReport]) -> None:
        self.store.put(batch)
        self.worker.bell.ring()

    def backlog(self) -> int:
        """The server's fixgw_ws_backlog (stored reports not yet turned into frames)."""
        text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", trust_env=False, timeout=120).text
        return int(float(next(line for line in text.splitlines() if line.startswith("fixgw_ws_backlog ")).split()[1]))

    ws_url = Env.ws_url

    def close(self) -> None:
        self.worker.stop()
        self.store.close()


def fills_pages(tmp: Path, n: int, requests: int):
    now = dt.datetime.now(dt.timezone.utc)
    raws = sample_reports(min(n, 20_000))
    store = open_store(f"sqlite:///{tmp / 'api.db'}")
    for start in range(0, n, 10_000):
        store.put(_stored(raws, start, min(10_000, n - start), now))
    store.close()
    env = Env(tmp, "api.db")
    db = sqlite3.connect(env.path)
    last = db.execute("SELECT exchange_index, clock, event FROM reports ORDER BY exchange_index, clock, event "
                      "LIMIT 1 OFFSET ?", (max(0, n - 1500),)).fetchone()
    from fixgw.api.fillpage import key_cursor
    for name, cursor, after in (("api_fills_page", None, None), ("api_fills_deep_page", key_cursor(last), last)):
        ours, answers = [], []
        cpu = time.process_time()
        with httpx.Client(trust_env=False) as http:
            for _ in range(requests):
                t = time.perf_counter()
                r = http.get(f"http://127.0.0.1:{env.port}{PATH}", params={"limit": 1000, **(
                    {"cursor": cursor} if cursor else {})}, headers=auth.headers(env.signer, "k", "GET", PATH))
                ours.append((time.perf_counter() - t) * 1000)
                answers.append(r)
        ours_cpu = (time.process_time() - cpu) * 1000 / requests
        for r in answers:  # checked off the clock
            assert r.status_code == 200 and len(r.json()["fills"]) == 1000, r.text[:200]
        bare, cpu = [], time.process_time()
        where = "" if after is None else "AND (exchange_index, clock, event) > (?, ?, ?) "
        for _ in range(requests):
            t = time.perf_counter()
            rows = db.execute("SELECT raw FROM reports WHERE account = ? AND product = 'event' " + where +
                              "ORDER BY exchange_index, clock, event LIMIT 1000", (ACCOUNT, *(after or ()))).fetchall()
            bare.append((time.perf_counter() - t) * 1000)
            assert len(rows) == 1000
        bare_cpu = (time.process_time() - cpu) * 1000 / requests
        (o50, o99), (b50, b99) = _quantiles(ours), _quantiles(bare)
        yield f"{name}_p50_ms_{n}", o50, "ms", b50, o50 / b50
        yield f"{name}_p99_ms_{n}", o99, "ms", b99, o99 / b99
        yield f"{name}_cpu_ms_{n}", ours_cpu, "ms", bare_cpu, ours_cpu / bare_cpu
    db.close()
    env.close()


async def _subscribers(url: str, headers: dict, count: int, channels: list[str], got: list[int],
                       arrivals: list | None, ready: threading.Event, stop: asyncio.Event) -> None:
    """``count`` WebSocket clients subscribed to ``channels``; ``got[i]`` counts client i's frames,
    ``arrivals`` (client 0) gets each frame's arrival time."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    subscribed: list[int] = []

    async def one(i: int) -> None:
        try:
            await session(i)
        except ConnectionClosed:  # dropped by the server (buffer overflow) or cut off at the end
            return

    async def session(i: int) -> None:
        async with connect(url, additional_headers=headers, max_queue=None, ping_interval=None) as ws:
            await ws.send(json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": channels}}))
            for _ in channels:
                await ws.recv()
            subscribed.append(i)
            if len(subscribed) == count:
                ready.set()
            while not stop.is_set():
                try:
                    await asyncio.wait_for(ws.recv(), 0.2)
                except asyncio.TimeoutError:
                    continue
                got[i] += 1
                if i == 0 and arrivals is not None:
                    arrivals.append(time.perf_counter())
    await asyncio.gather(*(one(i) for i in range(count)), return_exceptions=True)


def _attach(env: Env, count: int, channels: list[str], arrivals: list | None = None):
    """``count`` subscribers on a thread of this process (``arrivals``: client 0's frame times)."""
    got = [0] * count
    ready, loop = threading.Event(), asyncio.new_event_loop()
    stop = asyncio.Event()
    url, headers = env.ws_url()
    thread = threading.Thread(target=loop.run_until_complete, daemon=True,
                              args=(_subscribers(url, headers, count, channels, got, arrivals, ready, stop),))
    thread.start()
    if not ready.wait(60):
        raise RuntimeError(f"{count} WebSocket subscribers did not connect")

    def detach() -> None:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
    return got, detach


def _client_process(url: str, headers: dict, count: int, channels: list[str], ready, stop, out) -> None:
    """A separate process of ``count`` subscribers (as real clients are): runs until ``stop``, then
    puts every client's frame count on ``out``."""
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    got = [0] * count

    async def main() -> None:
        done, up = asyncio.Event(), threading.Event()
        clients = asyncio.ensure_future(_subscribers(url, headers, count, channels, got, None, up, done))
        while not up.is_set():
            await asyncio.sleep(0.05)
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        done.set()
        await clients
    asyncio.run(main())
    out.put(got)


def _attach_process(env: Env, count: int, channels: list[str]):
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    ready, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
    url, headers = env.ws_url()
    proc = ctx.Process(target=_client_process, args=(url, headers, count, channels, ready, stop, out), daemon=True)
    proc.start()
    if not ready.wait(120):
        proc.kill()
        raise RuntimeError(f"{count} WebSocket subscribers did not connect")

    def detach() -> list[int]:
        stop.set()
        got = out.get(timeout=60)
        proc.join(30)
        return got
    return detach


def ws_latency(tmp: Path, samples: int):
    env = Served(tmp, "ws.db")
    arrivals: list = []
    _, detach = _attach(env, 1, ["fill"], arrivals)
    now = dt.datetime.now(dt.timezone.utc)
    reports = [[r] for r in _fresh(sample_reports(samples), now)]
    ours, bare = [], []
    for batch in reports:
        before = len(arrivals)
        t = time.perf_counter()
        env.store.put(batch)
        stored = time.perf_counter()
        env.worker.bell.ring()
        while len(arrivals) == before:
            time.sleep(0.0002)
        ours.append((arrivals[-1] - t) * 1000)
        bare.append((stored - t) * 1000)
        time.sleep(0.005)
    detach()
    env.close()
    (o50, o99), (b50, b99) = _quantiles(ours), _quantiles(bare)
    yield "api_ws_latency_p50_ms", o50, "ms", b50, o50 / b50
    yield "api_ws_latency_p99_ms", o99, "ms", b99, o99 / b99


def _fresh(raws: list[str], now) -> list[StoredReport]:
    return [StoredReport.from_raw(ACCOUNT, "event", raw, now, Units.CENTS) for raw in raws]


def recording(tmp: Path, n: int, subscribers: int = 100, rounds: int = 3):
    """Alternating runs with and without subscribers (fresh reports each), medians of each."""
    now = dt.datetime.now(dt.timezone.utc)
    raws = sample_reports(2 * rounds * n)
    rates: dict[int, list[float]] = {0: [], subscribers: []}
    cpu: dict[int, list[float]] = {0: [], subscribers: []}  # the writer thread's CPU us per report
    delivered: list[float] = []
    for k in range(2 * rounds):
        count = subscribers if k % 2 else 0
        part = _fresh(raws[k * n:(k + 1) * n], now)
        env = Served(tmp, f"rec-{k}.db", ws_buffer=4 * n)  # [api] ws_buffer: room for the whole burst
        detach = _attach_process(env, count, list(CHANNELS)) if count else None
        t, c = time.perf_counter(), time.thread_time()
        for i in range(0, len(part), 500):
            env.put(part[i:i + 500])
        rates[count].append(len(part) / (time.perf_counter() - t))
        cpu[count].append((time.thread_time() - c) * 1e6 / len(part))
        while env.backlog():  # every frame made before the next run starts
            time.sleep(0.01)
        if detach is not None:
            time.sleep(10)  # delivery time, off the clock
            got = detach()
            delivered.append(sum(got) / len(got))
        env.close()
    ours, base = statistics.median(rates[subscribers]), statistics.median(rates[0])
    yield f"api_record_{subscribers}_subscribers_reports_per_s", ours, "reports/s", base, ours / base
    ours, base = statistics.median(cpu[subscribers]), statistics.median(cpu[0])
    yield f"api_record_{subscribers}_subscribers_writer_cpu_us_per_report", ours, "us", base, ours / base
    # frames a subscriber received (user_order, fill, market_position per report) against those made
    frames = statistics.median(delivered)
    yield "api_ws_frames_per_subscriber", frames, "frames", 3 * n, frames / (3 * n)


def run(n: int = 1_000_000, requests: int = 50, ws_samples: int = 300, record_n: int = 5_000):
    tmp = Path(tempfile.mkdtemp(prefix="fixgw-bench-api-"))
    yield from fills_pages(tmp, n, requests)
    yield from ws_latency(tmp, ws_samples)
    yield from recording(tmp, record_n)


def main() -> int:
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # clients cut off at the end of a run
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    for name, value, unit, baseline, ratio in run(n):
        print(json.dumps({"name": name, "value": round(value, 2), "unit": unit, "baseline": round(baseline, 3),
                          "ratio": round(ratio, 2)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
