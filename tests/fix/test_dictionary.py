"""Kalshi QuickFIX data dictionaries: generated files, tables, and QuickFIX validation."""
from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest

from fixgw.fix import dictionary as D
from fixgw.fix import dictionary_tables as T

REPO = Path(__file__).resolve().parent.parent.parent
SOH = "\x01"


# --------------------------------------------------------------------------- generated files
def test_committed_spec_files_match_the_tables():
    assert D.SPEC_DIR == REPO / "spec"
    assert D.stale(D.SPEC_DIR) == [], "spec/ is stale: run `python -m fixgw.fix.dictionary spec`"


def test_rendering_is_deterministic():
    assert D.rendered() == D.rendered()
    for text in D.rendered().values():
        assert "python -m fixgw.fix.dictionary" in text and "Do not edit by hand" in text


def test_check_mode_names_the_file_that_differs(tmp_path):
    run = [sys.executable, "-m", "fixgw.fix.dictionary"]
    assert subprocess.run(run + [str(tmp_path)], cwd=REPO, capture_output=True).returncode == 0
    ok = subprocess.run(run + ["--check", str(tmp_path)], cwd=REPO, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    target = tmp_path / D.EVENT
    target.write_text(target.read_text().replace("REPLACED", "REPLACEDX"))
    bad = subprocess.run(run + ["--check", str(tmp_path)], cwd=REPO, capture_output=True, text=True)
    assert bad.returncode == 1
    assert D.EVENT in bad.stderr and D.MARGIN not in bad.stderr


def test_imports_without_quickfix():
    code = ("import sys; sys.modules['quickfix'] = None\n"
            "import fixgw.fix.dictionary as d\n"
            "assert 'quickfix' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
            "d.rendered(); print(d.T.FIELDS[21001][0])")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "BeginExecID"


def test_public_helpers():
    assert D.path("event") == REPO / "spec" / D.EVENT
    assert D.path("margin") == REPO / "spec" / D.MARGIN
    with pytest.raises(ValueError):
        D.path("perps")
    names = {tag: spec[0] for tag, spec in T.FIELDS.items()}
    assert names[20130] == "OrderGroupID" and names[21004] == "EventResendRejectReason"
    assert names[35] == "MsgType" and names[1705] == "CollateralAmountType"


# --------------------------------------------------------------------------- tables
KALSHI_NAMES = {
    2964: "SelfTradePreventionType", 8013: "CancelOrdersOnDisconnect",
    20105: "MarketSettlementReportID", 20106: "TotNumMarketSettlementReports",
    20107: "MarketResult", 20108: "NoMarketSettlementPartyIDs",
    20109: "MarketSettlementPartyID", 20110: "MarketSettlementPartyRole",
    20126: "ListenerSession", 20127: "ReceiveSettlementReports", 20130: "OrderGroupID",
    20131: "OrderGroupAction", 20132: "OrderGroupContractsLimit",
    20200: "MessageRetentionPeriod", 21001: "BeginExecID", 21002: "EndExecID",
    21003: "ResendEventCount", 21004: "EventResendRejectReason", 21005: "UseDollars",
    21006: "CancelOrderOnPause", 21007: "EnableIocCancelReport",
    21008: "PreserveOriginalOrderQty", 21009: "MaxExecutionCost", 21011: "SkipPendingExecReports",
    21012: "UseExpiredOrdStatus", 21023: "RfqId", 21026: "AlwaysEmitNewBeforeTrade",
    21027: "SplitCollateralReturn", 21030: "SingleMarketCollateralReturn",
    21031: "RangedMarketCollateralReturn", 1703: "NoCollateralAmountChanges",
    1704: "CollateralAmountChange", 1705: "CollateralAmountType",
}


def test_custom_names_match_kalshi():
    for tag, name in KALSHI_NAMES.items():
        assert T.FIELDS[tag][0] == name, tag


def test_every_referenced_tag_is_defined_and_groups_are_numingroup():
    for d in (D.transport(), D.application("event"), D.application("margin")):
        for tag in D.used_tags(d):
            assert tag in T.FIELDS, (d.kind, tag)
        for m in d.messages:
            for e in D._walk(m.entries):
                assert (T.FIELDS[e.tag][1] == "NUMINGROUP") == e.is_group, (m.msgtype, e.tag)


def enums(tag, product="event"):
    spec = dict(D.application(product).enums).get(tag, T.FIELDS[tag][2])
    return [v for v, _ in D.parse_enums(spec)]


def test_enums_cover_current_docs():
    assert enums(39) == list("0124568ACE")  # includes 5 Replaced (missing from Kalshi's v1.03)
    assert enums(150) == list("04568ACEF")
    assert enums(54) == ["1", "2"] and enums(40) == ["2"]
    assert enums(59) == ["0", "1", "3", "4", "6"]
    assert enums(102) == ["0", "1", "2", "18", "99"]
    assert enums(103) == ["1", "2", "3", "4", "6", "8", "11", "13", "15", "99"]
    assert enums(380) == ["0", "1", "2", "3", "4", "5", "6", "8"]
    assert enums(373) == [str(i) for i in range(19)] + ["99"]
    assert enums(1705) == ["BALANCE", "PAYOUT"] and enums(20107) == ["yes", "no", "scalar"]
    assert enums(18, "margin") == ["6", "E"] and enums(18) == ["6"]


def test_field_types():
    t = {tag: spec[1] for tag, spec in T.FIELDS.items()}
    assert all(t[x] == "QTY" for x in (14, 32, 38, 151, 704, 705))
    assert all(t[x] == "PRICE" for x in (6, 31, 44, 730))
    assert all(t[x] == "AMT" for x in (137, 1704, 21009, 21030, 21031))
    assert t[79] == t[20132] == t[20200] == "INT"
    assert t[1057] == t[893] == "BOOLEAN" and t[715] == "LOCALMKTDATE"
    assert all(t[x] == "BOOLEAN" for x in (8013, 20126, 20127, 21005, 21006, 21007, 21008,
                                           21011, 21012, 21026, 21027))


def test_margin_differs_only_where_documented():
    event = {m.msgtype: m for m in D.application("event").messages}
    margin = {m.msgtype: m for m in D.application("margin").messages}
    assert set(event) - set(margin) == {"UMS"}
    assert set(event) == {"D", "F", "G", "8", "9", "q", "r", "j", "UOG", "UOH",
                          "U1", "U2", "U3", "UMS"}
    tags = {mt: {e.tag for e in D._walk(m.entries)} for mt, m in margin.items()}
    assert not tags["D"] & {100, 117, 21023, 21009}
    assert {704, 705, 715, 880, 1057, 136, 1703} <= tags["8"]
    assert not tags["8"] & {21030, 21031}


def test_layout_parser_rejects_garbage():
    for bad in ("11 (", "11)", "453()", "(448)"):
        with pytest.raises(ValueError):
            D.parse_layout(bad)
    (g,) = D.parse_layout("20108(20109* 1703(1704* 1705))")
    assert g.is_group and g.members[0].required and g.members[1].members[1].tag == 1705


# --------------------------------------------------------------------------- QuickFIX
def raw(*pairs, begin="FIXT.1.1") -> str:
    """A wire-format FIX message with correct BodyLength and CheckSum."""
    body = "".join(f"{t}={v}{SOH}" for t, v in pairs)
    head = f"8={begin}{SOH}9={len(body.encode())}{SOH}"
    return head + body + f"10={sum((head + body).encode()) % 256:03d}{SOH}"


HDR = ((49, "KalshiNR"), (56, "0b7e1c1e-1111-4222-8333-944455556666"), (34, 7),
       (52, "20260820-14:30:00.123"))


@pytest.fixture(scope="module")
def qf():
    return pytest.importorskip("quickfix")


@pytest.fixture(scope="module")
def dds(qf):
    return {name: qf.DataDictionary(str(D.SPEC_DIR / name))
            for name in (D.TRANSPORT, D.EVENT, D.MARGIN)}


def validate(qf, dds, msgtype, *body, app=D.EVENT):
    """Parse (checksum/length checked) and fully validate one message."""
    td = dds[D.TRANSPORT]
    ad = td if app is None else dds[app]
    msg = qf.Message(raw((35, msgtype), *HDR, *body), td, ad, True)
    if app is None:
        td.validate(msg)
    else:
        qf.DataDictionary.validate(msg, td, ad)
    return msg


def test_dictionaries_load(dds):
    assert dds[D.TRANSPORT].getVersion() == "FIXT.1.1"
    assert dds[D.EVENT].getVersion() == "FIX.5.0" == dds[D.MARGIN].getVersion()


SIG = base64.b64encode(bytes(range(256))).decode()


def test_admin_messages_validate(qf, dds):
    validate(qf, dds, "A", (98, 0), (108, 30), (95, len(SIG)), (96, SIG), (141, "Y"),
             (1137, 9), (8013, "Y"), (20126, "N"), (20127, "Y"), (20200, 72), (21005, "Y"),
             (21006, "N"), (21007, "Y"), (21008, "Y"), (21011, "Y"), (21012, "Y"),
             (21026, "Y"), (21027, "Y"), app=None)
    validate(qf, dds, "A", (98, 0), (108, 30), (1137, 9), app=None)  # server ack
    validate(qf, dds, "5", (58, "already exists"), app=None)
    validate(qf, dds, "3", (45, 5), (58, "Undefined tag received"), (371, 333333),
             (372, "D"), (373, 3), app=None)
    validate(qf, dds, "2", (7, 1), (16, 0), app=None)
    validate(qf, dds, "4", (123, "Y"), (36, 12), app=None)
    validate(qf, dds, "1", (112, "ping"), app=None)
    validate(qf, dds, "0", (112, "ping"), app=None)


@pytest.mark.parametrize("error,body", [
    ("RequiredTagMissing", ((98, 0), (108, 30))),                        # no 1137
    ("IncorrectDataFormat", ((98, 0), (108, 30), (1137, 9), (20200, "lots"))),
    ("IncorrectDataFormat", ((98, 0), (108, 30), (1137, 9), (8013, "X"))),
    ("IncorrectTagValue", ((98, 0), (108, 30), (1137, 8))),
    ("InvalidTagNumber", ((98, 0), (108, 30), (1137, 9), (21003, "Y"))),  # legacy flag tag
])
def test_bad_logons_fail(qf, dds, error, body):
    with pytest.raises(getattr(qf, error)):
        validate(qf, dds, "A", *body, app=None)


TRADE = ((37, "ord-1"), (11, "cl-1"), (17, "4;7;1"), (150, "F"), (39, "1"), (54, "1"),
         (55, "HIGHNY-23DEC31-B50"), (38, "25.00"), (44, 75), (6, "74.50"), (14, "10.00"),
         (151, "15.00"), (30, 1), (31, 74), (32, "10.00"), (60, "20260820-14:30:00.120"),
         (453, 1), (448, "sub-trader"), (452, 24), (79, 3), (715, "20260820"),
         (704, "10.00"), (705, "0.00"), (880, "trade-9"), (1057, "Y"),
         (136, 1), (137, "0.07"), (138, "USD"), (139, 4), (891, 0),
         (1703, 2), (1704, "-7.40"), (1705, "BALANCE"), (1704, "10.00"), (1705, "PAYOUT"),
         (21030, "1.25"), (21031, "0.50"))


def test_event_execution_reports_validate(qf, dds):
    msg = validate(qf, dds, "8", *TRADE)
    assert msg.groupCount(1703) == 2 and msg.groupCount(136) == 1
    replaced = ((37, "ord-1"), (11, "cl-2"), (41, "cl-1"), (17, "5;1"), (150, "5"), (39, "5"),
                (54, "2"), (55, "HIGHNY-23DEC31-B50"), (38, "20.00"), (44, 61),
                (14, "0.00"), (151, "20.00"), (59, 1))
    validate(qf, dds, "8", *replaced)
    validate(qf, dds, "8", (37, "ord-2"), (11, "cl-3"), (17, "-1;-1"), (150, "8"), (39, "8"),
             (54, "1"), (55, "X"), (14, "0.00"), (151, "0.00"), (103, 2),
             (58, "EXCHANGE_PAUSED"))


def test_event_order_entry_validates(qf, dds):
    validate(qf, dds, "D", (11, "cl-1"), (38, "10.00"), (40, 2), (44, 75), (54, 1),
             (55, "HIGHNY-23DEC31-B50"), (59, 6), (126, "20260821-00:00:00"), (18, 6),
             (100, 0), (453, 1), (448, "sub"), (452, 24), (526, "grp"), (2964, 2),
             (21006, "Y"), (21009, "12.50"), (60, "20260820-14:30:00.000"))
    validate(qf, dds, "F", (11, "cl-2"), (41, "cl-1"), (37, "ord-1"), (54, 1), (55, "X"), (79, 0))
    validate(qf, dds, "G", (11, "cl-3"), (41, "cl-2"), (38, "5.00"), (40, 2), (44, 70),
             (54, 1), (55, "X"))
    validate(qf, dds, "9", (37, "ord-1"), (11, "cl-3"), (41, "cl-2"), (39, 2), (434, 2),
             (102, 18), (58, "SELF_CROSS_ATTEMPT"))
    validate(qf, dds, "q", (11, "mc-1"), (530, 6))
    validate(qf, dds, "r", (11, "mc-1"), (37, "op-1"), (531, 6), (533, 4))
    validate(qf, dds, "j", (45, 9), (372, "D"), (380, 8), (58, "rate limited"))


def test_drop_copy_and_order_groups_validate(qf, dds):
    for app in (D.EVENT, D.MARGIN):
        validate(qf, dds, "U1", (21001, "12345;67890"), (21002, "12350;67895"), app=app)
        validate(qf, dds, "U2", (45, 3), (21003, 17), app=app)
        validate(qf, dds, "U3", (45, 3), (21004, 3), (58, "too old"), app=app)
        validate(qf, dds, "UOG", (20131, 1), (20132, 5000), app=app)
        validate(qf, dds, "UOG", (20131, 5), (20130, "770e8400-e29b-41d4-a716-446655440000"),
                 (20132, 100), (79, 2), app=app)
        validate(qf, dds, "UOH", (20130, "770e8400-e29b-41d4-a716-446655440000"),
                 (20132, 5000), (79, 2), app=app)


def test_market_settlement_report_with_nested_groups(qf, dds):
    party = lambda who, pay, fee: ((20109, who), (20110, 24), (704, "100.00"), (705, "0.00"),
                                   (1703, 1), (1704, pay), (1705, "PAYOUT"),
                                   (136, 1), (137, fee), (138, "USD"), (139, 4), (891, 0))
    msg = validate(qf, dds, "UMS", (20105, "settle-123"), (55, "HIGHNY-23DEC31"),
                   (715, "20231231"), (20106, 1), (20107, "scalar"), (730, "30.60"),
                   (893, "Y"), (20108, 2), *party("user-456", "30.60", "0.00"),
                   *party("user-789", "0.00", "0.01"))
    assert msg.groupCount(20108) == 2
    with pytest.raises(qf.FIXException):  # count says 3, only 2 entries
        validate(qf, dds, "UMS", (20105, "s"), (55, "X"), (715, "20231231"), (20107, "no"),
                 (20108, 3), *party("a", "1.00", "0.00"), *party("b", "1.00", "0.00"))


def test_margin_execution_report_with_dollar_prices(qf, dds):
    validate(qf, dds, "8", (37, "ord-1"), (11, "cl-1"), (17, "9;4"), (150, "F"), (39, "2"),
             (54, "2"), (55, "BTC-PERP"), (38, "10.00"), (44, "19.5000"), (6, "19.5125"),
             (14, "10.00"), (151, "0.00"), (31, "19.5125"), (32, "10.00"), (30, 0),
             (18, "E"), (453, 2), (448, "acct"), (452, 24), (448, "op-7"), (452, 12),
             (715, "20260820"), (704, "0.00"), (705, "10.00"), (880, "t-1"), (1057, "N"),
             (136, 1), (137, "0.0100"), (138, "USD"), (139, 4), (891, 0),
             (1703, 1), (1704, "-195.1250"), (1705, "BALANCE"), app=D.MARGIN)
    validate(qf, dds, "D", (11, "cl-1"), (38, "10"), (40, 2), (44, "19.5000"), (54, 1),
             (55, "BTC-PERP"), (59, 3), (18, "E"), app=D.MARGIN)


def _trade(**override):
    fields = [(t, override.pop(str(t), v)) for t, v in TRADE]
    return fields + [(int(t), v) for t, v in override.items()]


E, M = D.EVENT, D.MARGIN
ORDER = ((11, "c"), (38, "1.00"), (40, 2), (44, 50), (54, 1), (55, "X"))


@pytest.mark.parametrize("error,app,msgtype,body", [
    ("InvalidTagNumber", E, "8", _trade(**{"333333": "x"})),
    ("IncorrectTagValue", E, "8", _trade(**{"39": "Z"})),
    ("IncorrectDataFormat", E, "8", _trade(**{"14": "ten"})),
    ("IncorrectDataFormat", E, "8", _trade(**{"79": "sub-1"})),           # AllocAccount is INT
    ("RepeatingGroupCountMismatch", E, "8", _trade(**{"1703": 3})),
    # (QuickFIX 1.16 checks counts and required members of groups, but not the formats or
    # enums of values *inside* groups, e.g. 1705=balance passes.)
    ("RequiredTagMissing", E, "8", [(t, v) for t, v in TRADE if t != 37]),
    ("RequiredTagMissing", E, "D", [(t, v) for t, v in ORDER if t != 44]),
    ("IncorrectTagValue", E, "D", [(t, 1 if t == 40 else v) for t, v in ORDER]),
    ("IncorrectTagValue", E, "D", ORDER + ((18, "E"),)),                  # reduce-only: margin
    ("TagNotDefinedForMessage", E, "D", ORDER + ((880, "t"),)),
    ("IncorrectTagValue", E, "UMS", ((20105, "s"), (55, "X"), (715, "20231231"), (20107, "Yes"))),
    ("IncorrectTagValue", E, "UOG", ((20131, 9),)),
    ("IncorrectTagValue", E, "U3", ((45, 1), (21004, 5))),
    ("InvalidMessageType", E, "ZZ", ((58, "x"),)),
    ("InvalidMessageType", M, "UMS", ((20105, "s"), (55, "X"), (715, "20231231"), (20107, "no"))),
    ("InvalidTagNumber", M, "D", ORDER + ((100, 0),)),                    # no shard routing
    ("InvalidTagNumber", M, "8", _trade()),                               # 21030/21031
])
def test_invalid_application_messages_fail(qf, dds, error, app, msgtype, body):
    with pytest.raises(getattr(qf, error)):
        validate(qf, dds, msgtype, *body, app=app)
