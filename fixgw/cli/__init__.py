"""fixgw's command line (click): parse, validate, delegate. No protocol logic here.

Beside the commands: ``check`` (``fixgw check CONFIG``: every problem a config has) and
``demo`` (``make demo``: the simulator, two gateways, a few trades, the drop copy).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click

from fixgw.errors import FixgwError
from fixgw.control.schema import MAX_WAIT


def main() -> None:
    try:
        cli(standalone_mode=True)
    except FixgwError as e:
        click.echo(f"fixgw: error: {e}", err=True)
        sys.exit(2)


@click.group(help="Kalshi FIX gateway: sessions, order entry, drop copy, simulator.")
@click.version_option(package_name="fixgw")
def cli() -> None:
    pass


@cli.command(help="Write a 2048-bit RSA key pair for a Kalshi API key and print the public key to upload.")
@click.argument("private_key", type=click.Path(dir_okay=False, path_type=Path))
def keygen(private_key: Path) -> None:
    from fixgw.signing import generate_keypair

    priv, pub = generate_keypair(private_key)
    click.echo(f"private key: {priv} (mode 0600; keep it secret)", err=True)
    click.echo(f"public key:  {pub} (upload it in your Kalshi account's API keys page)", err=True)
    click.echo(pub.read_text(), nl=False)


@cli.command(help="Run the local Kalshi FIX simulator (TLS acceptor) until SIGTERM/SIGINT.")
@click.option("--state", "state_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory for stores, logs and the control socket.")
@click.option("--keys", "keys_dir", type=click.Path(file_okay=False, exists=True, path_type=Path), required=True,
              help="Registered public keys: KEYS/{event,margin}/<api-key-id>.pub.pem")
@click.option("--tls-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Generate a throw-away CA and server certificate here (clients pin TLS_DIR/ca.pem).")
@click.option("--cert", "cert_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--key", "key_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--event-port-base", type=int, default=8228, show_default=True,
              help="KalshiNR port; DC and RT follow at +1 and +2.")
@click.option("--margin-port-base", type=int, default=9228, show_default=True)
@click.option("--no-message-log", is_flag=True, help="Log session events only, not every message.")
@click.option("--rest-port", type=int, help="Also serve the ledger's Kalshi REST endpoints (portfolio/fills, "
              "portfolio/positions) on 127.0.0.1:PORT, signed with the registered keys.")
def sim(state_dir, keys_dir, tls_dir, cert_file, key_file, event_port_base, margin_port_base,
        no_message_log, rest_port) -> None:
    from fixgw.certs import make_tls
    from fixgw.config import Product
    from fixgw.sim.exchange import SimOptions
    from fixgw.sim.run import run

    if cert_file is None or key_file is None:
        if tls_dir is None:
            raise click.UsageError("give --cert and --key, or --tls-dir to generate throw-away ones")
        tls = make_tls(tls_dir)
        cert_file, key_file = tls.cert_file, tls.key_file
    opts = SimOptions(state_dir=state_dir, keys_dir=keys_dir, cert_file=cert_file, key_file=key_file,
                      port_base={Product.EVENT: event_port_base, Product.MARGIN: margin_port_base},
                      log_messages=not no_message_log)
    sys.exit(run(opts, state_dir / "sim.sock", rest_port=rest_port))


def _register_recorder() -> None:
    from fixgw.recorder.commands import COMMANDS

    for command in COMMANDS:
        cli.add_command(command)


_register_recorder()


def _register_api() -> None:
    from fixgw.api.commands import COMMANDS

    for command in COMMANDS:
        cli.add_command(command)


_register_api()


# -- the gateway process and its operators --------------------------------------------
class Failed(click.ClickException):
    """A refused or failed operator command: its reason on stderr, exit status 1."""

    def show(self, file=None) -> None:
        click.echo(f"fixgw: error: {self.message}", err=True)


_WAIT = click.FloatRange(0, MAX_WAIT)  # seconds a command waits for its answer


def _target(f):
    """--config/--socket: which running gateway a command talks to."""
    f = click.option("--socket", "socket_path", type=click.Path(dir_okay=False, path_type=Path),
                     envvar="FIXGW_SOCKET", help="The gateway's control socket [env FIXGW_SOCKET].")(f)
    return click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
                        envvar="FIXGW_CONFIG",
                        help="The gateway's config; its socket is STATE_DIR/control.sock [env FIXGW_CONFIG].")(f)


def _call(socket_path: Path | None, config_path: Path | None, payload: dict, timeout: float = 30.0) -> dict:
    from fixgw.control import client

    if socket_path is None:
        if config_path is None:
            raise click.UsageError("which gateway? give -c CONFIG (the socket is STATE_DIR/control.sock) "
                                   "or --socket PATH (or set FIXGW_CONFIG / FIXGW_SOCKET)")
        try:
            socket_path = client.socket_for(config_path)
        except FixgwError as e:
            raise Failed(str(e)) from None
    try:
        return client.request(socket_path, payload, timeout)
    except FixgwError as e:
        raise Failed(str(e)) from None


def _echo_json(data: dict) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def _when(ts: float | None) -> str | None:
    if ts is None:
        return None
    t = dt.datetime.fromtimestamp(ts, dt.timezone.utc)
    same_day = t.date() == dt.datetime.now(dt.timezone.utc).date()
    return t.strftime("%H:%M:%SZ" if same_day else "%Y-%m-%d %H:%M:%SZ")


ERRORS_SHOWN = 5  # per session in `fixgw status`; `--json` has every kept error


def _status_rows(sessions: list[dict]) -> tuple[list[dict], list[dict]]:
    rows, counters = [], []
    for s in sessions:
        state = s["state"] + (f" ({s['hold']} hold{', retry in %gs' % s['retry_in'] if s.get('retry_in') else ''})"
                              if s.get("hold") else "")
        if s.get("in_schedule") is False:
            state += " [outside schedule]"
        error = s.get("last_error")
        kind = f"{s['product']} {s['type']}" + (" listener" if s["listener"] else "")
        rows.append({"session": s["name"], "kind": kind,
                     "state": state, "endpoint": f"{s['host']}:{s['port']}", "target": s["target"],
                     "seq_in": s["next_in"], "seq_out": s["next_out"], "last_msg": _when(s.get("last_in")),
                     "connected_since": _when(s.get("connected_since")),
                     "last_error": error if not error or len(error) <= 70 else error[:67] + "..."})
        m = s.get("metrics") or {}
        p50, p99 = m.get("ack_p50_us"), m.get("ack_p99_us")
        counters.append({"session": s["name"], "in": m.get("in"), "out": m.get("out"),
                         "rejects": f"{m.get('rejects_in', 0)}/{m.get('rejects_out', 0)}",
                         "decode_errors": m.get("decode_errors"), "acks": m.get("acks"),
                         "p50": f"{p50:.0f}us" if p50 is not None else None,
                         "p99": f"{p99:.0f}us" if p99 is not None else None,
                         "connects": f"{m.get('connects', 0)} ({m.get('failed_connects', 0)} failed)"})
    return rows, counters


@cli.command(help="Run a gateway in the foreground: every session of CONFIG, a control socket for the "
                  "commands below, structured logs on stderr. SIGTERM/SIGINT log out every session and exit 0.")
@click.argument("config", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--socket", "socket_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Serve the control socket here instead of STATE_DIR/control.sock.")
@click.option("--user-id", help="Kalshi user_id for orders and WebSocket messages (overrides CONFIG's user_id).")
def run(config: Path, socket_path: Path | None, user_id: str | None) -> None:
    from fixgw.control.main import run as run_gateway

    sys.exit(run_gateway(config, socket_path, user_id=user_id))


@cli.command(help="Show every session of a running gateway: state, endpoint, TargetCompID, sequence numbers, "
                  "last message, connected since, last error, and its counters.")
@_target
@click.option("--json", "as_json", is_flag=True, help="Everything, with full counters and latency histograms.")
def status(config_path, socket_path, as_json: bool) -> None:
    from fixgw.table import render

    answer = _call(socket_path, config_path, {"cmd": "status", "metrics": as_json})
    if as_json:
        _echo_json(answer)
        return
    rows, counters = _status_rows(answer["sessions"])
    click.echo(f"gateway pid {answer['pid']}, config {answer['config']}, up since {_when(answer['started'])}\n")
    click.echo(render(rows, ["session", "kind", "state", "endpoint", "target", "seq_in", "seq_out", "last_msg",
                             "connected_since", "last_error"],
                      ["SESSION", "KIND", "STATE", "ENDPOINT", "TARGET", "SEQ IN", "SEQ OUT", "LAST MSG",
                       "CONNECTED SINCE", "LAST ERROR"]))
    click.echo()
    click.echo(render(counters, ["session", "in", "out", "rejects", "decode_errors", "acks", "p50", "p99", "connects"],
                      ["SESSION", "MSGS IN", "MSGS OUT", "REJECTS IN/OUT", "DECODE ERRORS", "ACKS",
                       "ACK P50", "ACK P99", "CONNECTS"]))
    errors = [{"session": s["name"], "at": _when(e["at"]), "error": e["error"] + (
        f" (x{e['count']})" if e.get("count", 1) > 1 else "")} for s in answer["sessions"]
        for e in (s.get("errors") or [])[-ERRORS_SHOWN:]]
    if errors:  # why sessions failed, newest last per session (the full history is in --json)
        click.echo()
        click.echo("ERRORS")
        click.echo(render(errors, ["session", "at", "error"], ["SESSION", "AT", "ERROR"]))


def _session_answer(answer: dict, goal: str) -> None:
    seqs = f"next out {answer.get('next_out')}, next in {answer.get('next_in')}"
    note = f"; {answer['note']}" if answer.get("note") else ""
    click.echo(f"{answer['session']}: {answer['state']} ({seqs}){note}")
    if not answer.get("reached") and not answer.get("note"):
        raise Failed(f"{answer['session']} is {answer['state']}, not {goal}"
                     + (f": {answer['last_error']}" if answer.get("last_error") else ""))


@cli.command(help="Log a session on (again) and wait for Kalshi's answer.")
@_target
@click.argument("session")
@click.option("--wait", type=_WAIT, default=15.0, show_default=True, help="Seconds to wait for the Logon.")
def logon(config_path, socket_path, session: str, wait: float) -> None:
    _session_answer(_call(socket_path, config_path, {"cmd": "logon", "session": session, "wait": wait},
                          wait + 10), "logged-on")


@cli.command(help="Log a session out and keep it out (no reconnect) until `fixgw logon`.")
@_target
@click.argument("session")
@click.option("--wait", type=_WAIT, default=10.0, show_default=True, help="Seconds to wait for the Logout.")
def logout(config_path, socket_path, session: str, wait: float) -> None:
    _session_answer(_call(socket_path, config_path, {"cmd": "logout", "session": session, "wait": wait},
                          wait + 10), "logged out")


@cli.command("reset-seqnum", help="Reset a session's sequence numbers to 1: Logout, reset, Logon with 141=Y. "
                                  "Refused on RT sessions unless --force (RT keeps them so Kalshi can resend).")
@_target
@click.argument("session")
@click.option("--force", is_flag=True, help="Reset an RT session too, giving up resend of everything before.")
@click.option("--wait", type=_WAIT, default=15.0, show_default=True, help="Seconds to wait for the new Logon.")
def reset_seqnum(config_path, socket_path, session: str, force: bool, wait: float) -> None:
    answer = _call(socket_path, config_path, {"cmd": "reset-seqnum", "session": session, "force": force,
                                              "wait": wait}, wait + 10)
    click.echo(f"{session}: sequence numbers reset to 1")
    _session_answer(answer, "logged-on")


def _ack_text(answer: dict) -> str:
    from fixgw.models.fix import ExecType, OrdStatus, Side, TimeInForce

    if answer.get("ack") is None:
        return f"{answer['request']} cl_ord_id={answer['cl_ord_id']}: {answer['note']}"
    names = {"exec_type": ExecType, "ord_status": OrdStatus, "side": Side, "time_in_force": TimeInForce}
    parts = []
    for key, value in answer["ack"].items():
        if value is None or value == [] or value == "" or (key == "poss_dup" and not value):
            continue
        if key in names:
            value = f"{value}({names[key](value).name})"
        parts.append(f"{key}={value}")
    return f"{answer['ack_type']} " + " ".join(parts)


REJECTED = 3  # exit status: the exchange (or the session) rejected the request


def _trade(config_path, socket_path, payload: dict, as_json: bool) -> None:
    answer = _call(socket_path, config_path, payload, float(payload.get("wait", 10)) + 10)
    if as_json:
        _echo_json(answer)
    else:
        click.echo(_ack_text(answer))
    if answer.get("rejected"):
        sys.exit(REJECTED)
    if answer.get("ack") is None:
        sys.exit(1)


_json_opt = click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
_wait_opt = click.option("--wait", type=_WAIT, default=10.0, show_default=True,
                         help="Seconds to wait for the answer.")


@cli.command(help="Send a limit order and print Kalshi's answer. PRICE in dollars (event: the YES price); "
                  "SIDE buy/yes/bid or sell/no/ask. Exit status 3 when the exchange rejects it.")
@_target
@click.argument("session")
@click.argument("symbol")
@click.argument("side")
@click.argument("price")
@click.argument("quantity")
@click.option("--tif", type=click.Choice(["day", "gtc", "ioc", "fok", "gtd"]), help="TimeInForce (59).")
@click.option("--expire-time", help="GTD expiry, ISO 8601 with a zone (126).")
@click.option("--post-only", is_flag=True, help="Rest or be cancelled, never take (18=6).")
@click.option("--stp", type=click.Choice(["taker", "maker"]), help="Self-trade prevention (2964).")
@click.option("--subaccount", type=int, help="Subaccount 0-63 (79).")
@click.option("--order-group", "order_group_id", help="Order group UUID (526).")
@click.option("--cancel-on-pause", is_flag=True, help="Cancel if trading pauses (21006).")
@click.option("--max-cost", help="Max execution cost in dollars (21009, event contracts).")
@click.option("--exchange-index", type=int, help="Exchange shard (100), -1 to auto-route.")
@click.option("--cl-ord-id", help="ClOrdID (default: a new UUID).")
@click.option("--subtrader", "subtrader_id", help="FCM members: the sub-trader's UUID (453=1, 448, 452=24).")
@_wait_opt
@_json_opt
def order(config_path, socket_path, session, symbol, side, price, quantity, tif, expire_time, post_only, stp,
          subaccount, order_group_id, cancel_on_pause, max_cost, exchange_index, cl_ord_id, subtrader_id, wait,
          as_json) -> None:
    _trade(config_path, socket_path, {
        "cmd": "order", "session": session, "symbol": symbol, "side": side, "price": price, "quantity": quantity,
        "time_in_force": tif, "expire_time": expire_time, "post_only": post_only,
        "stp": {"taker": 1, "maker": 2}.get(stp), "subaccount": subaccount, "order_group_id": order_group_id,
        "cancel_on_pause": cancel_on_pause, "max_cost": max_cost, "exchange_index": exchange_index,
        "cl_ord_id": cl_ord_id, "subtrader": subtrader_id, "wait": wait}, as_json)


@cli.command(help="Cancel an order this gateway sent (by its ClOrdID) and print Kalshi's answer. "
                  "Exit status 3 when the exchange rejects the cancel.")
@_target
@click.argument("session")
@click.argument("cl_ord_id")
@_wait_opt
@_json_opt
def cancel(config_path, socket_path, session, cl_ord_id, wait, as_json) -> None:
    _trade(config_path, socket_path, {"cmd": "cancel", "session": session, "cl_ord_id": cl_ord_id, "wait": wait},
           as_json)


@cli.command("mass-cancel", help="Cancel every order of a KalshiNR session (or one subaccount's).")
@_target
@click.argument("session")
@click.option("--subaccount", type=int, help="Only this subaccount (79).")
@_wait_opt
@_json_opt
def mass_cancel(config_path, socket_path, session, subaccount, wait, as_json) -> None:
    _trade(config_path, socket_path, {"cmd": "mass-cancel", "session": session, "subaccount": subaccount,
                                      "wait": wait}, as_json)


@cli.command(help="Check a config before running it: options, keys and their permissions, the CA file, "
                  "dictionaries, host names. Prints every problem with its fix; exit 1 if there is one.")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
def check(config: Path) -> None:
    from fixgw.cli.check import check as check_config

    problems = check_config(config)
    for p in problems:
        click.echo(str(p))
    if problems:
        click.echo(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {config}", err=True)
        sys.exit(1)
    click.echo(f"{config}: ok")
