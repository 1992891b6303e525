"""The optional tables of a gateway config (pure core): ``[recorder]``, ``[limits]``, ``[api]``, ``[rest]``.

:class:`fixgw.config.GatewayConfig` holds one of each (``[api]`` and ``[rest]`` only when given);
every option has its default and its bounds here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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
