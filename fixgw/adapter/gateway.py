"""The gateway: one process, any set of Kalshi sessions, one TLS initiator.

``Gateway(config).start()`` loads every session's key (failing fast with the
session and file named), renders QuickFIX settings from ``cfg/``, pins the CA
file as the only trust anchor and starts an ``SSLSocketInitiator``. State per
session is tracked by :mod:`fixgw.state` from the application's callbacks and
reported by :meth:`Gateway.status`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterable

import quickfix as fix

from fixgw import lock
from fixgw.adapter import sessions, tls
from fixgw.adapter.application import GatewayApplication, SessionRuntime
from fixgw.config import GatewayConfig, Kind
from fixgw.adapter.orderentry import OrderEntry
from fixgw.errors import FixgwError, KeyFileError, LogonError, SessionError
from fixgw.dispatch import Dispatcher, Inbound
from fixgw.subscription import Subscription
from fixgw.models.fix import EventResendComplete, EventResendReject
from fixgw.adapter.logs import RedactingLogFactory
from fixgw.checks import Limits, SessionCaps
from fixgw.orders import Registry
from fixgw.ratelimit import RateLimiter
from fixgw.adapter.recovery import Recovery
from fixgw.signing import Signer
from fixgw.state import Lifecycle, State, Trigger

log = logging.getLogger("fixgw.gateway")

# Event-log lines worth surfacing as a session's last error before any Logon.
_CONNECT_FAILURES = ("Connection failed", "SSL", "ssl", "certificate", "handshake")
_INVALID_DELIVERED = "Invalid application message delivered: "  # patch 8 of .ci/quickfix-wheel.sh
_TLS_FAILED = "SSL_connect failed:"  # patch 6


def s_dc(rt: SessionRuntime) -> bool:
    return rt.config.type is Kind.DC


@dataclass(frozen=True)
class SessionStatus:
    name: str
    product: str
    type: str
    listener: bool
    target: str
    host: str
    port: int
    state: str
    since: float
    connected_since: float | None
    next_out: int | None
    next_in: int | None
    logons: int
    last_error: str | None
    last_in: float | None = None  # wall clock of the last message received
    last_out: float | None = None
    enabled: bool | None = None  # False after logout(): QuickFIX will not reconnect it
    in_schedule: bool | None = None  # inside its logon window (start/end time and day)
    metrics: dict | None = None  # fixgw.metrics.SessionMetrics.summary()
    last_error_at: float | None = None  # wall clock of last_error (it survives a reconnect)
    errors: list | None = None  # the last errors, oldest first: {"at", "error", "count"}

    def as_dict(self) -> dict:
        return asdict(self)


class Gateway(OrderEntry):
    def __init__(self, config: GatewayConfig, *, application: type[GatewayApplication] = GatewayApplication,
                 limiter: RateLimiter | None = None, translate: bool = True,
                 on_inbound: Callable[[SessionRuntime, Inbound], None] | None = None,
                 on_raw: Callable[[SessionRuntime, str, str, bool], bool] | None = None):
        """``on_inbound(runtime, inbound)`` takes every inbound application message (decoded when
        first read: :class:`fixgw.dispatch.Inbound`) on QuickFIX's thread instead of the
        dispatcher thread; ``on_raw(runtime, msg_type, raw, invalid)`` is offered each one before
        it is decoded and returns True when it took it (the recorder:
        :attr:`GatewayApplication.on_raw`)."""
        self.config = config
        self.runtimes: dict[str, SessionRuntime] = {}
        lc = config.limits
        limits = Limits(Decimal(lc.max_quantity), Decimal(lc.max_notional), lc.max_symbol_length)
        for s in config.session:
            try:
                signer = Signer.from_file(s.private_key)
            except KeyFileError as e:
                raise SessionError(s.name, str(e)) from None
            rt = SessionRuntime(s, signer, Lifecycle(s.name))
            rt.registry = Registry(SessionCaps(
                s.name, s.product.value, rt.units, order_entry=s.rules.order_entry and not s.listener,
                mass_cancel=s.type is Kind.NR and not s.listener, limits=limits))
            self.runtimes[s.name] = rt
        self.limiter = limiter or RateLimiter(config.tier, config.rate_limit_mode)
        self.dispatcher = Dispatcher({name: rt.config.product.value for name, rt in self.runtimes.items()},
                                     translating=translate, user_id=config.user_id, party_id=config.party_id,
                                     starting_balance=config.starting_balance, deliver=on_inbound)
        for rt in self.runtimes.values():  # a KalshiDC replay answers the order-entry sessions' acks too
            if s_dc(rt):
                rt.peers = [o.registry for o in self.runtimes.values() if not s_dc(o) and o.registry is not None
                            and o.config.product is rt.config.product]
        self.dispatcher.replay_sessions = {n for n, rt in self.runtimes.items() if s_dc(rt)}
        self.recovery = Recovery(self, recover=translate)  # the recorder backfills on its own
        if translate:
            self.dispatcher.on_event(self.recovery.on_dispatched, kinds=(EventResendComplete, EventResendReject))
        # QuickFIX's thread hands each received message straight to the dispatcher
        self.app = application(list(self.runtimes.values()), on_inbound=self.dispatcher.receive, on_raw=on_raw)
        self._initiator: fix.Initiator | None = None
        self._lock: Path | None = None

    # -- consuming what sessions receive -------------------------------
    def subscribe(self) -> Subscription:
        """A blocking iterator of :class:`fixgw.models.event.Event` (execution reports, rejects, fills)."""
        return self.dispatcher.subscribe()

    def subscribe_async(self):
        """Inside a running event loop: ``async for event in gw.subscribe_async()``."""
        return self.dispatcher.subscribe_async()

    def on_event(self, callback) -> None:
        """Call ``callback(event)`` for every event, on the gateway's dispatcher thread."""
        self.dispatcher.on_event(callback)

    def positions(self, subaccount: int = 0) -> dict:
        """``GET /portfolio/positions``-shaped: {"market_positions": [...], "event_positions": [...]}."""
        self.dispatcher.flush()
        with self.dispatcher.state_lock:
            led = self.dispatcher.ledger
            return {"market_positions": led.market_positions(subaccount),
                    "event_positions": led.event_positions(subaccount)}

    def margin_positions(self, subaccount: int = 0, marks: dict | None = None, *,
                         subtrader_id: str | None = None) -> list:
        """``GET /margin/positions``-shaped MarginPosition models (FCM: one sub-trader's)."""
        self.dispatcher.flush()
        with self.dispatcher.state_lock:
            ledger = self.dispatcher.ledger if subtrader_id is None else \
                self.dispatcher.subtraders.view(subtrader_id).ledger
            return ledger.margin_positions(subaccount, marks)

    def orders(self, status: str | None = None) -> list:
        """REST ``Order`` models of every event-contract order seen (``resting``/``canceled``/``executed``)."""
        self.dispatcher.flush()
        with self.dispatcher.state_lock:
            return self.dispatcher.orders.orders(status)

    def settlements(self, *, subtrader_id: str | None = None) -> list:
        """``GET /portfolio/settlements``: REST ``Settlement`` models in arrival order (FCM: one sub-trader's)."""
        self.dispatcher.flush()
        with self.dispatcher.state_lock:
            if subtrader_id is not None:
                return list(self.dispatcher.subtraders.view(subtrader_id).settlements)
            return list(self.dispatcher.settlements)

    def balance(self, *, product: str = "event", subtrader_id: str | None = None, start=None):
        """``GET /portfolio/balance``: a ``Balance`` from the starting balance (config ``starting_balance``
        or ``start`` dollars) plus every BALANCE/PAYOUT change seen; without one, the change since
        ``gw.dispatcher.cash.since`` (see :class:`fixgw.positions.Cash`)."""
        from fixgw.adapter.orderentry import decimal_of

        self.dispatcher.flush()
        with self.dispatcher.state_lock:
            return self.dispatcher.cash.balance(product, subtrader_id,
                                                decimal_of("start", start) if start is not None else None)

    def positions_json(self, *, subtrader_id: str | None = None, profile: str | None = None, subaccount: int = 0,
                       **filters) -> dict:
        """The JSON body of ``GET /portfolio/positions`` (or, with ``subtrader_id``, ``GET /fcm/positions``)
        in a schema profile (default: the config's ``profile``; see :mod:`fixgw.profiles`). ``filters``:
        ticker, event_ticker, count_filter, settlement_status, limit, cursor."""
        from fixgw import profiles
        from fixgw.query import positions_body

        self.dispatcher.flush()
        with self.dispatcher.state_lock:
            d = self.dispatcher
            ledger, orders = (d.ledger, d.orders) if subtrader_id is None else \
                (d.subtraders.view(subtrader_id).ledger, d.subtraders.view(subtrader_id).orders)
            body = positions_body(ledger, subaccount, **filters)
            counts = profiles.resting(o for o in orders.orders("resting") if (o.subaccount_number or 0) == subaccount)
        return profiles.positions(body, profile or self.config.profile, counts, fcm=subtrader_id is not None)

    # -- FCM sub-traders (GET /fcm/...) ---------------------------------
    def fcm_positions(self, subtrader_id: str, *, ticker: str | None = None, event_ticker: str | None = None,
                      count_filter: str | None = None, settlement_status: str | None = None,
                      limit: int | None = None, cursor: str | None = None) -> dict:
        """The body of ``GET /fcm/positions?subtrader_id=...`` (REST models; see :mod:`fixgw.query`)."""
        from fixgw.query import positions_body

        self.dispatcher.flush()
        with self.dispatcher.state_lock:
            return positions_body(self.dispatcher.subtraders.view(subtrader_id).ledger, ticker=ticker,
                                  event_ticker=event_ticker, count_filter=count_filter,
                                  settlement_status=settlement_status, limit=limit, cursor=cursor)

    def fcm_orders(self, subtrader_id: str, status: str | None = None) -> list:
        """``GET /fcm/orders?subtrader_id=...``: REST ``Order`` models of that sub-trader's orders."""
        self.dispatcher.flush()
        with self.dispatcher.state_lock:
            return self.dispatcher.subtraders.view(subtrader_id).orders.orders(status)

    def fcm_fills(self, *, min_ts: int | None = None, max_ts: int | None = None) -> list:
        """``GET /fcm/fills``: one ``FcmFill`` per trade across the sub-traders (bounds inclusive)."""
        self.dispatcher.flush()
        with self.dispatcher.state_lock:
            return self.dispatcher.subtraders.fills(min_ts, max_ts)
    def margin_orders(self, status: str | None = None, subaccount: int | None = None) -> list:
        """``GET /margin/orders``-shaped MarginOrder models of every margin order seen, optionally
        of one status (``resting``/``canceled``/``executed``) and subaccount."""
        self.dispatcher.flush()
        with self.dispatcher.state_lock:
            return self.dispatcher.margin_orders.orders(status, subaccount)

    # -- lifecycle ------------------------------------------------------
    def start(self) -> "Gateway":
        """Lock the state directory (one process per state directory: StateDirBusy names the
        holder's pid), then connect every session."""
        tls.pin_only()
        state = self.config.state_dir
        if self._lock is None:
            self._lock = lock.acquire(state)
        try:
            return self._start(state)
        except BaseException:
            lock.release(self._lock)
            self._lock = None
            raise

    def _start(self, state) -> "Gateway":
        settings = sessions.settings(self.config, state / "quickfix.cfg")
        names = {rt.key: rt.config.name for rt in self.runtimes.values()}
        self._logs = RedactingLogFactory(state / "log", names, messages=self.config.log_messages,
                                         observer=self._on_log_event)
        for rt in self.runtimes.values():
            rt.fix_session = None  # a new initiator makes new Session objects
        try:
            self._initiator = fix.SSLSocketInitiator(self.app, fix.FileStoreFactory(settings), settings, self._logs)
            for rt in self.runtimes.values():
                rt.lifecycle.fire(Trigger.START)
            self._initiator.start()
        except fix.ConfigError as e:
            raise FixgwError(f"QuickFIX could not start the gateway: {e}") from None
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Log every session out (QuickFIX waits for Logout answers), stop, unlock the state directory."""
        if self._initiator is None:
            if self._lock is not None:
                lock.release(self._lock)
                self._lock = None
            return
        self._initiator.stop()
        deadline = time.time() + timeout
        while time.time() < deadline and any(self._session(n) and self._session(n).isLoggedOn() for n in self.runtimes):
            time.sleep(0.05)
        self._initiator = None
        for rt in self.runtimes.values():
            rt.fix_session = None
            rt.lifecycle.fire(Trigger.STOP)
        self.dispatcher.flush()
        if self._lock is not None:
            lock.release(self._lock)
            self._lock = None

    def __enter__(self) -> "Gateway":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- operations -----------------------------------------------------
    def _session_id(self, name: str) -> fix.SessionID:
        rt = self.runtime(name)
        return fix.SessionID("FIXT.1.1", rt.config.api_key_id, rt.config.target)

    def _session(self, name: str) -> fix.Session | None:
        return fix.Session.lookupSession(self._session_id(name))

    def runtime(self, name: str) -> SessionRuntime:
        try:
            return self.runtimes[name]
        except KeyError:
            raise SessionError(name, f"no such session; configured: {', '.join(self.runtimes)}") from None

    def logout(self, name: str) -> None:
        session = self._session(name)
        if session is not None:
            session.logout()

    def logon(self, name: str) -> None:
        session = self._session(name)
        if session is not None:
            self.runtime(name).lifecycle.fire(Trigger.START)
            session.logon()

    def wait_logged_on(self, names: Iterable[str] | None = None, timeout: float = 15.0) -> None:
        """Block until each session is logged on; raise LogonError with Kalshi's reason otherwise.

        A refused Logon fails at once (QuickFIX keeps retrying in the background)."""
        deadline = time.time() + timeout
        for name in names if names is not None else self.runtimes:
            lc = self.runtime(name).lifecycle
            lc.wait(lambda s: s.state is State.LOGGED_ON or (s.state is State.DISCONNECTED and s.open_error),
                    max(0.0, deadline - time.time()))
            if lc.state is not State.LOGGED_ON:
                raise LogonError(name, lc.open_error or f"not logged on after {timeout:.0f} s (state {lc.state})")

    def wait_error(self, name: str, timeout: float = 15.0) -> str:
        """Block until the session records an error (for callers expecting a refusal)."""
        lc = self.runtime(name).lifecycle
        if not lc.wait(lambda s: s.open_error is not None, timeout):
            raise SessionError(name, f"no error within {timeout:.0f} s (state {lc.state})")
        return lc.open_error or ""

    def status(self) -> list[SessionStatus]:
        out = []
        for name, rt in self.runtimes.items():
            s, lc = rt.config, rt.lifecycle
            host, port = self.config.endpoint(s)
            session = self._session(name) if self._initiator is not None else None
            out.append(SessionStatus(
                name=name, product=s.product.value, type=s.type.value, listener=s.listener,
                target=s.target, host=host, port=port, state=lc.state.value, since=lc.since,
                connected_since=lc.connected_since,
                next_out=session.getExpectedSenderNum() if session else None,
                next_in=session.getExpectedTargetNum() if session else None,
                logons=lc.logons, last_error=lc.last_error, last_error_at=lc.last_error_at, errors=lc.history(),
                last_in=rt.metrics.last_in, last_out=rt.metrics.last_out,
                enabled=session.isEnabled() if session else None,
                in_schedule=session.isLogonTime(fix.UtcTimeStamp.now()) if session else None,
                metrics=rt.metrics.summary(),
            ))
        return out

    def _on_log_event(self, session_name: str, text: str) -> None:
        rt = self.runtimes.get(session_name)
        if rt is None:
            return
        rt.metrics.on_event(text)
        log.info("session=%s event=quickfix text=%r", session_name, text)
        if text != "Disconnecting":
            rt.last_event = text
        if self.recovery.on_event_line(rt, text):
            return
        if text.startswith(_TLS_FAILED):  # patch 6: one line with OpenSSL's reason, on the session's log
            host, port = self.config.endpoint(rt.config)
            reason = text[len(_TLS_FAILED):].strip()
            rt.lifecycle.note_error(f"TLS handshake with {host}:{port} failed: {reason}")
            log.error("session=%s event=tls-error host=%s port=%s reason=%s", session_name, host, port, reason)
        elif text.startswith(_INVALID_DELIVERED):
            # QuickFIX's validation refused the message it is about to hand to fromApp anyway
            # (DeliverInvalidAppMessages): keep its wire text so fromApp decodes what was sent.
            seq = text.rpartition("(MsgSeqNum ")[2].rstrip(")")
            source = self._logs.by_name.get(session_name)
            rt.invalid = (seq, source.invalid_text if source is not None else None)
            log.warning("session=%s event=invalid-message-delivered seq=%s detail=%s", session_name, seq,
                        text[len(_INVALID_DELIVERED):].rpartition(" (MsgSeqNum ")[0])
        elif text.startswith("Message ") and " Rejected: " in text:
            # QuickFIX refused an inbound message (e.g. a value outside the dictionary's enum)
            # and answered with a session Reject; the session stays up, the message is not lost
            # from view: it is in the messages log and named here.
            rt.lifecycle.note_error(f"inbound message refused by validation: {text}")
            log.error("session=%s event=inbound-rejected detail=%s", session_name, text)
        elif rt.lifecycle.state in (State.CONNECTING, State.DISCONNECTED):
            if any(marker in text for marker in _CONNECT_FAILURES):
                rt.lifecycle.note_error(text)
