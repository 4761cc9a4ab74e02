"""Crash points for the sink recovery tests, chosen with ZWBUS_SINK_FAULT.

``ZWBUS_SINK_FAULT=after_deliver:N`` ends the process with ``os._exit(137)``
after the N-th batch of the process was delivered (the endpoint accepted
it, or its lines are written and fsynced) and before the position record
is written. ``after_save:N`` ends it after the record is written and
before the acknowledgement. ``os._exit`` skips every cleanup, as a
``kill -9`` would. Without the variable nothing happens.
"""

from __future__ import annotations

import os
import sys
from typing import Literal, cast, get_args

import structlog

from bus.errors import ConfigError
from bus.i18n import N_

log = structlog.get_logger(__name__)

FAULT_ENV = "ZWBUS_SINK_FAULT"
EXIT_CODE = 137
"""Exit status of a process killed with SIGKILL (128 + 9)."""

FaultPoint = Literal["after_deliver", "after_save"]


class FaultPlan:
    """A planned crash at a fault point, counted over every batch of the process."""

    def __init__(self, point: FaultPoint | None = None, batch: int = 0) -> None:
        self.point = point
        self.batch = batch
        self._reached = 0

    def reached(self, point: FaultPoint) -> None:
        """End the process now if this is the planned crash."""
        if point != self.point:
            return
        self._reached += 1
        if self._reached != self.batch:
            return
        log.warning("fault_injected", point=point, batch=self.batch, exit_code=EXIT_CODE)
        sys.stderr.flush()
        os._exit(EXIT_CODE)


def load_fault_plan() -> FaultPlan:
    """Read ZWBUS_SINK_FAULT; raises ``ConfigError`` when it is set but malformed."""
    value = os.environ.get(FAULT_ENV, "").strip()
    if not value:
        return FaultPlan()

    point, _, number = value.partition(":")
    if point not in get_args(FaultPoint) or not number.isdigit() or int(number) < 1:
        raise ConfigError(
            N_("{variable}={value} is invalid: expected after_deliver:N or after_save:N "
               "with N the 1-based batch number."),
            variable=FAULT_ENV,
            value=value,
        )
    return FaultPlan(cast(FaultPoint, point), int(number))
