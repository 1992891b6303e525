"""Gateway configuration: one TOML file, validated here, rendered by the adapter.

The file names the environment, the TLS pin and the sessions; everything
Kalshi-specific about a session (port, TargetCompID, reset rules, Logon flags)
follows from its ``product`` and ``type`` through :mod:`fixgw.kalshi`'s tables, so a user
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

import datetime as dt
import os
import re
import tomllib
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Callable, Literal, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fixgw.fix import tags
from fixgw.errors import ConfigError
from fixgw.kalshi import (BASE_PORT, HOSTS, LOCAL_MARGIN_PORT_BASE, MAINTENANCE_SCHEDULE,  # noqa: F401 - re-exported
                          MAINTENANCE_ZONE, RULES, Kind, Product, Rules, endpoint)
from fixgw.options import ApiConfig, LimitsConfig, RecorderConfig, RestConfig  # noqa: F401 - re-exported
from fixgw.paths import CFG_DIR, SPEC_DIR  # noqa: F401 - CFG_DIR is re-exported (sessions, sim, tests)


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
    starting_balance: Decimal | None = None  # dollars: GET /portfolio/balance = this + every change (fixgw.positions.Cash)
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
        host, port = endpoint(self.environment, s.product, s.type, self.port_base)
        return s.host or host, s.port if s.port is not None else port

    def by_name(self, name: str) -> SessionConfig:
        for s in self.session:
            if s.name == name:
                return s
        raise ConfigError(f"no session named {name!r}; configured: {', '.join(x.name for x in self.session)}")


# One value of a parsed TOML document (tomllib's types).
Toml: TypeAlias = "str | int | float | bool | dt.datetime | dt.date | dt.time | list[Toml] | dict[str, Toml]"


def expand(value: Toml, where: str = "", missing: Callable[[str, str], None] | None = None) -> Toml:
    """Replace ``${VAR}`` in strings with the environment's value (secrets stay out of files).

    ``where`` names the option (``session.0.api_key_id``, as validation errors do). An unset
    variable raises ConfigError, or, with ``missing``, is reported as ``missing(where, name)``
    and left as it was (``fixgw check`` lists every problem instead of stopping at the first).
    """
    if isinstance(value, str):
        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name in os.environ:
                return os.environ[name]
            if missing is None:
                raise ConfigError(f"{where}: environment variable {name} is not set")
            missing(where, name)
            return m.group(0)
        return _ENV_REF.sub(sub, value)
    if isinstance(value, list):
        return [expand(v, f"{where}.{i}", missing) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: expand(v, f"{where}.{k}" if where else k, missing) for k, v in value.items()}
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
        cfg = GatewayConfig.model_validate(expand(data))
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


def read(path: str | os.PathLike) -> dict:
    """A config file's TOML as it is, not validated; ConfigError names the file when it is
    missing or not TOML."""
    p = Path(path)
    try:
        return tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {p} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {p}: {e}") from None


def load(path: str | os.PathLike) -> GatewayConfig:
    """Read, expand and validate a config file; relative paths resolve against its folder."""
    p = Path(path)
    return parse(read(p), base=p.resolve().parent)
