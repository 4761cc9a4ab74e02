"""Bounded exponential backoff for a source whose system is briefly unreachable.

A source calls ``failed`` when a read fails: it logs ``source_read_failed``
with the attempt and the wait, sleeps, and returns so that the source can try
again. The wait doubles from ``initial_s`` up to ``max_s``. After ``attempts``
failures in a row it raises ``SourceUnavailableError`` instead, so no source
retries forever. ``succeeded`` resets the count and logs the recovery.
"""

from __future__ import annotations

import asyncio

import msgspec
import structlog

from bus.errors import BusError
from bus.i18n import N_

log = structlog.get_logger(__name__)


class SourceUnavailableError(BusError):
    """A source's system stayed unreachable through every retry."""

    template = N_(
        "Source {source_id} could not read {location} after {attempts} attempts: {detail}. "
        "Check that the system is running and reachable with the profile's settings; "
        "the next run resumes from the stored position."
    )


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How often and how patiently a source retries a failed read."""

    initial_s: float = 1.0
    """Wait after the first failure, in seconds."""
    max_s: float = 60.0
    """Maximum wait between two attempts, in seconds."""
    attempts: int = 10
    """Failures in a row after which the source gives up."""

    def delay_s(self, failure: int) -> float:
        """Return the wait after the ``failure``-th failure in a row (1-based)."""
        return min(self.max_s, self.initial_s * 2.0 ** (failure - 1))


class Backoff:
    """Counts failures in a row of one source and waits between its attempts."""

    def __init__(self, policy: RetryPolicy, *, source_id: str, location: str) -> None:
        self.policy = policy
        self.source_id = source_id
        self.location = location
        self.failures = 0
        """Failures since the last success."""
        self.retries = 0
        """Waits taken over the whole run."""

    async def failed(self, error: BaseException) -> None:
        """Log the failure and wait before the next attempt.

        Raises:
            SourceUnavailableError: this was the last attempt the policy allows.
        """
        self.failures += 1
        detail = str(error) or type(error).__name__
        if self.failures >= self.policy.attempts:
            log.error(
                "source_unavailable",
                source_id=self.source_id,
                location=self.location,
                attempts=self.failures,
                error=detail,
                error_type=type(error).__name__,
            )
            raise SourceUnavailableError(
                source_id=self.source_id,
                location=self.location,
                attempts=self.failures,
                detail=detail,
            ) from error
        wait_s = self.policy.delay_s(self.failures)
        log.warning(
            "source_read_failed",
            source_id=self.source_id,
            location=self.location,
            attempt=self.failures,
            max_attempts=self.policy.attempts,
            retry_in_s=wait_s,
            error=detail,
            error_type=type(error).__name__,
        )
        self.retries += 1
        await asyncio.sleep(wait_s)

    def succeeded(self) -> None:
        """Reset the count after a successful read, logging a recovery from failures."""
        if self.failures:
            log.info(
                "source_read_recovered",
                source_id=self.source_id,
                location=self.location,
                failures=self.failures,
            )
        self.failures = 0
