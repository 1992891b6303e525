"""The baseline: a bare QuickFIX Python initiator that does only what the wire needs.

It signs its Logon (Kalshi refuses anything else), sends a hand-built
NewOrderSingle and sets an Event when the ExecutionReport for it arrives. No
validation, no models, no translation: the floor a Python program on QuickFIX
cannot go below.
"""

from __future__ import annotations

import threading
from pathlib import Path

import quickfix as fix

from fixgw.adapter import sessions, tls
from fixgw.config import GatewayConfig
from fixgw.signing import Signer, pre_hash


def sign_logon(msg: fix.Message, signer: Signer) -> None:
    """The least a Kalshi client must do: RawData(96) over the header QuickFIX filled."""
    h = msg.getHeader()
    sig = signer.sign(pre_hash(h.getField(52), "A", h.getField(34), h.getField(49), h.getField(56)))
    msg.setField(fix.IntField(95, len(sig)))
    msg.setField(fix.StringField(96, sig))


class BareApp(fix.Application):
    def __init__(self, signer: Signer, dollars: bool):
        super().__init__()
        self.signer, self.dollars = signer, dollars
        self.logged_on = threading.Event()
        self.got = threading.Event()
        self.expect = ""

    def onCreate(self, sid):
        pass

    def onLogon(self, sid):
        self.logged_on.set()

    def onLogout(self, sid):
        self.logged_on.clear()

    def toAdmin(self, msg, sid):
        if msg.getHeader().getField(35) == "A":
            if self.dollars:
                msg.setField(fix.StringField(21005, "Y"))
            msg.setField(fix.StringField(21011, "Y"))
            sign_logon(msg, self.signer)

    def fromAdmin(self, msg, sid):
        pass

    def toApp(self, msg, sid):
        pass

    def fromApp(self, msg, sid):
        if msg.getField(11) == self.expect:
            self.got.set()


class Bare:
    def __init__(self, config: GatewayConfig, state: Path):
        s = config.session[0]
        self.app = BareApp(Signer.from_file(s.private_key), s.dollars)
        tls.pin_only()
        settings = sessions.settings(config, state / "bare.cfg")
        self.sid = fix.SessionID("FIXT.1.1", s.api_key_id, s.target)
        self.init = fix.SSLSocketInitiator(self.app, fix.FileStoreFactory(settings), settings)

    def start(self) -> None:
        self.init.start()
        if not self.app.logged_on.wait(15):
            raise RuntimeError("bare initiator did not log on")

    def stop(self) -> None:
        self.init.stop()

    def order(self, cl_ord_id: str, symbol: str, price: str, qty: str) -> None:
        """Send an IOC NewOrderSingle and wait for its report."""
        m = fix.Message()
        m.getHeader().setField(fix.StringField(35, "D"))
        for tag, value in ((11, cl_ord_id), (38, qty), (40, "2"), (44, price), (54, "1"), (55, symbol),
                           (59, "3")):
            m.setField(fix.StringField(tag, value))
        self.app.got.clear()
        self.app.expect = cl_ord_id
        fix.Session.sendToTarget(m, self.sid)
        if not self.app.got.wait(10):
            raise RuntimeError(f"no report for {cl_ord_id}")
