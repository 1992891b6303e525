"""``fixgw check CONFIG``: every problem a config has, each with its fix, before anything runs.

``fixgw.config.load`` stops at the first bad thing because a gateway must not
start on a half-valid config; an operator preparing one wants the whole list.
So this module reads the raw TOML itself and checks what it can even when other
parts are invalid: every option (pydantic reports all field errors at once),
every ``${VAR}``, every private key (exists, mode 0600, an RSA PEM of 2048+
bits), the CA file (present, PEM certificates), the dictionaries (QuickFIX's own
``DataDictionary`` loads them), every host (``getaddrinfo`` with a short
timeout), and finally the rendered QuickFIX settings.
"""

from __future__ import annotations

import difflib
import os
import re
import socket
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from fixgw.config import SPEC_DIR, GatewayConfig, SessionConfig, expand
from fixgw.errors import KeyFileError
from fixgw.kalshi import BASE_PORT, HOSTS, Kind, Product, endpoint
from fixgw.options import LimitsConfig
from fixgw.signing import loose_mode, read_private_key

PIN_HINT = ("save the certificate Kalshi's host presents: openssl s_client -showcerts -connect "
            "{host}:{port} </dev/null | openssl x509 > {path}")

# Valid values per option: the fix for an invalid value says what would be valid.
VALID: dict[str, str] = {
    "environment": '"demo", "prod" or "local"',
    "state_dir": "a directory path (stores, logs, control socket)",
    "ca_file": "the PEM certificate(s) to pin",
    "port_base": "a table like {event = 8228, margin = 9228}",
    "log_messages": "true or false",
    "reconnect_interval": "whole seconds 1-300",
    "tier": '"basic", "advanced", "premier" or "prime"',
    "rate_limit_mode": '"queue" or "refuse"',
    "dictionary_dir": "a directory holding kalshi-fixt11.xml, kalshi-event.xml and kalshi-margin.xml "
                      f"(default {SPEC_DIR})",
    "time_zone": 'an IANA zone such as "America/New_York" or "UTC"',
    "maintenance_window": "true or false (default: true for demo/prod, false for local)",
    "reconnect_backoff_max": "whole seconds 1-3600, at least reconnect_interval",
    "party_id": "this account's MarketSettlementPartyID(20109) in settlement reports (a string)",
    "profile": '"default" (the JSON Kalshi returns today) or "seed" (integer cents next to *_dollars)',
    "starting_balance": 'dollars as a string, e.g. "1000.00" (GET /portfolio/balance starts there)',
    "session": "one or more [[session]] tables",
    "limits": "a [limits] table: max_quantity, max_notional, max_symbol_length, control_clients, "
              "control_idle_timeout",
    "max_quantity": "whole contracts per order, at least 1 (default 1000000)",
    "max_notional": "whole dollars per order, at least 1 (default 1000000)",
    "max_symbol_length": "characters, 1-4096 (default 128)",
    "control_clients": "connections, 1-1024 (default 64)",
    "control_idle_timeout": "whole seconds, 1-86400 (default 60)",
    "name": "1-64 of letters, digits, _ . - starting with a letter or digit",
    "product": '"event" or "margin"',
    "type": '"NR", "RT" or "DC"',
    "api_key_id": "the UUID of the Kalshi API key, e.g. \"${KALSHI_NR_KEY_ID}\"",
    "private_key": "the PKCS#8 PEM written by `fixgw keygen PATH`",
    "listener": "true or false (NR and RT only)",
    "host": "a host name or address",
    "port": "1-65535",
    "heartbeat": "whole seconds 4-300",
    "reset_on_logon": "true or false (RT only; NR/DC always reset)",
    "cancel_on_disconnect": "true or false (false on listeners)",
    "use_dollars": "true or false (margin: always true, remove it)",
    "retention_hours": "1-72 (RT only)",
    "receive_settlement_reports": "true or false (event-contract RT only)",
    "start_time": '"HH:MM:SS" in time_zone, together with end_time',
    "end_time": '"HH:MM:SS" in time_zone, together with start_time',
    "start_day": "monday..sunday (or mon..sun), together with end_day",
    "end_day": "monday..sunday (or mon..sun), together with start_day",
}


@dataclass(frozen=True)
class Problem:
    option: str  # e.g. "session.0.heartbeat", "ca_file"
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.option}: {self.message} -> fix: {self.fix}"


def check(config_path: str | os.PathLike, *, resolve_timeout: float = 3.0) -> list[Problem]:
    """All problems of one config file; an empty list means ``fixgw run`` will start it."""
    path = Path(config_path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return [Problem("config", f"{path} does not exist", "give the path of your gateway's TOML file")]
    except tomllib.TOMLDecodeError as e:
        return [Problem("config", f"{path} is not valid TOML: {e}", "fix the syntax at that line")]
    base = path.resolve().parent
    problems: list[Problem] = []
    data = expand(data, missing=lambda where, name: problems.append(
        Problem(where, f"environment variable {name} is not set", f"export {name}=<value> before running fixgw")))
    config = _validate(data, problems)
    raw_sessions = data.get("session") if isinstance(data.get("session"), list) else []
    sessions = [s for s in raw_sessions if isinstance(s, dict)]
    problems += _keys(sessions, base)
    problems += _ca_file(data, base, sessions)
    problems += _dictionaries(data, base, sessions)
    problems += _hosts(data, sessions, resolve_timeout)
    if config is not None and not problems:
        problems += _render(data, base)
    return problems


def _validate(data: dict, problems: list[Problem]) -> GatewayConfig | None:
    try:
        return GatewayConfig.model_validate(data)
    except ValidationError as e:
        for err in e.errors():
            loc = [str(p) for p in err["loc"]]
            msg = err["msg"].removeprefix("Value error, ")
            if any(p.option == ".".join(loc) and "environment variable" in p.message for p in problems):
                continue  # an unset ${VAR} already explains this one
            problems.append(_option_problem(loc, msg, err["type"]))
    return None


def _option_problem(loc: list[str], msg: str, kind: str) -> Problem:
    field = loc[-1] if loc else "config"
    in_session = len(loc) >= 2 and loc[0] == "session"
    if not loc or field.isdigit():  # a rule across options: the message names the option
        named = [w for w in re.split(r"[:\s,]+", msg) if w in VALID]
        if named:
            field = named[0]
            loc = [*loc, field]
    option = ".".join(loc) or "config"
    if kind == "extra_forbidden":
        table = SessionConfig if in_session else {"limits": LimitsConfig}.get(loc[0], GatewayConfig)
        known = list(table.model_fields)
        close = difflib.get_close_matches(field, known, n=1)
        return Problem(option, f"unknown option {field!r}",
                       f"rename it to {close[0]}" if close else
                       f"remove it; valid options here: {', '.join(known)}")
    if kind == "missing":
        return Problem(option, "required option is missing", f"add {field} = <{VALID.get(field, 'a value')}>")
    return Problem(option, msg, f"use {VALID[field]}" if field in VALID else "see README, Configure a gateway")


def _where(i: int, s: dict) -> str:
    return f"session {s['name']!r}" if isinstance(s.get("name"), str) else f"session {i}"


def _keys(sessions: list[dict], base: Path) -> list[Problem]:
    out = []
    for i, s in enumerate(sessions):
        if not isinstance(s.get("private_key"), str):
            continue
        key = base / Path(s["private_key"]).expanduser()
        option = f"session.{i}.private_key"
        if not key.is_file():
            out.append(Problem(option, f"{key} ({_where(i, s)}) does not exist",
                               f"fixgw keygen {key} and upload the .pub.pem beside it to Kalshi"))
            continue
        mode = loose_mode(key)
        if mode is not None:
            out.append(Problem(option, f"{key} ({_where(i, s)}) is readable by group/others "
                                       f"(mode {mode:04o}); it is a trading credential", f"chmod 600 {key}"))
        owner = key.stat().st_uid
        if owner != os.getuid():
            out.append(Problem(option, f"{key} belongs to uid {owner}, not to the user running fixgw",
                               f"chown {os.getuid()} {key}"))
        try:
            read_private_key(key)
        except KeyFileError as e:
            out.append(Problem(option, str(e), "point private_key at the PEM written by fixgw keygen"))
    return out


def _first_endpoint(data: dict, sessions: list[dict]) -> tuple[str, int]:
    """Where the first session that names its product and type connects, for the pinning hint."""
    env = data.get("environment", "demo")
    bases = data.get("port_base") if isinstance(data.get("port_base"), dict) else {}
    for s in sessions:
        try:
            product, kind = Product(s.get("product")), Kind(s.get("type"))
            host, port = endpoint(env, product, kind, {Product(p): b for p, b in bases.items()})
        except (ValueError, KeyError, TypeError):
            continue
        return s.get("host") or host, s.get("port") or port
    return "HOST", BASE_PORT


def _ca_file(data: dict, base: Path, sessions: list[dict]) -> list[Problem]:
    from cryptography import x509

    raw = data.get("ca_file")
    host, port = _first_endpoint(data, sessions)
    if not isinstance(raw, str):
        return [Problem("ca_file", "required: fixgw never runs TLS without a pinned certificate",
                        "add ca_file = \"kalshi.pem\" and " + PIN_HINT.format(host=host, port=port, path="kalshi.pem"))]
    path = base / Path(raw).expanduser()
    if not path.is_file():
        return [Problem("ca_file", f"{path} does not exist", PIN_HINT.format(host=host, port=port, path=path))]
    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except (ValueError, PermissionError) as e:
        why = "cannot be read" if isinstance(e, PermissionError) else "holds no PEM certificate"
        return [Problem("ca_file", f"{path} {why}", PIN_HINT.format(host=host, port=port, path=path))]
    import datetime as dt
    now = dt.datetime.now(dt.timezone.utc)
    if all(c.not_valid_after_utc < now for c in certs):
        return [Problem("ca_file", f"{path}: every certificate in it has expired",
                        PIN_HINT.format(host=host, port=port, path=path))]
    return []


def _dictionaries(data: dict, base: Path, sessions: list[dict]) -> list[Problem]:
    from fixgw.adapter.sessions import dictionary_problem

    raw = data.get("dictionary_dir")
    directory = base / Path(raw).expanduser() if isinstance(raw, str) else SPEC_DIR
    products = {s.get("product") for s in sessions} & {p.value for p in Product} or {p.value for p in Product}
    out = []
    if not directory.is_dir():
        return [Problem("dictionary_dir", f"{directory} is not a directory",
                        f"remove dictionary_dir to use the bundled {SPEC_DIR}, or point it at a copy of it")]
    for name in ["kalshi-fixt11.xml", *(f"kalshi-{p}.xml" for p in sorted(products))]:
        path = directory / name
        if not path.is_file():
            out.append(Problem("dictionary_dir", f"{path} does not exist",
                               f"copy it from {SPEC_DIR} (or regenerate with `make spec`)"))
            continue
        why = dictionary_problem(path)
        if why is not None:
            out.append(Problem("dictionary_dir", f"QuickFIX cannot load {path}: {why}",
                               f"restore it from {SPEC_DIR} (or regenerate with `make spec`)"))
    return out


def _resolve(host: str, timeout: float) -> str | None:
    """None when ``host`` resolves within ``timeout``, else why not (getaddrinfo has no timeout)."""
    result: list[str | None] = ["timed out"]

    def work() -> None:
        try:
            socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
            result[0] = None
        except (socket.gaierror, UnicodeError) as e:
            result[0] = str(e)

    t = threading.Thread(target=work, daemon=True)
    t.start()
    t.join(timeout)
    return result[0] if not t.is_alive() else f"no answer within {timeout:g} s"


def _hosts(data: dict, sessions: list[dict], timeout: float) -> list[Problem]:
    env = data.get("environment", "demo")
    wanted: dict[str, str] = {}
    for i, s in enumerate(sessions):
        try:
            product = Product(s.get("product"))
        except ValueError:
            continue
        host = s.get("host") if isinstance(s.get("host"), str) else HOSTS.get((env, product))
        if host:
            wanted.setdefault(host, f"session.{i}.host" if s.get("host") else "environment")
    out = []
    for host, option in wanted.items():
        why = _resolve(host, timeout)
        if why:
            out.append(Problem(option, f"host {host} does not resolve ({why})",
                               "check DNS and the host name (or use environment = \"local\" for the simulator)"))
    return out


def _render(data: dict, base: Path) -> list[Problem]:
    from fixgw.adapter import sessions
    from fixgw.config import parse
    from fixgw.errors import ConfigError

    try:
        why = sessions.settings_problem(sessions.render(parse(data, base=base)))
    except ConfigError as e:
        why = str(e)
    if why is None:
        return []
    return [Problem("quickfix", f"QuickFIX refuses the rendered settings: {why}",
                    "report this: fixgw should have refused the config earlier")]
