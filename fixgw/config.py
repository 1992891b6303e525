"""Gateway configuration: one TOML file, validated here, rendered by the adapter.

The file names the environment, the TLS pin and the sessions; everything
Kalshi-specific about a session (port, TargetCompID, reset rules, Logon flags)
follows from its ``product`` and ``type`` through the tables below, so a user
cannot configure a session Kalshi would refuse. Pure core: no ``quickfix``.

Example::

    environment = "demo"              # demo | prod | local
    state_dir = "var/fixgw"
    ca_file = "kalshi-fix.pem"        # the certificate you pin

    [[session]]
    name = "event-nr"
    product = "event"                 # event | margin
    type = "NR"                       # NR | RT | DC
    api_key_id = "${KALSHI_NR_KEY_ID}"
    private_key = "~/.kalshi/nr.pem"
"""

from __future__ import annotations

import os
import re
import tomllib
import uuid
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fixgw.fix import tags
from fixgw.errors import ConfigError
from fixgw.paths import CFG_DIR, SPEC_DIR  # noqa: F401 - CFG_DIR is re-exported (sessions, sim, tests)


class Product(StrEnum):
    EVENT = "event"
    MARGIN = "margin"


class Kind(StrEnum):
    NR = "NR"
    RT = "RT"
    DC = "DC"


class Rules(BaseModel):
    """What Kalshi requires of one session type."""

    model_config = ConfigDict(frozen=True)
    target: str
    port_offset: int  # from 8228
    reset_on_logon: bool  # 141=Y on every Logon
    retransmission: bool  # ResendRequest/SequenceReset supported
    listener_allowed: bool
    order_entry: bool


RULES: dict[Kind, Rules] = {
    Kind.NR: Rules(target="KalshiNR", port_offset=0, reset_on_logon=True, retransmission=False,
                   listener_allowed=True, order_entry=True),
    Kind.DC: Rules(target="KalshiDC", port_offset=1, reset_on_logon=True, retransmission=False,
                   listener_allowed=False, order_entry=False),
    Kind.RT: Rules(target="KalshiRT", port_offset=2, reset_on_logon=False, retransmission=True,
                   listener_allowed=True, order_entry=True),
}


BASE_PORT = 8228
# Order-entry hosts (drop copy shares them). "local" is the bundled simulator.
HOSTS: dict[tuple[str, Product], str] = {
    ("prod", Product.EVENT): "mm.fix.elections.kalshi.com",
    ("demo", Product.EVENT): "fix.demo.kalshi.co",
    ("prod", Product.MARGIN): "margin-mm.fix.elections.kalshi.com",
    ("demo", Product.MARGIN): "margin-fix.demo.kalshi.co",
    ("local", Product.EVENT): "127.0.0.1",
    ("local", Product.MARGIN): "127.0.0.1",
}
# QuickFIX's acceptor binds every interface, so on one machine the simulator's
# margin gateway needs its own ports: it listens 1000 above the event ones.
LOCAL_MARGIN_PORT_BASE = BASE_PORT + 1000

# Kalshi's weekly maintenance: Thursday 03:00-05:00 ET. Logged on from Thursday 05:00 to the
# next Thursday 03:00 (QuickFIX: LogonDay/LogonTime .. LogoutDay/LogoutTime).
MAINTENANCE_ZONE = "America/New_York"
MAINTENANCE_SCHEDULE = ("thursday", "05:00:00", "thursday", "03:00:00")
WEEKDAYS = {d[:n]: d for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
            for n in (3, len(d))}
_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$"

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class SessionConfig(BaseModel):
    """One FIX session of the gateway. Each needs its own API key (Kalshi's rule)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    product: Product
    type: Kind
    api_key_id: str
    private_key: Path
    listener: bool = False
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    heartbeat: int = Field(default=30, gt=3, le=300)
    reset_on_logon: bool | None = None  # RT only: True gives up continuity
    cancel_on_disconnect: bool = False  # 8013
    use_dollars: bool | None = None  # 21005; always on for margin
    skip_pending: bool = False  # 21011; forced on listeners
    use_expired_ord_status: bool = False  # 21012
    ioc_cancel_report: bool = False  # 21007
    preserve_original_qty: bool = False  # 21008; forced on listeners and KalshiDC (a recorder's
    # only record of an order: with the default 38 = CumQty + LeavesQty an unfilled IOC's reports
    # say 0, and REST initial_count could not be told)
    always_new_before_trade: bool = False  # 21026
    split_collateral_return: bool = False  # 21027
    receive_settlement_reports: bool = False  # 20127, event RT only
    retention_hours: int | None = Field(default=None, ge=1, le=72)  # 20200, RT only
    # When the session may be logged on, in GatewayConfig.time_zone (rendered as QuickFIX
    # LogonTime/LogoutTime/LogonDay/LogoutDay; see fixgw.adapter.sessions for why not StartTime).
    start_time: str | None = Field(default=None, pattern=_TIME)  # HH:MM:SS
    end_time: str | None = Field(default=None, pattern=_TIME)
    start_day: str | None = None  # monday..sunday; with end_day, a weekly window
    end_day: str | None = None

    @field_validator("start_day", "end_day")
    @classmethod
    def _weekday(cls, v: str | None) -> str | None:
        if v is None:
            return v
        day = WEEKDAYS.get(v.strip().lower())
        if day is None:
            raise ValueError(f"{v!r} is not a day of the week (monday..sunday or mon..sun)")
        return day

    @model_validator(mode="after")
    def _schedule(self) -> "SessionConfig":
        where = f"session {self.name!r}"
        if (self.start_time is None) != (self.end_time is None):
            raise ValueError(f"{where}: start_time and end_time: give both or neither")
        if (self.start_day is None) != (self.end_day is None):
            raise ValueError(f"{where}: start_day and end_day: give both or neither")
        if self.start_day is not None and self.start_time is None:
            raise ValueError(f"{where}: start_day/end_day need start_time and end_time")
        if self.start_day is not None and self.start_day == self.end_day and self.end_time > self.start_time:
            raise ValueError(f"{where}: start_day = end_day with end_time after start_time is a whole week "
                             "to QuickFIX; to pause for part of a day give end_time before start_time")
        return self

    @field_validator("api_key_id")
    @classmethod
    def _uuid(cls, v: str) -> str:
        try:
            uuid.UUID(v)
        except ValueError:
            raise ValueError("must be the UUID of your Kalshi API key (it becomes SenderCompID)") from None
        return v

    @model_validator(mode="after")
    def _kalshi_rules(self) -> "SessionConfig":
        rules = RULES[self.type]
        where = f"session {self.name!r}"
        if self.listener and not rules.listener_allowed:
            raise ValueError(f"{where}: listener: only NR and RT sessions can be listener sessions")
        if self.listener and self.cancel_on_disconnect:
            raise ValueError(f"{where}: cancel_on_disconnect must be false on a listener session")
        if self.reset_on_logon is not None and self.type is not Kind.RT:
            if not self.reset_on_logon:
                raise ValueError(f"{where}: reset_on_logon: {self.type} sessions must reset (141=Y) on every Logon")
        if self.product is Product.MARGIN and self.use_dollars is False:
            raise ValueError(f"{where}: use_dollars: margin prices are always dollars; remove the option")
        if self.receive_settlement_reports and (self.type is not Kind.RT or self.product is Product.MARGIN):
            raise ValueError(f"{where}: receive_settlement_reports: only event-contract RT sessions get settlement reports")
        if self.retention_hours is not None and self.type is not Kind.RT:
            raise ValueError(f"{where}: retention_hours: only RT sessions retain messages for resend")
        return self

    @property
    def rules(self) -> Rules:
        return RULES[self.type]

    @property
    def target(self) -> str:
        return self.rules.target

    @property
    def resets(self) -> bool:
        return self.rules.reset_on_logon or bool(self.reset_on_logon)

    @property
    def dollars(self) -> bool:
        return self.product is Product.MARGIN or bool(self.use_dollars)

    def logon_fields(self) -> list[tuple[int, str]]:
        """Kalshi flags added to our Logon (QuickFIX adds 98, 108, 141, 1137 itself)."""
        flags: list[tuple[int, bool]] = [
            (tags.CANCEL_ORDERS_ON_DISCONNECT, self.cancel_on_disconnect),
            (tags.LISTENER_SESSION, self.listener),
            (tags.RECEIVE_SETTLEMENT_REPORTS, self.receive_settlement_reports),
            (tags.USE_DOLLARS, self.dollars),
            (tags.ENABLE_IOC_CANCEL_REPORT, self.ioc_cancel_report),
            (tags.PRESERVE_ORIGINAL_ORDER_QTY, self.preserve_original_qty or self.listener or self.type is Kind.DC),
            (tags.SKIP_PENDING_EXEC_REPORTS, self.skip_pending or self.listener),
            (tags.USE_EXPIRED_ORD_STATUS, self.use_expired_ord_status),
            (tags.ALWAYS_EMIT_NEW_BEFORE_TRADE, self.always_new_before_trade),
            (tags.SPLIT_COLLATERAL_RETURN, self.split_collateral_return),
        ]
        out = [(tag, "Y") for tag, on in flags if on]
        if self.retention_hours is not None:
            out.append((tags.MESSAGE_RETENTION_PERIOD, str(self.retention_hours)))
        return sorted(out)


class RecorderConfig(BaseModel):
    """``[recorder]``: where ``fixgw record`` stores the drop copy."""

    model_config = ConfigDict(extra="forbid")

    store: str = "sqlite:///dropcopy.db"  # relative paths resolve against state_dir
    account: str = Field(default="default", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
    batch: int = Field(default=500, ge=1, le=100_000)  # reports per durable transaction
    flush_ms: int = Field(default=50, ge=1, le=10_000)  # longest a report waits to be written
    page_clocks: int = Field(default=20_000, ge=1)  # ExecID clock ticks per EventResendRequest page
    # How long a write failing for a passing reason (database busy, PostgreSQL connection lost)
    # is retried before the recorder stops with a non-zero exit status; other failures stop it at once.
    retry_s: float = Field(default=60.0, ge=0, le=3600)


class LimitsConfig(BaseModel):
    """``[limits]``: what one order may be (checked before it is sent) and the control socket's bounds."""

    model_config = ConfigDict(extra="forbid")

    max_quantity: int = Field(default=1_000_000, ge=1)  # contracts per order (new or replace)
    max_notional: int = Field(default=1_000_000, ge=1)  # dollars one order may cost at its limit price
    max_symbol_length: int = Field(default=128, ge=1, le=4096)  # characters of a market ticker
    control_clients: int = Field(default=64, ge=1, le=1024)  # control-socket connections at once
    control_idle_timeout: int = Field(default=60, ge=1, le=86_400)  # seconds without a request


class ApiConfig(BaseModel):
    """``[api]``: ``fixgw serve`` (Kalshi's REST + WebSocket paths, /metrics) from the recorder."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"  # loopback unless you say otherwise
    port: int = Field(default=8400, ge=0, le=65535)  # 0: any free port (printed on start)
    keys: dict[str, Path] = Field(default_factory=dict)  # KALSHI-ACCESS-KEY id -> public key PEM
    max_skew_s: int = Field(default=300, ge=1)  # KALSHI-ACCESS-TIMESTAMP this far from now is refused
    ws_buffer: int = Field(default=10_000, ge=1)  # frames queued per WebSocket client before it is dropped
    # the API server process's niceness (0-19, added to the recorder's): under CPU pressure the recording goes first
    nice: int = Field(default=5, ge=0, le=19)
    profile: Literal["default", "seed"] | None = None  # REST bodies' schema profile (None: the config's profile)


class RestConfig(BaseModel):
    """``[rest]``: the account's Kalshi REST key, for ``fixgw reconcile``."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = "https://api.elections.kalshi.com/trade-api/v2"
    api_key_id: str
    private_key: Path
    subaccount: int | None = None  # None: the primary account (0)
    # FCM members: sub-traders whose positions reconcile compares, besides every one the recorder has seen
    # (one whose every report is missing from the store is found only when listed here)
    subtraders: list[str] = Field(default_factory=list)


class GatewayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    environment: Literal["demo", "prod", "local"] = "demo"
    state_dir: Path = Path("var/fixgw")
    ca_file: Path | None = None
    port_base: dict[Product, int] = Field(default_factory=dict)
    log_messages: bool = True
    reconnect_interval: int = Field(default=5, ge=1, le=300)
    tier: Literal["basic", "advanced", "premier", "prime"] = "basic"  # Kalshi API tier (write rate)
    rate_limit_mode: Literal["queue", "refuse"] = "queue"
    recorder: RecorderConfig = Field(default_factory=RecorderConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    # Kalshi's user_id of the account, for Order / MarginOrder and WebSocket messages: FIX never
    # carries it. Empty (the default) leaves those fields "", which is all fixgw can know.
    user_id: str = Field(default="", pattern=r"^([A-Za-z0-9][A-Za-z0-9_.:-]{0,63})?$")
    api: ApiConfig | None = None
    rest: RestConfig | None = None
    session: list[SessionConfig] = Field(default_factory=list, min_length=1)
    dictionary_dir: Path | None = None  # kalshi-fixt11.xml + kalshi-{event,margin}.xml; default spec/
    time_zone: str = "America/New_York"  # IANA zone of every session's start/end time
    maintenance_window: bool | None = None  # no Logon Thursday 03:00-05:00 ET; default: on unless local
    reconnect_backoff_max: int = Field(default=60, ge=1, le=3600)  # fixgw run: doubling backoff cap (s)
    party_id: str | None = None  # this account's MarketSettlementPartyID(20109) in UMS reports
    starting_balance: Decimal | None = None  # dollars: GET /portfolio/balance = this + every change (fixgw.cash)
    profile: Literal["default", "seed"] = "default"  # REST JSON schema profile (fixgw.profiles)

    @field_validator("starting_balance", mode="before")
    @classmethod
    def _money(cls, v):
        if isinstance(v, float):
            raise ValueError(f"{v!r}: write money as a string (\"1000.00\"), never a binary float")
        return v

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not an IANA time zone (e.g. America/New_York, UTC)") from None
        return v

    @model_validator(mode="after")
    def _windows(self) -> "GatewayConfig":
        if self.reconnect_backoff_max < self.reconnect_interval:
            raise ValueError(f"reconnect_backoff_max: {self.reconnect_backoff_max} is below "
                             f"reconnect_interval {self.reconnect_interval}")
        uses_kalshi = [s.name for s in self.session if s.start_time is None and self.maintenance_paused]
        if uses_kalshi and self.time_zone != MAINTENANCE_ZONE:
            raise ValueError(f"time_zone: Kalshi's maintenance window is Thursday 03:00-05:00 {MAINTENANCE_ZONE}, "
                             f"which sessions {', '.join(uses_kalshi)} follow; keep time_zone = "
                             f"\"{MAINTENANCE_ZONE}\" or give them start_time/end_time")
        return self

    @property
    def maintenance_paused(self) -> bool:
        return self.environment != "local" if self.maintenance_window is None else self.maintenance_window

    def schedule(self, s: SessionConfig) -> tuple[str | None, str, str | None, str] | None:
        """(start_day, start_time, end_day, end_time) in time_zone, or None: logged on around the clock."""
        if s.start_time is not None:
            return s.start_day, s.start_time, s.end_day, s.end_time
        if self.maintenance_paused:
            return MAINTENANCE_SCHEDULE
        return None

    @property
    def spec_dir(self) -> Path:
        return self.dictionary_dir if self.dictionary_dir is not None else SPEC_DIR

    @model_validator(mode="after")
    def _distinct(self) -> "GatewayConfig":
        names: dict[str, str] = {}
        keys: dict[str, str] = {}
        for s in self.session:
            if s.name in names:
                raise ValueError(f"session name {s.name!r} is used twice")
            names[s.name] = s.name
            if s.api_key_id in keys:
                raise ValueError(
                    f"sessions {keys[s.api_key_id]!r} and {s.name!r} share api_key_id; Kalshi allows one "
                    "connection per API key, so give each session its own key"
                )
            keys[s.api_key_id] = s.name
        return self

    def endpoint(self, s: SessionConfig) -> tuple[str, int]:
        host = s.host or HOSTS[(self.environment, s.product)]
        if s.port is not None:
            return host, s.port
        default = LOCAL_MARGIN_PORT_BASE if (self.environment == "local" and s.product is Product.MARGIN) else BASE_PORT
        return host, self.port_base.get(s.product, default) + s.rules.port_offset

    def by_name(self, name: str) -> SessionConfig:
        for s in self.session:
            if s.name == name:
                return s
        raise ConfigError(f"no session named {name!r}; configured: {', '.join(x.name for x in self.session)}")


def _expand(value: object, where: str) -> object:
    """Replace ${VAR} in strings with the environment's value (secrets stay out of files)."""
    if isinstance(value, str):
        def sub(m: re.Match[str]) -> str:
            if m.group(1) not in os.environ:
                raise ConfigError(f"{where}: environment variable {m.group(1)} is not set")
            return os.environ[m.group(1)]
        return _ENV_REF.sub(sub, value)
    if isinstance(value, list):
        return [_expand(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _expand(v, f"{where}.{k}" if where else k) for k, v in value.items()}
    return value


def _describe(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "config"
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"{loc}: {msg}")
    return "; ".join(lines)


def with_user_id(config: GatewayConfig, user_id: str) -> GatewayConfig:
    """``config`` with another ``user_id`` (the CLI's ``--user-id``), validated like the file's."""
    try:
        return GatewayConfig.model_validate({**config.model_dump(), "user_id": user_id})
    except ValidationError as e:
        raise ConfigError(_describe(e)) from None


def parse(data: dict, *, base: Path | None = None) -> GatewayConfig:
    """Validate a config mapping; relative paths resolve against ``base``."""
    try:
        cfg = GatewayConfig.model_validate(_expand(data, ""))
    except ValidationError as e:
        raise ConfigError(_describe(e)) from None
    if base is not None:
        cfg.state_dir = (base / cfg.state_dir.expanduser())
        if cfg.ca_file is not None:
            cfg.ca_file = base / cfg.ca_file.expanduser()
        for s in cfg.session:
            s.private_key = base / s.private_key.expanduser()
        if cfg.dictionary_dir is not None:
            cfg.dictionary_dir = base / cfg.dictionary_dir.expanduser()
        if cfg.api is not None:
            cfg.api.keys = {k: base / p.expanduser() for k, p in cfg.api.keys.items()}
        if cfg.rest is not None:
            cfg.rest.private_key = base / cfg.rest.private_key.expanduser()
    return cfg


def load(path: str | os.PathLike) -> GatewayConfig:
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {p} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {p}: {e}") from None
    return parse(data, base=p.resolve().parent)
