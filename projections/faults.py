"""Crash points for recovery tests, chosen with the ZWBUS_FAULT environment variable.

``ZWBUS_FAULT=after_write:N`` ends the process with ``os._exit(137)`` right
after the rows of the N-th batch are written inside its transaction, before
the checkpoint row is written and committed. ``after_commit:N`` ends it after
the commit and before the acknowledgement. ``os._exit`` skips every cleanup,
as a ``kill -9`` would. Without the variable the hooks do nothing.
"""

from __future__ import annotations

import os
import sys
from typing import Literal, cast, get_args

import structlog

from bus.errors import ConfigError
from bus.i18n import N_

log = structlog.get_logger(__name__)

FAULT_ENV = "ZWBUS_FAULT"
EXIT_CODE = 137
"""Exit status of a process killed with SIGKILL (128 + 9), so a supervisor reports a crash."""

FaultPoint = Literal["after_write", "after_commit"]


class FaultPlan:
    """Planned crash: a fault point and the 1-based batch number."""

    def __init__(self, point: FaultPoint, batch: int) -> None:
        self.point = point
        self.batch = batch

    def reached(self, point: FaultPoint, batch: int) -> None:
        """End the process now if ``point`` of batch number ``batch`` is the planned crash."""
        if point != self.point or batch != self.batch:
            return
        log.warning("fault_injected", point=point, batch=batch, exit_code=EXIT_CODE)
        sys.stderr.flush()
        os._exit(EXIT_CODE)


class NoFault(FaultPlan):
    """The plan used when ZWBUS_FAULT is unset: no hook ends the process."""

    def __init__(self) -> None:
        super().__init__("after_write", 0)

    def reached(self, point: FaultPoint, batch: int) -> None:
        return None


def load_fault_plan() -> FaultPlan:
    """Read ZWBUS_FAULT; raises ``ConfigError`` when it is set but malformed."""
    value = os.environ.get(FAULT_ENV, "").strip()
    if not value:
        return NoFault()

    point, _, number = value.partition(":")
    if point not in get_args(FaultPoint) or not number.isdigit() or int(number) < 1:
        raise ConfigError(
            N_("{variable}={value} is invalid: expected after_write:N or after_commit:N "
               "with N the 1-based batch number."),
            variable=FAULT_ENV,
            value=value,
        )
    return FaultPlan(cast(FaultPoint, point), int(number))
