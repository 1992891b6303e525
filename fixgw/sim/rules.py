"""Kalshi's Logon rules as the simulator enforces them (pure core).

Given the received Logon's fields, :func:`check_logon` returns the
:class:`Refusal` Kalshi would answer with, or ``None`` to accept: a Logout with
Text(58), or for a SendingTime more than 30 s off, a Reject with 373=10.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Mapping

from cryptography.hazmat.primitives.asymmetric import rsa

from fixgw.fix import tags
from fixgw.kalshi import RULES, Kind, Product
from fixgw.signing import pre_hash, verify


@dataclass(frozen=True)
class SimSession:
    product: Product
    kind: Kind
    api_key_id: str
    port: int
    account: str = ""  # the trading account the key belongs to (defaults to the key id)

    @property
    def target(self) -> str:
        return RULES[self.kind].target


SENDING_TIME_WINDOW = dt.timedelta(seconds=30)


@dataclass(frozen=True)
class Refusal:
    text: str
    reject_reason: int | None = None  # answer with Reject 373=<this> instead of a Logout


def parse_sending_time(value: str) -> dt.datetime | None:
    for fmt in ("%Y%m%d-%H:%M:%S.%f", "%Y%m%d-%H:%M:%S"):
        try:
            return dt.datetime.strptime(value, fmt).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            continue
    return None


def check_logon(s: SimSession, header: Mapping[int, str], body: Mapping[int, str],
                public_key: rsa.RSAPublicKey, key_in_use_elsewhere: bool,
                now: dt.datetime | None = None) -> Refusal | None:
    sent = parse_sending_time(header[tags.SENDING_TIME])
    now = now or dt.datetime.now(dt.timezone.utc)
    if sent is None or abs(now - sent) > SENDING_TIME_WINDOW:
        return Refusal("SendingTime accuracy problem", reject_reason=10)
    reason = _logon_text(s, header, body, public_key, key_in_use_elsewhere)
    return None if reason is None else Refusal(reason)


def _logon_text(s: SimSession, header: Mapping[int, str], body: Mapping[int, str],
                public_key: rsa.RSAPublicKey, key_in_use_elsewhere: bool) -> str | None:
    raw = body.get(tags.RAW_DATA)
    if not raw:
        return "RawData(96) signature is required"
    signed = pre_hash(header[tags.SENDING_TIME], header[tags.MSG_TYPE], header[tags.MSG_SEQ_NUM],
                      header[tags.SENDER_COMP_ID], header[tags.TARGET_COMP_ID])
    if not verify(public_key, signed, raw):
        return "Invalid signature"
    if key_in_use_elsewhere:
        return "already exists"
    rules = RULES[s.kind]
    if rules.reset_on_logon and body.get(tags.RESET_SEQ_NUM_FLAG) != "Y":
        return f"ResetSeqNumFlag(141)=Y is required on {s.target}"
    try:
        heartbeat = int(body.get(tags.HEART_BT_INT, ""))
    except ValueError:
        return "HeartBtInt(108) is required"
    if heartbeat <= 3:
        return "HeartBtInt(108) must be greater than 3"
    if body.get(tags.LISTENER_SESSION) == "Y":
        if not rules.listener_allowed:
            return f"ListenerSession(20126) is not allowed on {s.target}"
        if body.get(tags.SKIP_PENDING_EXEC_REPORTS) != "Y":
            return "ListenerSession(20126)=Y requires SkipPendingExecReports(21011)=Y"
        if body.get(tags.CANCEL_ORDERS_ON_DISCONNECT) == "Y":
            return "CancelOrdersOnDisconnect(8013) is not allowed on a listener session"
    if body.get(tags.RECEIVE_SETTLEMENT_REPORTS) == "Y" and (s.kind is not Kind.RT or s.product is Product.MARGIN):
        return f"ReceiveSettlementReports(20127) is not available on {s.target}"
    retention = body.get(tags.MESSAGE_RETENTION_PERIOD)
    if retention is not None and not (retention.isdigit() and 1 <= int(retention) <= 72):
        return "MessageRetentionPeriod(20200) must be 1-72 hours"
    return None
