"""Rate limits per sender and the bound on work the gateway holds at once."""

from __future__ import annotations

import math
import time


class TokenBucket:
    """A sender's allowance of records per second (调用频率), refilled continuously."""

    def __init__(self, rate: float, burst: float) -> None:
        self._rate = rate
        self._capacity = max(burst, 1.0)
        self._tokens = self._capacity
        self._updated = time.monotonic()

    def take(self, count: int) -> float:
        """Take ``count`` records' worth; return 0, or the seconds to wait before retrying."""
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        if count <= self._tokens:
            self._tokens -= count
            return 0.0
        if count > self._capacity:
            return math.inf
        return (count - self._tokens) / self._rate


class Admission:
    """Counts records accepted but not yet answered; refuses what would exceed the bound."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.pending = 0

    def try_admit(self, count: int) -> bool:
        if self.pending + count > self.limit:
            return False
        self.pending += count
        return True

    def release(self, count: int) -> None:
        self.pending -= count
