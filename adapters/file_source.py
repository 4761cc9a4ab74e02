"""The file-drop source: CSV, XLSX and JSON Lines exports in a folder or named files.

Each file is ingested in batches through the pipeline of the profile's
family (cases, reviews, hall, data sharing). Its position,
keyed by the file's content hash, advances after each batch's outcomes are
acknowledged. A completed file is skipped when it is dropped again, unless
``reread`` is set: then records already on the bus come back as duplicates,
and records quarantined or parked before are checked again.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

from adapters.catalogue import load_catalogue
from adapters.family_profile import SourceProfile
from adapters.files.decode import UndecodableError
from adapters.files.readers import (
    SourceFile,
    SourceFileError,
    SourceRecord,
    escape_name,
    open_source_file,
)
from adapters.ingest.dispatch import IngestPipeline, make_pipeline, stream_of
from adapters.ingest.outcomes import BATCH_SIZE, DEFAULT_PARK_WAIT
from adapters.ingest.positions import Position, Positions
from adapters.ingest.tally import Tally
from bus.connect import open_bus
from bus.errors import ConfigError
from bus.heartbeat import Heartbeat
from bus.i18n import N_
from bus.publisher import Publisher
from bus.settings import Settings
from bus.streams import ensure_streams

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
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _batches(records: Iterator[SourceRecord], size: int) -> Iterator[list[SourceRecord]]:
    while batch := list(itertools.islice(records, size)):
        yield batch


def _open(path: Path, profile: SourceProfile) -> SourceFile:
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
    files = expand_paths(paths, profile)
    async with open_bus(settings, name=f"zwbus-ingest-{profile.source.id}") as (client, js):
        await ensure_streams(js)
        catalogue = await load_catalogue(js)
        positions = Positions(js)
        async with (
            Publisher(client) as publisher,
            Heartbeat(client, "adapter", profile.source.id, stream=stream_of(profile)) as heartbeat,
        ):
            pipeline = make_pipeline(client, js, publisher, profile, catalogue, park_wait=park_wait)
            await pipeline.open()
            for path in files:
                await _ingest_one(
                    pipeline,
                    positions,
                    profile,
                    path,
                    reread=reread,
                    progress=progress,
                    heartbeat=heartbeat,
                )
            await pipeline.expire_parked(datetime.now(UTC))
            return pipeline.tally


async def _ingest_one(
    pipeline: IngestPipeline,
    positions: Positions,
    profile: SourceProfile,
    path: Path,
    *,
    reread: bool,
    progress: ProgressHook | None,
    heartbeat: Heartbeat,
) -> None:
    content_hash = file_hash(path)
    position = await positions.get(profile.source.id, content_hash)
    if position is not None and position.complete and not reread:
        log.info("file_already_ingested", source_id=profile.source.id, file=path.name)
        pipeline.tally.skipped_files.append(path.name)
        return
    start_after = 0 if reread or position is None else position.records_done
    position = Position(location=path.name, content_hash=content_hash, records_done=start_after)

    source_file = _open(path, profile)
    known_columns = set(profile.fields.values())
    unknown = [escape_name(name) for name in source_file.headers if name not in known_columns]
    if unknown:
        pipeline.tally.unknown_columns[path.name] = unknown
        log.warning("unknown_columns", source_id=profile.source.id, file=path.name, columns=unknown)

    log.info(
        "file_ingest_started",
        source_id=profile.source.id,
        file=path.name,
        encoding=source_file.encoding,
        resume_after=start_after,
    )
    pipeline.tally.files += 1
    for batch in _batches(iter(source_file.records(start_after=start_after)), BATCH_SIZE):
        await pipeline.process(batch, location=path.name)
        position.records_done = batch[-1].position
        tally = pipeline.tally
        heartbeat.update(
            read=tally.read,
            published=tally.published,
            duplicates=tally.duplicates,
            quarantined=tally.quarantined,
            parked=tally.parked,
        )
        heartbeat.record_seen(datetime.now(UTC))
        position.updated_at = datetime.now(UTC)
        await positions.put(profile.source.id, position)
        if progress is not None:
            progress(path.name, position.records_done)

    position.complete = True
    position.updated_at = datetime.now(UTC)
    await positions.put(profile.source.id, position)
    log.info(
        "file_ingest_finished",
        source_id=profile.source.id,
        file=path.name,
        records=position.records_done,
    )
