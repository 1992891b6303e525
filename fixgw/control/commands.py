"""What the control socket of ``fixgw run`` answers: status, logon/logout, reset-seqnum, manual trading.

Every request is checked whole (:mod:`fixgw.control.schema`) before anything is done or sent;
every handler returns a JSON-able dict.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from pathlib import Path

from fixgw.adapter.gateway import Gateway
from fixgw.adapter.sessions import in_logon_window
from fixgw.config import Kind
from fixgw.control import schema
from fixgw.control.supervisor import Supervisor
from fixgw.errors import SessionError
from fixgw.orders import outcome
from fixgw.state import State

log = logging.getLogger("fixgw.run")

RT_RESET_REFUSAL = (
    "refused: {name} is a KalshiRT session. RT keeps its sequence numbers across disconnects and restarts "
    "so that Kalshi can resend what this gateway missed (ResendRequest) and answer for what it sent; a reset "
    "logs on with ResetSeqNumFlag(141)=Y, both sides restart at 1 and nothing sent before can be resent or "
    "recovered any more. Reconcile first (drop copy), then repeat with --force to reset anyway.")


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
