"""The adapter SDK: write a new source in Python and let zwbus do the rest.

A source is a subclass of ``Source`` that names a profile (the TOML mapping of
its records onto the contract) and implements one async generator,
``batches``, which decodes the department system into ``SourceRecord``
batches, each with a resumable ``SourcePosition``. ``run_source`` does
everything else, the same way for every source:

- outcome accounting: every record read ends as published, duplicate,
  quarantined or parked, and the run's ``Tally`` reconciles;
- quarantine with rule codes and the original record, parking of events
  whose predecessor has not arrived, publishing with deterministic event ids;
- positions: a batch's position is stored in ``ZW_SOURCES`` only after the
  bus acknowledged every outcome of the batch;
- heartbeats on ``ZW_OPS`` with the outcome counts and the source's own
  counters (``SourceContext.count``), and structlog events for starts, stops,
  batches and retries;
- clean stop on cancellation.

``Backoff`` with a ``RetryPolicy`` gives a source bounded exponential retries
when its system is briefly unreachable. The file-drop source
(``adapters.file_source``) and the SQL table poller (``adapters.sql``) are
built on this package.
"""

from adapters.files.readers import CellValue, SourceRecord
from adapters.sdk.driver import BatchHook, run_source
from adapters.sdk.pipeline import Pipeline, family_stream, open_pipeline
from adapters.sdk.positions import PositionBook
from adapters.sdk.retry import Backoff, RetryPolicy, SourceUnavailableError
from adapters.sdk.source import Batch, Source, SourceContext, SourcePosition

__all__ = [
    "Backoff",
    "Batch",
    "BatchHook",
    "CellValue",
    "Pipeline",
    "PositionBook",
    "RetryPolicy",
    "Source",
    "SourceContext",
    "SourcePosition",
    "SourceRecord",
    "SourceUnavailableError",
    "family_stream",
    "open_pipeline",
    "run_source",
]
