"""Kalshi's WebSocket channels fed by the recorder (pure core: no web framework, no QuickFIX).

The recorder's writer thread hands every stored batch to :meth:`Hub.on_stored`,
which only appends it to a queue: recording never waits for a subscriber.
The hub's own thread decodes the reports, folds them through the same core
code as the REST views (:class:`fixgw.translate.Orders`,
:class:`fixgw.positions.Ledger`, started from the store's contents so
positions are cumulative), and hands each frame to the subscribed clients on
their event loop. A report the store already had (a replay) folds to nothing
and sends nothing, so each fill goes out once.

Commands and envelopes are Kalshi's: ``{"id", "cmd": "subscribe", "params":
{"channels": [...], "market_ticker(s)": ...}}`` answered by ``{"id", "type":
"subscribed", "msg": {"channel", "sid"}}``; ``unsubscribe`` with ``params.sids``;
data frames ``{"type", "sid", "seq", "msg"}`` with ``seq`` counting 1, 2, 3 ...
per subscription. A client whose buffer holds ``limit`` frames it has not taken
is sent error 25 (subscription buffer overflow) and closed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
from collections import deque
from typing import Iterable

from fixgw import fields, translate
from fixgw.events import post_position_of
from fixgw.models.fix import ExecType, ExecutionReport
from fixgw.models.ws import FillUpdate, UserOrder
from fixgw.positions import Ledger
from fixgw.recorder.store import Store, StoredReport
from fixgw.recorder.views import units_of

log = logging.getLogger("fixgw.api")

CHANNELS = {"fill": "fill", "user_orders": "user_order", "market_positions": "market_position"}
# Kalshi's WebSocket error codes (the ones this server can give)
UNABLE, PARAMS, NEED_CHANNELS, NEED_SIDS, UNKNOWN_CMD, UNKNOWN_SID, UNKNOWN_CHANNEL, OVERFLOW = \
    1, 2, 3, 4, 5, 7, 8, 25
_STOP = object()


def fill_msg(er: ExecutionReport, fill, position) -> dict:
    """The ``fill`` channel's msg: the gateway's own WebSocket model (:mod:`fixgw.models.ws`)."""
    post = post_position_of(er, position.position_fp)
    return FillUpdate.from_fill(fill, post, client_order_id=er.cl_ord_id).model_dump(mode="json")


def order_msg(order) -> dict:
    """The ``user_orders`` channel's msg (:class:`fixgw.models.ws.UserOrder`)."""
    return UserOrder.from_order(order).model_dump(mode="json")


class Client:
    """One WebSocket connection's subscriptions and outgoing buffer (lives on its event loop)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int):
        self.loop, self.limit = loop, limit
        self.subs: dict[int, tuple[str, frozenset[str]]] = {}  # sid -> (channel, market tickers)
        self.seq: dict[int, int] = {}
        self.out: deque[str] = deque()
        self.ready = asyncio.Event()
        self.closed: str | None = None  # why the connection is to be closed

    def push(self, frame: dict) -> None:
        self.out.append(json.dumps(frame))
        self.ready.set()

    def offer(self, channel: str, ticker: str, msg: dict) -> None:
        """Loop thread: queue ``msg`` for every matching subscription, or give up on the client."""
        if self.closed is not None:
            return
        for sid, (ch, tickers) in list(self.subs.items()):
            if ch != channel or (tickers and ticker not in tickers):
                continue
            if len(self.out) >= self.limit:
                self.out.clear()
                self.push({"id": 0, "type": "error", "msg": {
                    "code": OVERFLOW, "msg": f"subscription buffer overflow: {self.limit} frames not read; "
                                             "closing the connection"}})
                self.closed = "overflow"
                return
            self.seq[sid] = self.seq.get(sid, 0) + 1
            self.push({"type": CHANNELS[channel], "sid": sid, "seq": self.seq[sid], "msg": msg})


class Hub:
    """Every connected client, and the thread that turns stored reports into frames."""

    def __init__(self, store: Store | None, account: str, *, limit: int = 10_000, user_id: str = ""):
        self.store, self.account, self.limit = store, account, limit
        self.orders = translate.Orders(user_id=user_id)
        self.ledger = Ledger(user_id=user_id)
        self._clients: set[Client] = set()
        self._lock = threading.Lock()
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._next_sid = 0
        self.backlog = 0  # reports handed over and not yet turned into frames
        self._thread = threading.Thread(target=self._run, name="api-hub", daemon=True)
        self._primed = threading.Event()

    # -- the recorder side ------------------------------------------------
    def on_stored(self, reports: list[StoredReport]) -> None:
        """The recorder's writer thread, after a batch is durable: O(1), never blocks."""
        self.backlog += len(reports)
        self._q.put(reports)

    def start(self) -> "Hub":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._q.put(_STOP)
        self._thread.join(10)

    def wait_primed(self, timeout: float | None = None) -> bool:
        return self._primed.wait(timeout)

    def _run(self) -> None:
        if self.store is not None:  # what was stored before: state only, no frames
            for r in self.store.reports(self.account, "event"):
                self._fold(r, publish=False)
        self._primed.set()
        while True:
            batch = self._q.get()
            if batch is _STOP:
                return
            for r in batch:
                try:
                    self._fold(r, publish=True)
                except Exception:  # noqa: BLE001 - one bad report must not end the stream
                    log.exception("api hub: report %s could not be turned into frames", r.exec_id)
            self.backlog -= len(batch)

    def _fold(self, r: StoredReport, *, publish: bool) -> None:
        if r.account != self.account or r.product != "event":
            return
        er = fields.decode_raw(r.raw, units_of(r.raw, "event"))
        frames: list[tuple[str, dict]] = []
        if er.exec_type is ExecType.TRADE:
            fill = translate.fill_from_report(er)
            position = self.ledger.add(fill)
            if position is None:  # seen before: a replayed report
                return
            frames.append(("fill", fill_msg(er, fill, position)))
            frames.append(("market_positions", position.model_dump(mode="json")))
        before = self.orders.get(er.order_id)
        order = self.orders.apply(er)
        if order != before or er.exec_type is ExecType.TRADE:  # a replayed report changes nothing
            frames.insert(0, ("user_orders", order_msg(order)))
        if publish:
            self.publish(er.symbol, frames)

    def publish(self, ticker: str, frames: Iterable[tuple[str, dict]]) -> None:
        frames = list(frames)
        with self._lock:
            clients = list(self._clients)
        for c in clients:
            for channel, msg in frames:
                c.loop.call_soon_threadsafe(c.offer, channel, ticker, msg)

    # -- the client side (event loop) ---------------------------------------
    def attach(self, loop: asyncio.AbstractEventLoop) -> Client:
        c = Client(loop, self.limit)
        with self._lock:
            self._clients.add(c)
        return c

    def detach(self, c: Client) -> None:
        with self._lock:
            self._clients.discard(c)

    @property
    def clients(self) -> int:
        with self._lock:
            return len(self._clients)

    def command(self, c: Client, text: str) -> None:
        """One client command; answers go to the client's buffer."""
        try:
            cmd = json.loads(text)
            if not isinstance(cmd, dict):
                raise ValueError
        except ValueError:
            c.push({"id": 0, "type": "error", "msg": {"code": UNABLE, "msg": "command is not a JSON object"}})
            return
        ident = cmd.get("id", 0)
        params = cmd.get("params")

        def error(code: int, text: str) -> None:
            c.push({"id": ident, "type": "error", "msg": {"code": code, "msg": text}})

        name = cmd.get("cmd")
        if name not in ("subscribe", "unsubscribe", "list_subscriptions"):
            return error(UNKNOWN_CMD, f"unknown command {name!r}; known: subscribe, unsubscribe, "
                                      "list_subscriptions")
        if name == "list_subscriptions":
            c.push({"id": ident, "type": "ok", "msg": [
                {"channel": ch, "sid": sid} for sid, (ch, _) in sorted(c.subs.items())]})
            return None
        if not isinstance(params, dict):
            return error(PARAMS, "params required")
        if name == "subscribe":
            channels = params.get("channels")
            if not channels or not isinstance(channels, list):
                return error(NEED_CHANNELS, "params.channels required")
            for ch in channels:
                if ch not in CHANNELS:
                    return error(UNKNOWN_CHANNEL, f"unknown channel {ch!r}; this server has "
                                                  f"{', '.join(CHANNELS)}")
            tickers = params.get("market_tickers") or ([params["market_ticker"]]
                                                       if params.get("market_ticker") else [])
            for ch in channels:
                with self._lock:
                    self._next_sid += 1
                    sid = self._next_sid
                c.subs[sid] = (ch, frozenset(tickers))
                c.push({"id": ident, "type": "subscribed", "msg": {"channel": ch, "sid": sid}})
            return None
        sids = params.get("sids")
        if not sids or not isinstance(sids, list):
            return error(NEED_SIDS, "params.sids required")
        for sid in sids:
            if sid not in c.subs:
                return error(UNKNOWN_SID, f"unknown subscription id {sid!r}")
        for sid in sids:
            del c.subs[sid]
            c.push({"id": ident, "sid": sid, "seq": c.seq.pop(sid, 0), "type": "unsubscribed"})
        return None

