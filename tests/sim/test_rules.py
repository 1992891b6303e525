import datetime as dt
import uuid

import pytest

from fixgw.config import Kind, Product
from fixgw.signing import Signer, generate_keypair, load_public_key, pre_hash
from fixgw.sim.rules import Refusal, SimSession, check_logon

NOW = dt.datetime(2026, 11, 21, 12, 0, 0, tzinfo=dt.timezone.utc)
KEY = str(uuid.uuid4())


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("k")
    priv, pub = generate_keypair(d / "a.pem")
    other, _ = generate_keypair(d / "b.pem")
    return Signer.from_file(priv), load_public_key(pub), Signer.from_file(other)


def logon(signer, kind=Kind.NR, when=NOW, **body):
    s = SimSession(Product.EVENT, kind, KEY, 8228)
    header = {52: when.strftime("%Y%m%d-%H:%M:%S.000"), 35: "A", 34: "1", 49: KEY, 56: s.target}
    fields = {108: "30", 141: "Y", **{int(k[1:]): v for k, v in body.items()}}
    fields.setdefault(96, signer.sign(pre_hash(*(header[t] for t in (52, 35, 34, 49, 56)))))
    return s, header, fields


def check(keys, signer=None, kind=Kind.NR, when=NOW, in_use=False, **body):
    s, h, b = logon(signer or keys[0], kind, when, **body)
    return check_logon(s, h, {k: v for k, v in b.items() if v is not None}, keys[1], in_use, now=NOW)


def test_good_logon_is_accepted(keys):
    assert check(keys) is None


@pytest.mark.parametrize("kwargs, expected", [
    (dict(when=NOW - dt.timedelta(seconds=31)), Refusal("SendingTime accuracy problem", 10)),
    (dict(when=NOW + dt.timedelta(seconds=31)), Refusal("SendingTime accuracy problem", 10)),
    (dict(t96=None), Refusal("RawData(96) signature is required")),
    (dict(in_use=True), Refusal("already exists")),
    (dict(t141=None), Refusal("ResetSeqNumFlag(141)=Y is required on KalshiNR")),
    (dict(t108="3"), Refusal("HeartBtInt(108) must be greater than 3")),
    (dict(t20126="Y"), Refusal("ListenerSession(20126)=Y requires SkipPendingExecReports(21011)=Y")),
    (dict(kind=Kind.DC, t20126="Y", t21011="Y"), Refusal("ListenerSession(20126) is not allowed on KalshiDC")),
    (dict(t20126="Y", t21011="Y", t8013="Y"), Refusal("CancelOrdersOnDisconnect(8013) is not allowed on a listener session")),
    (dict(kind=Kind.RT, t20200="99"), Refusal("MessageRetentionPeriod(20200) must be 1-72 hours")),
])
def test_kalshi_refusals(keys, kwargs, expected):
    assert check(keys, **kwargs) == expected


def test_signature_by_another_key_is_invalid(keys):
    assert check(keys, signer=keys[2]) == Refusal("Invalid signature")


def test_rt_needs_no_reset_and_within_window_is_fine(keys):
    assert check(keys, kind=Kind.RT, t141=None, when=NOW - dt.timedelta(seconds=29)) is None
