"""Return-flow sinks (分级返还): a filtered part of the bus delivered to a lower level.

A sink selects events by region subtree, family, department and event
type, and delivers them by HTTP (``http_target``) or into rotated files
(``file_target``). Each sink resumes after a restart from its position
records, so nothing is lost and no event is written twice into files. An
HTTP receiver recognises a repeated event by its ``Idempotency-Key``.
``run_sinks`` runs the sinks of a ``SinksConfig`` until a stop event is set.
"""

from adapters.sinks.config import SinkConfig, SinksConfig, load_sinks_config
from adapters.sinks.lane import SinkSummary
from adapters.sinks.runner import run_sinks

__all__ = ["SinkConfig", "SinkSummary", "SinksConfig", "load_sinks_config", "run_sinks"]
