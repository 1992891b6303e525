"""``fixgw run CONFIG``: one foreground gateway process driven through its control socket.

The process starts a :class:`~fixgw.adapter.gateway.Gateway` for every session in the
config, serves the owner-only control socket (:mod:`fixgw.control.server`) and waits
for SIGTERM/SIGINT, which log every session out (QuickFIX waits for the Logout
answers), close the stores and exit 0 (1 if a hosted recorder's store failed,
which also stops the process). Before anything else it locks the state
directory (:mod:`fixgw.lock`): a second process on it is refused with the
holder's pid before it opens a connection.

A supervisor thread adds what QuickFIX's initiator lacks, using only the
session's enable switch (``Session::logout()`` disables, ``logon()`` enables;
a disabled session is never connected):

* backoff: QuickFIX retries every ``reconnect_interval``; after the n-th failed
  attempt in a row the session is held back so the next one comes
  ``reconnect_interval * 2^(n-1)`` s (capped at ``reconnect_backoff_max``)
  after the failure, give or take one interval (QuickFIX's timer granularity);
* schedules: outside a session's logon window QuickFIX logs it out and sends no
  Logon, but would still open an idle TLS connection every interval, so the
  session is held until its window opens;
* operator holds: a session logged out from the CLI stays out until ``logon``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from fixgw import lock
from fixgw.control import server as control, schema
from fixgw.config import Kind, load, with_user_id
from fixgw.errors import ConfigError, SessionError
from fixgw.adapter.gateway import Gateway
from fixgw.adapter.sessions import in_logon_window
from fixgw.adapter.logs import redact
from fixgw.metrics import backoff_delay
from fixgw.orders import outcome
from fixgw.state import State

log = logging.getLogger("fixgw.run")

RT_RESET_REFUSAL = (
    "refused: {name} is a KalshiRT session. RT keeps its sequence numbers across disconnects and restarts "
    "so that Kalshi can resend what this gateway missed (ResendRequest) and answer for what it sent; a reset "
    "logs on with ResetSeqNumFlag(141)=Y, both sides restart at 1 and nothing sent before can be resent or "
    "recovered any more. Reconcile first (drop copy), then repeat with --force to reset anyway.")


# -- structured logs ----------------------------------------------------------
class RedactFilter(logging.Filter):
    """Bakes the message and removes RawData(96)/Password(554) before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        return True


class KeyValueFormatter(logging.Formatter):
    """``ts=... level=... logger=... <message>``: one line per event, UTC, key=value.

    Messages written as ``key=value`` pairs (every fixgw session line starts with
    ``session=``) pass through; anything else becomes ``msg="..."``.
    """

    def format(self, record: logging.LogRecord) -> str:
        ts = dt.datetime.fromtimestamp(record.created, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        msg = record.getMessage()
        head = msg.split(" ", 1)[0]
        if not ("=" in head and head.split("=", 1)[0].isidentifier()):
            msg = f"msg={json.dumps(msg)}"
        session = getattr(record, "session", None)
        if session is not None and "session=" not in msg:
            msg = f"session={session} {msg}"
        line = f"ts={ts} level={record.levelname.lower()} logger={record.name} {msg}"
        if record.exc_info:
            line += f" exc={json.dumps(self.formatException(record.exc_info))}"
        return redact(line.replace("\r", "\\r").replace("\n", "\\n"))


def setup_logging(state_dir: Path, level: int = logging.INFO) -> None:
    """stderr and ``<state_dir>/log/fixgw.log``, both key=value and redacted."""
    (state_dir / "log").mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    root.setLevel(level)
    for h in (logging.StreamHandler(sys.stderr), logging.FileHandler(state_dir / "log" / "fixgw.log")):
        root.addHandler(h)
    for h in root.handlers:  # including any a caller installed before us
        h.setFormatter(KeyValueFormatter())
        if not any(isinstance(f, RedactFilter) for f in h.filters):
            h.addFilter(RedactFilter())


# -- the supervisor -------------------------------------------------------------
class Supervisor:
    """Backoff, schedule and operator holds on top of QuickFIX's reconnect timer."""

    def __init__(self, gw: Gateway, period: float = 0.1):
        self.gw = gw
        self.period = period
        self.interval = gw.config.reconnect_interval
        self.cap = gw.config.reconnect_backoff_max
        self.lock = threading.RLock()
        self.holds: dict[str, str] = {}  # session -> "operator" | "schedule" | "backoff"
        self.release_at: dict[str, float] = {}
        self.seen_failures: dict[str, int] = {}
        self.reset_pending: set[str] = set()  # RT sessions whose next Logon carries 141=Y
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="fixgw-supervisor", daemon=True)

    def start(self) -> "Supervisor":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def hold(self, name: str, reason: str, until: float | None = None) -> None:
        with self.lock:
            self.holds[name] = reason
            if until is not None:
                self.release_at[name] = until
            # Disables the session. A connection that has not logged on (QuickFIX opens one
            # outside the logon window too) is closed by QuickFIX's own thread on its next
            # tick (the wheel's patch 5), never from here: that would race its socket loop.
            self.gw.logout(name)
        log.info("session=%s event=hold reason=%s%s", name, reason,
                 f" retry_in={until - time.time():.1f}s" if until else "")

    def release(self, name: str) -> None:
        with self.lock:
            reason = self.holds.pop(name, None)
            self.release_at.pop(name, None)
            self.gw.logon(name)
        log.info("session=%s event=release reason=%s", name, reason or "operator")

    def describe(self, name: str) -> dict:
        with self.lock:
            reason = self.holds.get(name)
            until = self.release_at.get(name)
        return {"hold": reason, "retry_in": round(max(0.0, until - time.time()), 1) if until and reason else None}

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            for name in list(self.gw.runtimes):
                try:
                    self.tick(name, time.time())
                except Exception:  # noqa: BLE001 - the supervisor must outlive one bad tick
                    log.exception("session=%s event=supervisor-error", name)

    def tick(self, name: str, now: float) -> None:
        rt = self.gw.runtimes[name]
        session = self.gw._session(name)
        if session is None:
            return
        with self.lock:
            reason = self.holds.get(name)
            if name in self.reset_pending and rt.lifecycle.state is State.LOGGED_ON:
                session.setResetOnLogon(bool(rt.config.resets))
                self.reset_pending.discard(name)
            if reason == "operator":
                return
            if not in_logon_window(session):
                if reason != "schedule" and not session.isLoggedOn():  # QuickFIX logs it out itself
                    self.hold(name, "schedule")
                return
            if reason == "schedule":
                self.release(name)
                return
            attempts = rt.metrics.attempts
            if attempts.failed > self.seen_failures.get(name, 0):
                self.seen_failures[name] = attempts.failed
                extra = backoff_delay(attempts.streak, self.interval, self.cap) - self.interval
                if extra > 0 and not attempts.open and reason is None:
                    self.hold(name, "backoff", (attempts.last_failure or now) + extra)
                    return
            if reason == "backoff" and now >= self.release_at.get(name, 0):
                self.release(name)


# -- the control commands ---------------------------------------------------------
class Commands:
    """What the control socket answers; every handler returns a JSON-able dict."""

    def __init__(self, gw: Gateway, sup: Supervisor, config_path: Path):
        self.gw, self.sup = gw, sup
        self.info = {"pid": os.getpid(), "config": str(config_path.resolve()), "started": time.time()}

    def __call__(self, req: dict) -> dict:
        req = schema.check(req)  # every field, before anything is done or sent
        cmd = req["cmd"]
        fn = getattr(self, "do_" + cmd.replace("-", "_"))
        if "session" in req:
            self.gw.runtime(str(req["session"]))  # SessionError naming the configured ones
            log.info("session=%s event=control cmd=%s", req["session"], cmd)
        return fn(req)

    def do_status(self, req: dict) -> dict:
        rows = []
        for s in self.gw.status():
            row = s.as_dict() | self.sup.describe(s.name)
            if req.get("metrics"):
                row["metrics"] = self.gw.runtimes[s.name].metrics.snapshot()
            rows.append(row)
        return {**self.info, "sessions": rows}

    def do_metrics(self, req: dict) -> dict:
        return {"metrics": {n: rt.metrics.snapshot() for n, rt in self.gw.runtimes.items()}}

    def _wait_state(self, name: str, want: set[State], timeout: float, logons_above: int = -1) -> dict:
        lc = self.gw.runtime(name).lifecycle
        reached = lc.wait(lambda s: s.state in want and s.logons > logons_above, timeout)
        status = next(s for s in self.gw.status() if s.name == name)
        return {"session": name, "state": status.state, "reached": reached, "last_error": status.last_error,
                "next_out": status.next_out, "next_in": status.next_in, **self.sup.describe(name)}

    def do_logout(self, req: dict) -> dict:
        name = req["session"]
        self.sup.hold(name, "operator")
        return self._wait_state(name, {State.DISCONNECTED, State.STOPPED, State.CONNECTING},
                                float(req.get("wait", 10)))

    def do_logon(self, req: dict) -> dict:
        name = req["session"]
        self.sup.release(name)
        session = self.gw._session(name)
        if session is not None and not in_logon_window(session):
            self.sup.hold(name, "schedule")
            return {"session": name, "state": self.gw.runtime(name).lifecycle.state.value, "reached": False,
                    "note": "outside its logon window (start/end time, maintenance); it logs on when it opens"}
        return self._wait_state(name, {State.LOGGED_ON}, float(req.get("wait", 15)))

    def do_reset_seqnum(self, req: dict) -> dict:
        name = req["session"]
        rt = self.gw.runtime(name)
        if rt.config.type is Kind.RT and not req.get("force"):
            raise SessionError(name, RT_RESET_REFUSAL.format(name=name))
        session = self.gw._session(name)
        if session is None:
            raise SessionError(name, "not started")
        log.warning("session=%s event=reset-seqnum before_out=%s before_in=%s force=%s", name,
                    session.getExpectedSenderNum(), session.getExpectedTargetNum(), bool(req.get("force")))
        logons = rt.lifecycle.logons
        # Only QuickFIX's own thread may close the connection: Session.reset() here would close
        # the socket under its feet, and the reused descriptor number (the control socket's, a
        # store's file) would receive the dead TLS connection's close_notify. So log out on
        # QuickFIX's thread first; reset() then finds no connection and only clears the store
        # and both sequence numbers; logon() re-enables the session.
        if rt.lifecycle.state not in (State.DISCONNECTED, State.STOPPED):
            session.logout("sequence numbers reset by the operator")
            rt.lifecycle.wait(lambda st: st.state in (State.DISCONNECTED, State.STOPPED), 10)
        with self.sup.lock:  # the supervisor restores ResetOnLogon after the next Logon, not before it
            if rt.config.type is Kind.RT and not rt.config.resets:
                self.sup.reset_pending.add(name)
                session.setResetOnLogon(True)  # the next Logon resets and says so (141=Y)
            session.reset()
        if self.sup.holds.get(name) is not None:  # held: it resets now and logs on when released
            return self._wait_state(name, set(State), 0)
        session.logon()
        return self._wait_state(name, {State.LOGGED_ON}, float(req.get("wait", 15)), logons_above=logons)

    # -- manual trading ---------------------------------------------------------
    @staticmethod
    def _answer(ack, timeout: float) -> dict:
        """The answer to a request that was sent: never an error, always its ClOrdID and state."""
        req = ack.request
        out = {"request": type(req).__name__, "cl_ord_id": getattr(req, "cl_ord_id", None)}
        try:
            msg = ack.wait(timeout)
        except TimeoutError:
            return out | {"state": "sent", "rejected": False, "ack": None,
                          "note": f"sent; no answer within {timeout:g} s; it may still be working"}
        try:
            return out | outcome(msg) | {"ack_type": type(msg).__name__, "ack": msg.model_dump(mode="json")}
        except Exception as e:  # noqa: BLE001 - it was sent: say so, whatever failed after
            log.exception("event=answer-error cl_ord_id=%s", out["cl_ord_id"])
            return out | {"state": "sent", "rejected": False, "ack": None,
                          "note": f"sent; its answer could not be shown: {type(e).__name__}: {e}"}

    def do_order(self, req: dict) -> dict:
        expire = req.get("expire_time")
        if expire is not None:
            try:
                expire = dt.datetime.fromisoformat(expire)
            except ValueError:
                expire = None
            if expire is None or expire.tzinfo is None:
                raise schema.RequestError(f"order: expire_time {req['expire_time']!r} must be an ISO 8601 "
                                          "time with a zone (2026-11-21T21:00:00Z)")
        ack = self.gw.new_order(
            req["session"], req["symbol"], req["side"], req["price"], req["quantity"],
            time_in_force=req.get("time_in_force"), post_only=bool(req.get("post_only")),
            expire_time=expire, stp=req.get("stp"),
            subaccount=req.get("subaccount"), order_group_id=req.get("order_group_id"),
            cancel_on_pause=bool(req.get("cancel_on_pause")), max_cost=req.get("max_cost"),
            exchange_index=req.get("exchange_index"), cl_ord_id=req.get("cl_ord_id"),
            subtrader_id=req.get("subtrader"))
        return self._answer(ack, float(req.get("wait", 10)))

    def do_cancel(self, req: dict) -> dict:
        return self._answer(self.gw.cancel(req["session"], req["cl_ord_id"]), float(req.get("wait", 10)))

    def do_mass_cancel(self, req: dict) -> dict:
        ack = self.gw.mass_cancel(req["session"], subaccount=req.get("subaccount"))
        return self._answer(ack, float(req.get("wait", 10)))


# -- the process ------------------------------------------------------------------
def _split_recorder(config):
    """With a ``[recorder]`` table, listener and KalshiDC sessions feed a drop-copy recorder in
    this process; the other sessions form the gateway the control socket drives."""
    if "recorder" not in config.model_fields_set:
        return config, None, None
    feeds = [s for s in config.session if s.listener or s.type is Kind.DC]
    trading = [s for s in config.session if s not in feeds]
    if not feeds:
        return config, None, None
    if not trading:
        raise ConfigError("session: every session here feeds the recorder; run this config with "
                          "`fixgw record`, or add an order-entry session")
    from fixgw.recorder.commands import store_url
    from fixgw.recorder.service import Recorder
    from fixgw.recorder.store import open_store

    rc = config.recorder
    store = open_store(store_url(config))
    recorder = Recorder(config.model_copy(update={"session": feeds}), store, account=rc.account,
                        batch=rc.batch, flush_s=rc.flush_ms / 1000, page_clocks=rc.page_clocks,
                        retry_s=rc.retry_s)
    return config.model_copy(update={"session": trading}), recorder, store



def run(config_path: Path, socket_path: Path | None = None, ready_out=None, *, user_id: str | None = None) -> int:
    """The whole life of `fixgw run`; 0 after a clean SIGTERM/SIGINT shutdown, 1 when a hosted
    recorder's store failed (the process stops: the reason is logged and on stderr)."""
    config = load(config_path)
    if user_id is not None:
        config = with_user_id(config, user_id)
    state = config.state_dir
    held = lock.acquire(state)  # creates it (0700); refuses a second process before any connection
    setup_logging(state)
    socket_path = socket_path or state / control.SOCKET_NAME
    full = config
    config, recorder, store = _split_recorder(config)
    gw = Gateway(config)
    api = None
    if full.api is not None:  # Kalshi's REST/WebSocket paths and /metrics over the recorder
        if recorder is None:
            raise ConfigError("[api] serves the recorder's store: add a [recorder] table and its listener "
                              "and KalshiDC sessions, or remove [api]")
        from fixgw.api.serve import Api
        from fixgw.recorder.commands import store_url

        api = Api(full, store_url(full), recorder, gateways=[gw])
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: (log.info("event=signal signal=%s", signal.Signals(signum).name),
                                                   stop.set()))
    gw.start()
    if api is not None:
        api.start()
        log.info("event=api url=http://%s:%s", api.host, api.port)
    if recorder is not None:
        recorder.on_failure = lambda _: stop.set()
        recorder.start()
    sup = Supervisor(gw).start()
    try:
        server = control.serve(socket_path, Commands(gw, sup, Path(config_path)), name="gateway",
                               tighten=socket_path.parent.resolve() == state.resolve(),
                               max_clients=config.limits.control_clients,
                               idle_timeout=config.limits.control_idle_timeout)
    except BaseException:
        sup.stop()
        gw.stop()
        if api is not None:
            api.stop()
        raise
    log.info("event=started pid=%d control=%s sessions=%s", os.getpid(), socket_path, ",".join(gw.runtimes))
    print(json.dumps({"ready": True, "pid": os.getpid(), "control": str(socket_path),
                      "sessions": list(gw.runtimes),
                      **({"api": f"http://{api.host}:{api.port}"} if api is not None else {})}),
          file=ready_out or sys.stdout, flush=True)
    stop.wait()
    control.close(server)
    sup.stop()
    gw.stop()
    if api is not None:
        api.stop()
    failed = False
    if recorder is not None:  # log its sessions out and make everything received durable
        failed = not recorder.stop() or recorder.failure is not None
        store.close()
        log.info("event=recorder-stopped stored=%d", recorder.stored)
        if failed:
            log.error("event=recorder-failed reason=%s", json.dumps(recorder.failure or "writes not durable in time"))
    log.info("event=stopped sessions=%s", ",".join(gw.runtimes))
    logging.shutdown()
    lock.release(held)
    return 1 if failed else 0
