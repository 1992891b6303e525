"""Faults the simulator injects into its own ExecutionReports, for tests (adapter).

An operator (``fixgw sim``'s control socket, command ``fault``) arms a fault for
one account's sessions of one kind (KalshiNR, KalshiRT or KalshiDC, optionally
one API key); it spoils the next ``count`` Trade reports (150=F) the router sends
there. Only that session's copy is spoiled: the matching engine, the ledger and
the drop-copy journal keep the true report, so a client can recover it.

Kinds:

``value``      the report carries ``tag=value`` instead (e.g. 39=Z, 1057=1: values
               the dictionary does not list).
``duplicate``  ``tag`` appears twice (with ``value`` the second time, else the same).
``group-tag``  ``tag=value`` is added inside the first entry of the report's fees
               group (136), after its own fields.
``lose``       the report is never sent and its MsgSeqNum is skipped, so the
               client sees a sequence gap (a message lost in transit). With
               target KalshiDC it hits the middle report of the next drop-copy
               replay (EventResendRequest answer) instead.

Every applied fault is listed by command ``faults`` with the session, kind,
ExecID and the MsgSeqNum it concerned.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import quickfix as fix

from fixgw.adapter import encode
from fixgw.fix import codec, tags
from fixgw.models.fix import ExecType, ExecutionReport
from fixgw.pricing import Units

KINDS = ("value", "duplicate", "group-tag", "lose")
_EXEC_ID = f"{tags.EXEC_ID}="


@dataclass
class Fault:
    kind: str
    account: str
    product: str
    target: str  # KalshiNR | KalshiRT | KalshiDC
    api_key_id: str | None = None
    tag: int | None = None
    value: str | None = None
    count: int = 1

    @classmethod
    def from_request(cls, req: dict) -> "Fault":
        kind = req.get("kind")
        if kind not in KINDS:
            raise ValueError(f"fault kind {kind!r}; known: {', '.join(KINDS)}")
        tag = req.get("tag")
        if kind != "lose" and not isinstance(tag, int):
            raise ValueError(f"fault {kind} needs an integer 'tag'")
        if kind in ("value", "group-tag") and not isinstance(req.get("value"), str):
            raise ValueError(f"fault {kind} needs a string 'value'")
        count = req.get("count", 1)
        if not isinstance(count, int) or count < 1:
            raise ValueError("fault 'count' must be a positive integer")
        return cls(kind, str(req["account"]), str(req.get("product", "event")), str(req.get("target", "KalshiNR")),
                   req.get("api_key_id"), tag, req.get("value"), count)


@dataclass(frozen=True)
class Spoiled:
    """A report on its way to one session with the fault to apply."""

    report: ExecutionReport
    fault: Fault


@dataclass
class Faults:
    armed: list[Fault] = field(default_factory=list)
    applied: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def arm(self, fault: Fault) -> int:
        with self.lock:
            self.armed.append(fault)
            return len(self.armed)

    def take(self, account: str, product: str, target: str, api_key_id: str, message) -> Fault | None:
        """The armed fault for this report to this session, if any (one use counted)."""
        if not self.armed or not isinstance(message, ExecutionReport) or message.exec_type is not ExecType.TRADE:
            return None
        return self._take(account, product, target, api_key_id)

    def take_replay(self, account: str, product: str, api_key_id: str) -> Fault | None:
        """An armed ``lose`` fault for a KalshiDC replay to this session (one use counted)."""
        if not self.armed:
            return None
        fault = self._take(account, product, "KalshiDC", api_key_id)
        if fault is not None and fault.kind != "lose":
            raise ValueError(f"fault {fault.kind} is not supported on drop-copy replays (only lose)")
        return fault

    def lose_replayed(self, session, session_id: fix.SessionID, body: str) -> None:
        """Skip one replayed report: its MsgSeqNum is used up, nothing is sent."""
        seq = session.getExpectedSenderNum()
        exec_id = next((f[len(_EXEC_ID):] for f in body.split("\x01") if f.startswith(_EXEC_ID)), None)
        with self.lock:
            self.applied.append({"session": session_id.toString(), "kind": "lose", "tag": None, "value": None,
                                 "exec_id": exec_id, "seq": seq})
        session.setNextSenderMsgSeqNum(seq + 1)

    def _take(self, account: str, product: str, target: str, api_key_id: str) -> Fault | None:
        with self.lock:
            for f in self.armed:
                if (f.account, f.product, f.target) == (account, product, target) and \
                        f.api_key_id in (None, api_key_id):
                    f.count -= 1
                    if f.count == 0:
                        self.armed.remove(f)
                    return f
        return None

    def send(self, spoiled: Spoiled, session_id: fix.SessionID, units: Units, product: str) -> bool:
        """Send (or, for ``lose``, skip) one spoiled report; recorded in ``applied``."""
        f, report = spoiled.fault, spoiled.report
        session = fix.Session.lookupSession(session_id)
        if session is None:
            return False
        seq = session.getExpectedSenderNum()
        with self.lock:
            self.applied.append({"session": session_id.toString(), "kind": f.kind, "tag": f.tag, "value": f.value,
                                 "exec_id": report.exec_id, "seq": seq})
        if f.kind == "lose":
            session.setNextSenderMsgSeqNum(seq + 1)
            return True
        msg_type, pairs = codec.encode(report, units)
        if f.kind == "value":
            pairs = [(t, f.value if t == f.tag else v) for t, v in pairs]
            if all(t != f.tag for t, _ in pairs):
                pairs.append((f.tag, f.value))
        elif f.kind == "duplicate":
            at = next((i for i, (t, _) in enumerate(pairs) if t == f.tag), None)
            if at is None:
                raise ValueError(f"report {report.exec_id} has no tag {f.tag} to repeat")
            pairs.insert(at + 1, (f.tag, f.value if f.value is not None else pairs[at][1]))
        message = encode.to_message(msg_type, pairs, product)
        if f.kind == "group-tag":
            group = fix.Group(tags.NO_MISC_FEES, tags.MISC_FEE_AMT)
            message.getGroup(1, group)
            group.setField(fix.StringField(f.tag, f.value))
            message.replaceGroup(1, group)
        return fix.Session.sendToTarget(message, session_id)
