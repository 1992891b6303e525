"""Kalshi's WebSocket channels fed by the recorder (pure core: no web framework, no QuickFIX).

The hub follows the store, not the recorder: its thread reads the account's
reports in the order they were stored (:meth:`Store.tail`, after the last one it
folded), woken by a :class:`~fixgw.api.bell.Bell` the recorder's writer rings
after each durable batch (or every ``poll_s`` without one). So the hub can run in
another process than the recorder (``fixgw serve`` and ``fixgw run`` run it in
the API server's own process, :mod:`fixgw.api.worker`): recording never waits
for it nor shares an interpreter with the fan-out, and nothing is lost between
the two, as the store is the only hand-over. The thread decodes the reports,
folds them through the same core code as the REST views
(:class:`fixgw.translate.Orders`, :class:`fixgw.positions.Ledger`, started from
the store's contents so positions are cumulative), and hands each frame to the
subscribed clients on their event loop. A report the store already had is not
stored again and so never read again: each fill goes out once.

Commands and envelopes are Kalshi's: ``{"id", "cmd": "subscribe", "params":
{"channels": [...], "market_ticker(s)": ...}}`` answered by ``{"id", "type":
"subscribed", "msg": {"channel", "sid"}}``; ``unsubscribe`` with ``params.sids``;
data frames ``{"type", "sid", "seq", "msg"}`` with ``seq`` counting 1, 2, 3 ...
per subscription.

Margin has its own connection path (Kalshi's ``/trade-api/ws/v2/margin``) with
the channels ``fill`` and ``user_orders`` only, in the margin shapes
(:class:`~fixgw.models.ws.MarginFillUpdate`, :class:`~fixgw.models.ws.MarginUserOrder`):
a client lives on one product and sees only that product's frames. A client whose buffer holds ``limit`` frames it has not taken
is sent error 25 (subscription buffer overflow) and closed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import deque
from typing import Iterable

from fixgw import translate
from fixgw.api.bell import Bell
from fixgw.positions import post_position_of
from fixgw.fix import lenient
from fixgw.models.fix import ExecType, ExecutionReport
from fixgw.margin import MarginOrders
from fixgw.models.ws import FillUpdate, MarginFillUpdate, MarginUserOrder, UserOrder
from fixgw.positions import Ledger
from fixgw.recorder.store import Store, StoredReport

log = logging.getLogger("fixgw.api")

CHANNELS = {"fill": "fill", "user_orders": "user_order", "market_positions": "market_position"}  # -> frame type
PRODUCT_CHANNELS = {"event": tuple(CHANNELS), "margin": ("fill", "user_orders")}
# Kalshi's WebSocket error codes (the ones this server can give)
UNABLE, PARAMS, NEED_CHANNELS, NEED_SIDS, UNKNOWN_CMD, UNKNOWN_SID, UNKNOWN_CHANNEL, OVERFLOW = \
    1, 2, 3, 4, 5, 7, 8, 25
TAIL = 500  # reports read from the store at a time (the recorder's batch): frames flow during a burst


def fill_msg(er: ExecutionReport, fill, position) -> dict:
    """The ``fill`` channel's msg: the gateway's own WebSocket model (:mod:`fixgw.models.ws`)."""
    post = post_position_of(er, position.position_fp)
    return FillUpdate.from_fill(fill, post, client_order_id=er.cl_ord_id).model_dump(mode="json")


def order_msg(order) -> dict:
    """The ``user_orders`` channel's msg (:class:`fixgw.models.ws.UserOrder`)."""
    return UserOrder.from_order(order).model_dump(mode="json")


class Client:
    """One WebSocket connection's subscriptions and outgoing buffer (lives on its event loop)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int, product: str = "event"):
        self.loop, self.limit, self.product = loop, limit, product
        self.subs: dict[int, tuple[str, frozenset[str]]] = {}  # sid -> (channel, market tickers)
        self.seq: dict[int, int] = {}
        self.out: deque[str] = deque()
        self.ready = asyncio.Event()
        self.closed: str | None = None  # why the connection is to be closed

    def push(self, frame: dict) -> None:
        self.out.append(json.dumps(frame))
        self.ready.set()

    def offer(self, frames: list[tuple[str, str, str]]) -> None:
        """Loop thread: queue each ``(channel, ticker, msg as JSON text)`` for every matching
        subscription, or give up on the client. The msg was encoded once for every client."""
        for channel, ticker, text in frames:
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
                seq = self.seq[sid] = self.seq.get(sid, 0) + 1
                self.out.append(f'{{"type": "{CHANNELS[channel]}", "sid": {sid}, "seq": {seq}, "msg": {text}}}')
            self.ready.set()


class Hub:
    """Every connected client, and the thread that follows the store and turns new reports into frames."""

    def __init__(self, store: Store | None, account: str, *, limit: int = 10_000, user_id: str = "",
                 bell: Bell | None = None, poll_s: float = 0.5):
        self.store, self.account, self.limit = store, account, limit
        self.bell, self.poll_s = bell, poll_s
        self.orders = translate.Orders(user_id=user_id)
        self.ledger = Ledger(user_id=user_id)
        self.margin_orders = MarginOrders(user_id=user_id)
        self.margin_ledger = Ledger(user_id=user_id)
        self._margin_seen: set[str] = set()  # margin ExecIDs folded (a replay must not fold twice)
        self._clients: set[Client] = set()
        self._lock = threading.Lock()
        self._next_sid = 0
        self.seq = 0  # the store's position (Store.last_seq) of the last report folded
        self._stop = threading.Event()
        self._halt, self._halted = Bell.pair()  # stop() wakes the thread out of its wait
        self._thread = threading.Thread(target=self._run, name="api-hub", daemon=True)
        self._primed = threading.Event()
        self._pending: dict[str, list[tuple[str, str, str]]] = {}  # product -> frames of the batch being folded

    def start(self) -> "Hub":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._halt.ring()
        self._thread.join(10)
        if not self._thread.is_alive():
            self._halt.close()
            self._halted.close()

    def wait_primed(self, timeout: float | None = None) -> bool:
        return self._primed.wait(timeout)

    @property
    def backlog(self) -> int:
        """The account's reports stored past the last one this hub turned into frames (positions are
        shared by all accounts, so this counts up to the newest position, not reports)."""
        return 0 if self.store is None else max(0, self.store.last_seq(self.account) - self.seq)

    def _run(self) -> None:
        try:
            if self.store is not None:  # what was stored before: state only, no frames
                self.seq = self.store.last_seq(self.account)
                for product in PRODUCT_CHANNELS:
                    for r in self.store.reports(self.account, product):
                        try:
                            self._fold(r, publish=False)
                        except Exception:  # noqa: BLE001 - one bad stored report must not stop the stream
                            log.exception("api hub: stored report %s could not be folded; skipped", r.exec_id)
        finally:
            self._primed.set()  # never leave the server waiting on a hub that died
        failing = False
        while self.store is not None and not self._stop.is_set():
            try:
                rows = self.store.tail(self.account, self.seq, TAIL)
                failing = False
            except Exception as e:  # noqa: BLE001 - the store may come back (a restarted PostgreSQL)
                if not failing:
                    log.error("api hub: reading %s failed (%s); retrying every %g s",
                              self.store.where, " ".join(str(e).split()), self.poll_s)
                failing, rows = True, []
            if not rows:
                (self.bell or self._halted).wait(self.poll_s, also=self._halted if self.bell else None)
                continue
            for _, r in rows:
                try:
                    self._fold(r, publish=True)
                except Exception:  # noqa: BLE001 - one bad report must not end the stream
                    log.exception("api hub: report %s could not be turned into frames", r.exec_id)
            self.seq = rows[-1][0]  # turned into frames (so backlog is 0 by the time a client has them)
            pending, self._pending = self._pending, {}
            for product, frames in pending.items():  # one hand-over per client per read
                self._deliver(product, frames)

    def _fold(self, r: StoredReport, *, publish: bool) -> None:
        if r.account != self.account:
            return
        if r.product == "margin":
            return self._fold_margin(r, publish=publish)
        er = lenient.decode(r.raw, r.units)[0]  # stored as received
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
            self._queue("event", er.symbol, frames)

    def _fold_margin(self, r: StoredReport, *, publish: bool) -> None:
        if r.exec_id in self._margin_seen:
            return
        self._margin_seen.add(r.exec_id)
        er = lenient.decode(r.raw, r.units)[0]
        sub = er.alloc_account
        frames: list[tuple[str, dict]] = []
        order = self.margin_orders.apply(er)
        if order is not None:
            frames.append(("user_orders", MarginUserOrder.from_order(order, subaccount=sub).model_dump(mode="json")))
        if er.exec_type is ExecType.TRADE:
            fill = translate.margin_fill_from_report(er, self.margin_ledger)
            book = self.margin_ledger.margins.get((sub or 0, er.symbol))
            post = post_position_of(er, book.P if book is not None else None)
            frames.append(("fill", MarginFillUpdate.from_fill(
                fill, post, client_order_id=er.cl_ord_id, subaccount=sub).model_dump(mode="json")))
        if publish:
            self._queue("margin", er.symbol, frames)

    def _queue(self, product: str, ticker: str, frames: Iterable[tuple[str, dict]]) -> None:
        self._pending.setdefault(product, []).extend(
            (channel, ticker, json.dumps(msg)) for channel, msg in frames)

    def publish(self, ticker: str, frames: Iterable[tuple[str, dict]], product: str = "event") -> None:
        """Hand ``(channel, msg)`` frames of one ticker to the clients of ``product`` now."""
        self._deliver(product, [(channel, ticker, json.dumps(msg)) for channel, msg in frames])

    def _deliver(self, product: str, frames: list[tuple[str, str, str]]) -> None:
        with self._lock:
            clients = [c for c in self._clients if c.product == product]
        for c in clients:
            c.loop.call_soon_threadsafe(c.offer, frames)

    # -- the client side (event loop) ---------------------------------------
    def attach(self, loop: asyncio.AbstractEventLoop, product: str = "event") -> Client:
        c = Client(loop, self.limit, product)
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
            known = PRODUCT_CHANNELS[c.product]
            for ch in channels:
                if ch not in known:
                    return error(UNKNOWN_CHANNEL, f"unknown channel {ch!r}; this server has "
                                                  f"{', '.join(known)}" + (" (margin)" if c.product == "margin" else ""))
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

