"""Render QuickFIX SessionSettings from cfg/ templates and a GatewayConfig.

The templates in ``cfg/`` hold every QuickFIX setting fixgw uses; this module
only fills in the per-deployment values. The rendered file is written next to
the session stores so an operator can see exactly what QuickFIX was given.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

import quickfix as fix

from fixgw.config import CFG_DIR, SPEC_DIR, GatewayConfig, SessionConfig
from fixgw.errors import ConfigError


def _template(name: str) -> Template:
    return Template((CFG_DIR / name).read_text())


def render(config: GatewayConfig, sessions: list[SessionConfig] | None = None) -> str:
    if config.ca_file is None:
        raise ConfigError("ca_file: a CA/certificate file to pin is required; fixgw never runs TLS "
                          "without one (save Kalshi's certificate with openssl s_client, see README)")
    if not config.ca_file.is_file():
        raise ConfigError(f"ca_file: {config.ca_file} does not exist")
    state = config.state_dir
    parts = [_template("initiator.cfg").substitute(
        ca_file=config.ca_file, reconnect_interval=config.reconnect_interval,
        state_dir=state, spec_dir=SPEC_DIR,
    )]
    for s in sessions if sessions is not None else config.session:
        host, port = config.endpoint(s)
        parts.append(_template(f"{s.type.value}.cfg").substitute(
            api_key_id=s.api_key_id, host=host, port=port, heartbeat=s.heartbeat,
            spec_dir=SPEC_DIR, product=s.product.value, reset="Y" if s.resets else "N",
        ))
    return "\n".join(parts)


def settings(config: GatewayConfig, path: Path, sessions: list[SessionConfig] | None = None) -> fix.SessionSettings:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(config, sessions))
    try:
        return fix.SessionSettings(str(path))
    except fix.ConfigError as e:
        raise ConfigError(f"QuickFIX refused the rendered settings {path}: {e}") from None
