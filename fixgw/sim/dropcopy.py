"""KalshiDC as the simulator serves it: a 3-hour window of each account's reports (pure core).

Every ExecutionReport with a real ExecID (no pending ``-1;-1`` reports, no
rejects) is retained per (account, product) in ExecID order. An
EventResendRequest (U1) replays the inclusive range [BeginExecID, EndExecID]
of one exchange index; EndExecID defaults to the latest, each report's OrderQty
worded as the asking session's PreserveOriginalOrderQty (21008) wants it. Refusals follow the
documented EventResendReject (U3) reasons: 1 too many requests, 3 BeginExecID
older than the window (or newer than anything retained), 4 EndExecID beyond
the latest or on another exchange index.
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field
from typing import Callable

from fixgw.fix import codec
from fixgw.models.fix import ExecType, ExecutionReport, exec_id_key
from fixgw.pricing import Units

WINDOW_S = 3 * 3600
MAX_REQUESTS_PER_S = 5
RATE_LIMITED, SERVER_ERROR, BEGIN_TOO_SMALL, END_TOO_LARGE = 1, 2, 3, 4


@dataclass
class _Stream:
    keys: list[tuple[int, int, int]] = field(default_factory=list)
    # (time, {21008 off/on: the report so worded}, {(units, 21008): wire body})
    reports: list[tuple[float, dict[bool, ExecutionReport], dict]] = field(default_factory=list)


@dataclass(frozen=True)
class Refused:
    reason: int
    text: str


class DropCopy:
    def __init__(self, clock: Callable[[], float] = time.time, window_s: float = WINDOW_S):
        self.clock, self.window_s = clock, window_s
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._requests: dict[tuple[str, str], list[float]] = {}

    def record(self, account: str, product: str, report: ExecutionReport,
               worded: dict[bool, ExecutionReport] | None = None) -> None:
        """Keep a report; ``worded``: its wording without / with 21008 (default: ``report`` for both)."""
        if report.is_pending or report.exec_type is ExecType.REJECTED:
            return
        stream = self._streams.setdefault((account, product), _Stream())
        key = exec_id_key(report.exec_id)
        i = bisect.bisect_left(stream.keys, key)
        if i < len(stream.keys) and stream.keys[i] == key:
            return  # the same report routed to several sessions
        stream.keys.insert(i, key)
        stream.reports.insert(i, (self.clock(), worded or {False: report, True: report}, {}))

    def _expire(self, stream: _Stream) -> None:
        horizon = self.clock() - self.window_s
        n = 0
        while n < len(stream.reports) and stream.reports[n][0] < horizon:
            n += 1
        if n:
            del stream.keys[:n], stream.reports[:n]

    def exec_ids(self, account: str, product: str) -> list[str]:
        stream = self._streams.get((account, product))
        if stream is None:
            return []
        self._expire(stream)
        return [r[False].exec_id for _, r, _ in stream.reports]

    def replay(self, account: str, product: str, begin: str, end: str | None,
               units: Units, preserve_qty: bool = False) -> list[str] | Refused:
        """The range as FIX body text (tag=value SOH ..., no header).

        Like an exchange serving its journal, each report is serialised once per
        price unit and kept: a replay costs no encoding after the first.
        """
        found = self._range(account, product, begin, end)
        if isinstance(found, Refused):
            return found
        out = []
        for _, worded, wire in found:
            body = wire.get((units, preserve_qty))
            if body is None:
                body = wire[units, preserve_qty] = "".join(
                    [f"{t}={v}\x01" for t, v in codec.encode(worded[preserve_qty], units)[1]])
            out.append(body)
        return out

    def _range(self, account: str, product: str, begin: str, end: str | None) -> list[tuple] | Refused:
        now = self.clock()
        recent = [t for t in self._requests.get((account, product), []) if now - t < 1.0]
        if len(recent) >= MAX_REQUESTS_PER_S:
            return Refused(RATE_LIMITED, "too many EventResendRequests")
        self._requests[(account, product)] = recent + [now]
        try:
            lo = exec_id_key(begin)
            hi = exec_id_key(end) if end is not None else None
        except ValueError as e:
            return Refused(BEGIN_TOO_SMALL if end is None else END_TOO_LARGE, str(e))
        stream = self._streams.get((account, product), _Stream())
        self._expire(stream)
        index = [k for k in stream.keys if k[0] == lo[0]]
        if hi is not None and hi[0] != lo[0]:
            return Refused(END_TOO_LARGE, "BeginExecID and EndExecID are on different exchange indexes")
        if not index or lo < index[0]:
            return Refused(BEGIN_TOO_SMALL, "BeginExecID is outside the 3-hour drop-copy window")
        if hi is not None and hi > index[-1]:
            return Refused(END_TOO_LARGE, "EndExecID is beyond the latest ExecID")
        if hi is not None and hi < lo:
            return Refused(END_TOO_LARGE, "EndExecID is before BeginExecID")
        top = hi if hi is not None else index[-1]
        i = bisect.bisect_left(stream.keys, lo)
        j = bisect.bisect_right(stream.keys, top)
        return stream.reports[i:j]
