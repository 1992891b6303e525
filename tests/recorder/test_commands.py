"""fixgw fills / positions / export over a real SQLite store."""

import csv
import datetime as dt
import json
import re
from decimal import Decimal

from click.testing import CliRunner

from fixgw import translate
from fixgw.fix import codec as fields
from fixgw.cli import cli
from fixgw.models.fix import ExecType, ExecutionReport, MiscFee, OrdStatus, Side
from fixgw.positions import Ledger
from fixgw.pricing import Units
from fixgw.recorder.store import StoredReport, open_store

T0 = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.timezone.utc)


def trade(i: int, side: Side, px: str, qty: int, ticker: str) -> ExecutionReport:
    return ExecutionReport(
        order_id=f"o{i}", exec_id=f"{i + 1};{i}", exec_type=ExecType.TRADE, ord_status=OrdStatus.FILLED,
        side=side, symbol=ticker, cum_qty=Decimal(qty), leaves_qty=Decimal(0), order_qty=Decimal(qty),
        last_px=Decimal(px), last_qty=Decimal(qty), transact_time=T0 + dt.timedelta(minutes=i),
        trd_match_id=f"t{i}", aggressor=bool(i % 2), fees=(MiscFee(amount=Decimal("0.01")),))


def raw_of(er: ExecutionReport, units: Units) -> str:
    msg_type, pairs = fields.encode(er, units)
    body = "".join(f"{t}={v}\x01" for t, v in pairs)
    return f"8=FIXT.1.1\x019=0\x0135={msg_type}\x0134=2\x0149=KalshiNR\x0152=20261121-12:00:00.000\x0156=k\x01{body}10=000\x01"


def test_fills_positions_export(tmp_path):
    url = f"sqlite:///{tmp_path / 'd.db'}"
    ers = [trade(0, Side.BUY, "0.40", 5, "KXA-26-T1"), trade(1, Side.SELL, "0.30", 2, "KXA-26-T1"),
           trade(2, Side.BUY, "0.55", 1, "KXB-26-T2")]
    store = open_store(url)
    # two sessions' units: the first two reports arrived in cents, the last in dollars
    store.put([StoredReport.from_model("acct", "event", er, raw_of(er, u), units=u)
               for i, er in enumerate(ers) for u in [Units.CENTS if i < 2 else Units.DOLLARS]])
    store.close()
    run = CliRunner()
    out = run.invoke(cli, ["fills", "--store", url, "--account", "acct"])
    assert out.exit_code == 0, out.output
    got = [json.loads(line) for line in out.stdout.splitlines()]
    assert got == [json.loads(translate.fill_from_report(er).model_dump_json()) for er in ers]
    only = run.invoke(cli, ["fills", "--store", url, "--account", "acct", "--ticker", "KXB-26-T2"])
    assert [json.loads(x)["ticker"] for x in only.stdout.splitlines()] == ["KXB-26-T2"]
    since = run.invoke(cli, ["fills", "--store", url, "--account", "acct",
                             "--min-ts", str(int((T0 + dt.timedelta(minutes=1)).timestamp()))])
    assert len(since.stdout.splitlines()) == 2
    pos = run.invoke(cli, ["positions", "--store", url, "--account", "acct"])
    ledger = Ledger()
    for er in ers:
        ledger.add(translate.fill_from_report(er))
    assert json.loads(pos.stdout)["market_positions"] == \
        [json.loads(p.model_dump_json()) for p in ledger.market_positions()]
    table = run.invoke(cli, ["positions", "--store", url, "--account", "acct", "--table"])
    assert "KXA-26-T1" in table.stdout and "POSITION FP" in table.stdout
    target = tmp_path / "fills.csv"
    exp = run.invoke(cli, ["export", "--store", url, "--account", "acct", "--format", "csv", "-o", str(target)])
    assert exp.exit_code == 0, exp.output
    rows = list(csv.DictReader(open(target)))
    assert [r["fill_id"] for r in rows] == ["t0", "t1", "t2"] and rows[0]["yes_price_dollars"] == "0.4000"


def test_one_malformed_stored_report_is_named_and_skipped(tmp_path):
    """A Trade report stored without LastPx/LastQty (150=F, no 31/32) and one that no longer decodes
    do not take the account's fills and positions down: each is named with its ExecID on stderr,
    and the rest of the view is served."""
    url = f"sqlite:///{tmp_path / 'd.db'}"
    good = [trade(0, Side.BUY, "0.40", 5, "KXA-26-T1"), trade(2, Side.BUY, "0.55", 1, "KXB-26-T2")]
    bad = trade(1, Side.SELL, "0.30", 2, "KXA-26-T1").model_copy(update={"last_px": None, "last_qty": None})
    raw = raw_of(bad, Units.DOLLARS)
    assert "\x01150=F\x01" in raw and "\x0131=" not in raw and "\x0132=" not in raw
    garbled = trade(3, Side.BUY, "0.20", 1, "KXA-26-T1")
    store = open_store(url)
    store.put([StoredReport.from_model("acct", "event", er, raw_of(er, Units.DOLLARS), units=Units.DOLLARS) for er in good]
              + [StoredReport.from_model("acct", "event", bad, raw, units=Units.DOLLARS),
                 StoredReport.from_model("acct", "event", garbled,
                                         re.sub("\x0131=[^\x01]*", "\x0131=abc", raw_of(garbled, Units.DOLLARS)),
                                         units=Units.DOLLARS)])
    store.close()
    run = CliRunner()
    out = run.invoke(cli, ["fills", "--store", url, "--account", "acct"])
    assert out.exit_code == 0, out.output
    assert [json.loads(line) for line in out.stdout.splitlines()] == \
        [json.loads(translate.fill_from_report(er).model_dump_json()) for er in good]
    assert "ExecID 2;1" in out.stderr and "LastPx(31)/LastQty(32)" in out.stderr
    # a novel enum value would be read leniently (issue 10); an unreadable price cannot be
    assert "ExecID 4;3" in out.stderr and "31" in out.stderr
    pos = run.invoke(cli, ["positions", "--store", url, "--account", "acct"])
    assert pos.exit_code == 0, pos.output
    ledger = Ledger()
    for er in good:
        ledger.add(translate.fill_from_report(er))
    assert json.loads(pos.stdout)["market_positions"] == \
        [json.loads(p.model_dump_json()) for p in ledger.market_positions()]
    assert "ExecID 2;1" in pos.stderr
