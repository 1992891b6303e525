import pytest

from fixgw.ratelimit import RateLimited, RateLimiter


class Clock:
    def __init__(self):
        self.t = 100.0
        self.slept = []

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.slept.append(s)
        self.t += s


def test_basic_tier_admits_ten_then_queues():
    c = Clock()
    rl = RateLimiter("basic", "queue", max_wait=1.0, clock=c, sleep=c.sleep)
    assert [rl.acquire("D") for _ in range(10)] == [0.0] * 10
    assert rl.acquire("D") == pytest.approx(0.1)


def test_refuse_mode_says_when_to_retry():
    c = Clock()
    rl = RateLimiter("basic", "refuse", clock=c, sleep=c.sleep)
    for _ in range(10):
        rl.acquire("D")
    with pytest.raises(RateLimited, match=r"D: client-side rate limit reached; retry in 100 ms"):
        rl.acquire("D")
    c.t += 0.1
    assert rl.acquire("D") == 0.0


def test_queue_mode_refuses_waits_longer_than_max_wait():
    c = Clock()
    rl = RateLimiter("basic", "queue", max_wait=0.05, clock=c, sleep=c.sleep)
    for _ in range(10):
        rl.acquire("D")
    with pytest.raises(RateLimited):
        rl.acquire("D")


def test_mass_cancel_is_one_per_second():
    c = Clock()
    rl = RateLimiter("prime", "refuse", clock=c, sleep=c.sleep)
    rl.acquire("q", mass_cancel=True)
    with pytest.raises(RateLimited, match="q:"):
        rl.acquire("q", mass_cancel=True)
    c.t += 1.0
    rl.acquire("q", mass_cancel=True)


def test_unknown_tier_is_named():
    with pytest.raises(ValueError, match="tier must be one of basic, advanced, premier, prime"):
        RateLimiter("gold")
