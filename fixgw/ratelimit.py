"""Client-side rate limiting by Kalshi tier (pure core).

Kalshi's FIX order entry draws on the same Write budget as REST: Basic 10/s,
Advanced 30/s, Premier 100/s, Prime 400/s, and OrderMassCancelRequest at most
1/s. A throttled message comes back as BusinessMessageReject 380=8 after a
round trip; this limiter decides before sending. In ``queue`` mode a request
that would exceed the budget waits (at most ``max_wait`` seconds); in
``refuse`` mode, or when the wait would be longer, it raises
:class:`RateLimited` saying when to retry. The bucket holds one second of
budget, the conservative end of Kalshi's "1-2 s".
"""

from __future__ import annotations

import threading
import time
from enum import StrEnum
from typing import Callable

from fixgw.errors import FixgwError

TIERS: dict[str, float] = {"basic": 10.0, "advanced": 30.0, "premier": 100.0, "prime": 400.0}
MASS_CANCEL_PER_S = 1.0


class Mode(StrEnum):
    QUEUE = "queue"
    REFUSE = "refuse"


class RateLimited(FixgwError):
    def __init__(self, what: str, retry_after: float):
        super().__init__(f"{what}: client-side rate limit reached; retry in {retry_after * 1000:.0f} ms")
        self.retry_after = retry_after


class Bucket:
    """A token bucket that lets callers reserve the future (tokens may go negative)."""

    def __init__(self, rate: float, capacity: float, clock: Callable[[], float]):
        self.rate, self.capacity, self._clock = rate, capacity, clock
        self._tokens, self._at = capacity, clock()
        self._lock = threading.Lock()

    def reserve(self, max_wait: float) -> float | None:
        """Take one token; return the wait before it is valid, or None if longer than max_wait."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
            self._at = now
            wait = 0.0 if self._tokens >= 1 - 1e-9 else (1 - self._tokens) / self.rate
            if wait > max_wait:
                return None
            self._tokens -= 1
            return wait

    def retry_after(self) -> float:
        with self._lock:
            return max(0.0, (1 - self._tokens) / self.rate)


class RateLimiter:
    def __init__(self, tier: str = "basic", mode: Mode | str = Mode.QUEUE, max_wait: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        if tier not in TIERS:
            raise ValueError(f"tier must be one of {', '.join(TIERS)}, not {tier!r}")
        self.tier, self.mode, self.max_wait = tier, Mode(mode), max_wait
        self._sleep = sleep
        self.writes = Bucket(TIERS[tier], TIERS[tier], clock)
        self.mass_cancels = Bucket(MASS_CANCEL_PER_S, 1.0, clock)

    def acquire(self, what: str, mass_cancel: bool = False) -> float:
        """Admit one write (and one mass cancel if asked); return the seconds it waited."""
        waited = 0.0
        for bucket in ((self.mass_cancels, self.writes) if mass_cancel else (self.writes,)):
            limit = 0.0 if self.mode is Mode.REFUSE else self.max_wait
            wait = bucket.reserve(limit)
            if wait is None:
                raise RateLimited(what, bucket.retry_after())
            if wait > 0:
                self._sleep(wait)
                waited += wait
        return waited
