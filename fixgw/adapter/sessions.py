"""Render QuickFIX SessionSettings from cfg/ templates and a GatewayConfig.

The templates in ``cfg/`` hold every QuickFIX setting fixgw uses; this module
only fills in the per-deployment values. The rendered file is written next to
the session stores so an operator can see exactly what QuickFIX was given.

Schedules. Every session is a QuickFIX ``NonStopSession``: StartTime/EndTime
would end the FIX session at the end of each range and reset sequence numbers
and the store there, which would discard KalshiRT's continuity (Kalshi keeps
RT's sequence across its maintenance window). When a session may be logged on
is rendered as LogonDay/LogonTime/LogoutDay/LogoutTime instead: outside that
window QuickFIX logs the session out and sends no Logon, and nothing is reset.
QuickFIX 1.16 has no TimeZone setting, only UseLocalTime (the process's zone),
so a schedule in a zone other than UTC sets the process's ``TZ`` to
``time_zone`` before QuickFIX reads the settings.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from string import Template

import quickfix as fix

from fixgw.config import CFG_DIR, GatewayConfig, SessionConfig
from fixgw.errors import ConfigError

log = logging.getLogger("fixgw.sessions")


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
        state_dir=state, spec_dir=config.spec_dir, log_incoming="Y" if config.log_messages else "N",
    )]
    for s in sessions if sessions is not None else config.session:
        host, port = config.endpoint(s)
        parts.append(_template(f"{s.type.value}.cfg").substitute(
            api_key_id=s.api_key_id, host=host, port=port, heartbeat=s.heartbeat,
            spec_dir=config.spec_dir, product=s.product.value, reset="Y" if s.resets else "N",
            schedule=schedule_settings(config, s),
        ))
    return "\n".join(parts)


def schedule_settings(config: GatewayConfig, s: SessionConfig) -> str:
    """QuickFIX lines for when ``s`` may be logged on (see the module docstring)."""
    window = config.schedule(s)
    if window is None:
        return "# logged on around the clock (no schedule, no maintenance window)"
    start_day, start_time, end_day, end_day_time = window
    lines = [f"# may be logged on from {start_day or 'every day'} {start_time} to "
             f"{end_day or ''} {end_day_time} {config.time_zone}".replace("  ", " "),
             f"UseLocalTime={'N' if config.time_zone == 'UTC' else 'Y'}",
             f"LogonTime={start_time}", f"LogoutTime={end_day_time}"]
    if start_day is not None:
        lines += [f"LogonDay={start_day}", f"LogoutDay={end_day}"]
    return "\n".join(lines)


def use_time_zone(config: GatewayConfig) -> None:
    """Point the process's local time at ``time_zone`` when a schedule needs it (UseLocalTime)."""
    if config.time_zone == "UTC" or all(config.schedule(s) is None for s in config.session):
        return
    if os.environ.get("TZ") != config.time_zone:
        os.environ["TZ"] = config.time_zone
        time.tzset()
        log.info("event=time-zone tz=%s reason=quickfix-schedules-use-local-time", config.time_zone)


def settings(config: GatewayConfig, path: Path, sessions: list[SessionConfig] | None = None) -> fix.SessionSettings:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(config, sessions))
    use_time_zone(config)
    try:
        return fix.SessionSettings(str(path))
    except fix.ConfigError as e:
        raise ConfigError(f"QuickFIX refused the rendered settings {path}: {e}") from None


def in_logon_window(session: fix.Session) -> bool:
    """Whether QuickFIX's schedule lets ``session`` be logged on now (its logon window is open)."""
    return session.isLogonTime(fix.UtcTimeStamp.now())


def dictionary_problem(path: Path) -> str | None:
    """Why QuickFIX cannot load the data dictionary at ``path``, or None when it can."""
    try:
        fix.DataDictionary(str(path))
    except fix.ConfigError as e:
        return str(e)
    return None


def settings_problem(text: str) -> str | None:
    """Why QuickFIX refuses the rendered settings ``text``, or None when it reads them."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "q.cfg").write_text(text)
        try:
            fix.SessionSettings(str(Path(tmp) / "q.cfg"))
        except fix.ConfigError as e:
            return str(e)
    return None
