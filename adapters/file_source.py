"""The file-drop source: CSV, XLSX and JSON Lines exports in a folder or named files.

Each file is read in batches by ``FileSource``, a source of the adapter SDK,
so the SDK's driver gives the records their outcomes. A file's position,
keyed by the file's content hash, advances after each batch's outcomes are
acknowledged. A completed file is skipped when it is dropped again, unless
``reread`` is set: then records already on the bus come back as duplicates,
and records quarantined or parked before are checked again.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

from adapters.family_profile import SourceProfile
from adapters.files.decode import UndecodableError
from adapters.files.readers import (
    SourceFile,
    SourceFileError,
    SourceRecord,
    escape_name,
    open_source_file,
)
from adapters.ingest.outcomes import BATCH_SIZE, DEFAULT_PARK_WAIT
from adapters.ingest.positions import Position
from adapters.ingest.tally import Tally
from adapters.sdk import Batch, Source, SourceContext, SourcePosition, run_source
from bus.errors import ConfigError
from bus.i18n import N_
from bus.settings import Settings

log = structlog.get_logger(__name__)

SUFFIXES = {".csv": "csv", ".xlsx": "xlsx", ".jsonl": "jsonl", ".ndjson": "jsonl"}

ProgressHook = Callable[[str, int], None]
"""Called with the file name and the records done in it so far."""


def expand_paths(paths: Iterable[Path], profile: SourceProfile) -> list[Path]:
    """Files named directly, plus the supported files of named folders in name order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(
                    child
                    for child in path.iterdir()
                    if child.is_file() and _accepts(child, profile)
                )
            )
        elif path.is_file():
            files.append(path)
        else:
            raise ConfigError(N_("Input {path} does not exist."), path=str(path))
    return files


def _accepts(path: Path, profile: SourceProfile) -> bool:
    kind = SUFFIXES.get(path.suffix.lower())
    return kind is not None and (profile.source.format in (None, kind))


def file_hash(path: Path) -> str:
    """Return the SHA-256 of the file's bytes in hex: the identity of its position."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _batches(records: Iterator[SourceRecord], size: int) -> Iterator[list[SourceRecord]]:
    while batch := list(itertools.islice(records, size)):
        yield batch


def open_export(path: Path, profile: SourceProfile) -> SourceFile:
    """Open an export with the profile's format and encoding.

    Raises:
        ConfigError: the file cannot be decoded or read as a table.
    """
    try:
        return open_source_file(
            path, format=profile.source.format, encoding=profile.source.encoding
        )
    except UndecodableError as exc:
        raise ConfigError(
            N_(
                "{path} cannot be decoded: {detail}. Set encoding in the profile's [source] "
                "table (utf-8, gbk or gb18030)."
            ),
            path=str(path),
            detail=str(exc),
        ) from exc
    except SourceFileError as exc:
        raise ConfigError(
            N_("{path} cannot be read: {detail}"), path=str(path), detail=str(exc)
        ) from exc


def unknown_columns(source_file: SourceFile, profile: SourceProfile) -> list[str]:
    """Return the export's columns that the profile does not map, escaped for display."""
    known_columns = set(profile.fields.values())
    return [escape_name(name) for name in source_file.headers if name not in known_columns]


class FileSource(Source):
    """Dropped export files of one department system, read one after the other."""

    kind = "ingest"

    def __init__(self, profile: SourceProfile, files: list[Path], *, reread: bool = False) -> None:
        self.profile = profile
        self.files = files
        self.reread = reread

    async def batches(self, context: SourceContext) -> AsyncIterator[Batch]:
        for path in self.files:
            async with contextlib.aclosing(self._file_batches(context, path)) as batches:
                async for batch in batches:
                    yield batch

    async def _file_batches(
        self, context: SourceContext, path: Path
    ) -> AsyncGenerator[Batch, None]:
        source_id = self.profile.source.id
        content_hash = file_hash(path)
        name = content_hash[:32]
        position = await context.positions.get(name, Position)
        if position is not None and position.complete and not self.reread:
            log.info("file_already_ingested", source_id=source_id, file=path.name)
            context.tally.skipped_files.append(path.name)
            return
        start_after = 0 if self.reread or position is None else position.records_done

        source_file = open_export(path, self.profile)
        unknown = unknown_columns(source_file, self.profile)
        if unknown:
            context.tally.unknown_columns[path.name] = unknown
            log.warning("unknown_columns", source_id=source_id, file=path.name, columns=unknown)

        log.info(
            "file_ingest_started",
            source_id=source_id,
            file=path.name,
            encoding=source_file.encoding,
            resume_after=start_after,
        )
        context.tally.files += 1
        records_done = start_after
        for records in _batches(iter(source_file.records(start_after=start_after)), BATCH_SIZE):
            records_done = records[-1].position
            yield Batch(
                records,
                location=path.name,
                position=SourcePosition(
                    name, _position(path, content_hash, records_done, complete=False)
                ),
            )

        finished = _position(path, content_hash, records_done, complete=True)
        yield Batch((), location=path.name, position=SourcePosition(name, finished))
        log.info("file_ingest_finished", source_id=source_id, file=path.name, records=records_done)


def _position(path: Path, content_hash: str, records_done: int, *, complete: bool) -> Position:
    return Position(
        location=path.name,
        content_hash=content_hash,
        records_done=records_done,
        complete=complete,
        updated_at=datetime.now(UTC),
    )


async def ingest_files(
    settings: Settings,
    profile: SourceProfile,
    paths: Iterable[Path],
    *,
    reread: bool = False,
    park_wait: timedelta = DEFAULT_PARK_WAIT,
    progress: ProgressHook | None = None,
) -> Tally:
    """Ingest every file; returns the outcome counts of the whole run."""
    source = FileSource(profile, expand_paths(paths, profile), reread=reread)

    def report(batch: Batch, _tally: Tally) -> None:
        if progress is not None and batch.records:
            progress(batch.location, batch.records[-1].position)

    return await run_source(settings, source, park_wait=park_wait, on_batch=report)
