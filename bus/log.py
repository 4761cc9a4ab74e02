"""structlog set-up: console lines when interactive, JSON lines for services and pipes."""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(*, level: str = "WARNING", json: bool | None = None) -> None:
    """Configure structlog for the process; logs go to standard error.

    Args:
        level: minimum level name (DEBUG, INFO, WARNING, ERROR).
        json: force JSON lines (True) or console lines (False); None picks
            console when standard error is a terminal.
    """
    use_json = (not sys.stderr.isatty()) if json is None else json
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
