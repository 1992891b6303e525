"""The ``fixgw run`` process's log: key=value lines on stderr and in ``<state_dir>/log/fixgw.log``.

Every line is redacted (RawData(96), Password(554)) before any handler sees it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from pathlib import Path

from fixgw.adapter.logs import redact


class RedactFilter(logging.Filter):
    """Bakes the message and removes RawData(96)/Password(554) before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        return True


class KeyValueFormatter(logging.Formatter):
    """``ts=... level=... logger=... <message>``: one line per event, UTC, key=value.

    Messages written as ``key=value`` pairs (every fixgw session line starts with
    ``session=``) pass through; anything else becomes ``msg="..."``.
    """

    def format(self, record: logging.LogRecord) -> str:
        ts = dt.datetime.fromtimestamp(record.created, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        msg = record.getMessage()
        head = msg.split(" ", 1)[0]
        if not ("=" in head and head.split("=", 1)[0].isidentifier()):
            msg = f"msg={json.dumps(msg)}"
        session = getattr(record, "session", None)
        if session is not None and "session=" not in msg:
            msg = f"session={session} {msg}"
        line = f"ts={ts} level={record.levelname.lower()} logger={record.name} {msg}"
        if record.exc_info:
            line += f" exc={json.dumps(self.formatException(record.exc_info))}"
        return redact(line.replace("\r", "\\r").replace("\n", "\\n"))


def setup_logging(state_dir: Path, level: int = logging.INFO) -> None:
    """stderr and ``<state_dir>/log/fixgw.log``, both key=value and redacted."""
    (state_dir / "log").mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    root.setLevel(level)
    for h in (logging.StreamHandler(sys.stderr), logging.FileHandler(state_dir / "log" / "fixgw.log")):
        root.addHandler(h)
    for h in root.handlers:  # including any a caller installed before us
        h.setFormatter(KeyValueFormatter())
        if not any(isinstance(f, RedactFilter) for f in h.filters):
            h.addFilter(RedactFilter())
