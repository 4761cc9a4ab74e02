"""Which messages of a replay become events: subject filters, decoding and event-type checks.

Family, region and key become one NATS subject filter, so the server sends
only matching messages. The event type travels in the envelope. With a
type or key filter the envelope's type, version and key are decoded
first, and an event of the current version that does not match is
counted as filtered without decoding its payload. Every other message is
decoded through ``contracts.envelope.decode_event``, so old schema
versions pass through the upcasters. A message that still does not
decode is counted and reported, never silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

import msgspec
import structlog

from bus.errors import BusError, ConfigError
from bus.i18n import N_
from bus.streams import DEADLETTER, DECLARED, OPS, QUARANTINE
from contracts.envelope import CURRENT_VERSIONS, Envelope, EventDecodeError, decode_event
from contracts.subjects import encode_token
from replay.envelopes import EventHead, decode_current_version, decode_head
from replay.reader import Delivery, stream_time

log = structlog.get_logger(__name__)

_FAMILY_SUBJECT = re.compile(r"zw\.([a-z]+)\.>")
_REGION_PREFIX = re.compile(r"[0-9]{2}(?:[0-9]{2}){0,2}")
UNDECODABLE_SAMPLES = 10
"""Undecodable messages kept with their reason for the summary; the rest are only counted."""


def _family_streams() -> dict[str, str]:
    families: dict[str, str] = {}
    for config in DECLARED:
        name = str(config.name)
        if name in {QUARANTINE, OPS, DEADLETTER} or name.startswith("KV_"):
            continue
        match = _FAMILY_SUBJECT.fullmatch((config.subjects or [""])[0])
        if match:
            families[match.group(1)] = name
    return families


FAMILY_STREAMS: dict[str, str] = _family_streams()
"""Stream of each event family whose subjects are ``zw.<family>.<region>.<key>``."""


class Selection(msgspec.Struct, frozen=True, kw_only=True):
    """The stream to read, the subject filter the server applies, and the checks done here."""

    stream: str
    family: str | None
    """Event family of the stream (``case``, ``item`` …); None for other streams."""
    subject: str | None
    """Subject filter of the consumer; None reads every subject of the stream."""
    key: str | None = None
    types: frozenset[str] = frozenset()
    """Event types to keep (``case.accepted`` …); empty keeps every type."""

    def keeps(self, event: Envelope) -> bool:
        """Return whether a decoded event passes the type and key checks."""
        if self.types and event.type not in self.types:
            return False
        return self.key is None or event.key == self.key


def select(
    *,
    stream: str | None = None,
    family: str | None = None,
    region: str | None = None,
    key: str | None = None,
    types: Iterable[str] = (),
) -> Selection:
    """Resolve the replay options into a ``Selection``.

    Without ``stream`` the family's stream is read (ZW_CASES when neither is
    given). A region is a 2, 4 or 6 digit prefix of a GB/T 2260 code. An
    event type may be written in full (``case.accepted``) or, with a family
    known, by its short name (``accepted``).

    Raises:
        ConfigError: an option is invalid or does not fit the stream.
    """
    family, stream = _family_and_stream(family, stream)
    if region is not None and not _REGION_PREFIX.fullmatch(region):
        raise ConfigError(
            N_("Region {region} is invalid: give 2 digits (province), 4 (city) or 6 (county), "
               "for example 51, 5116 or 511602."),
            region=repr(region),
        )
    if key is not None and not key:
        raise ConfigError(N_("--key must not be empty."))
    if family is None and (region is not None or key is not None):
        raise ConfigError(
            N_("Stream {stream} does not carry region and key in its subjects, so --region "
               "and --key cannot filter it."),
            stream=stream,
        )

    return Selection(
        stream=stream,
        family=family,
        subject=_subject_filter(family, region, key),
        key=key,
        types=frozenset(_event_type(name, family) for name in types),
    )


def _family_and_stream(family: str | None, stream: str | None) -> tuple[str | None, str]:
    if family is not None and family not in FAMILY_STREAMS:
        raise ConfigError(
            N_("Unknown event family {family}; known families: {known}."),
            family=repr(family),
            known=", ".join(sorted(FAMILY_STREAMS)),
        )
    if stream is None:
        family = family or "case"
        return family, FAMILY_STREAMS[family]

    stream_family = next((name for name, s in FAMILY_STREAMS.items() if s == stream), None)
    if family is not None and family != stream_family:
        raise ConfigError(
            N_("Family {family} is not carried by stream {stream}; its stream is {expected}."),
            family=family,
            stream=stream,
            expected=FAMILY_STREAMS[family],
        )
    return stream_family, stream


def _subject_filter(family: str | None, region: str | None, key: str | None) -> str | None:
    if family is None or (region is None and key is None):
        return None
    tokens = [] if region is None else [region[i : i + 2] for i in range(0, len(region), 2)]
    if key is None:
        return ".".join(["zw", family, *tokens, ">"])
    tokens += ["*"] * (3 - len(tokens))
    if family == "hall":
        # Hall subjects carry the hall code before the booking or ticket id.
        tokens.append("*")
    return ".".join(["zw", family, *tokens, encode_token(key)])


def _event_type(name: str, family: str | None) -> str:
    full = name if "." in name or family is None else f"{family}.{name}"
    if full not in CURRENT_VERSIONS:
        known = sorted(
            event_type
            for event_type in CURRENT_VERSIONS
            if family is None or event_type.startswith(f"{family}.")
        )
        raise ConfigError(
            N_("Unknown event type {type}; known types: {known}."),
            type=repr(name),
            known=", ".join(known),
        )
    return full


class ReplayedEvent:
    """An event with where and when the stream stored it.

    ``event`` is decoded from ``raw`` on first access when ``decode_batch``
    ran without ``decode_payloads``.
    """

    __slots__ = ("_event", "raw", "seq", "stored_ns", "subject")

    def __init__(
        self,
        seq: int,
        subject: str,
        stored_ns: int,
        event: Envelope | None,
        raw: bytes | None = None,
    ) -> None:
        if event is None and raw is None:
            raise ValueError("a replayed event needs its decoded event or its raw envelope")
        self.seq = seq
        self.subject = subject
        self.stored_ns = stored_ns
        """When the server stored the message, in nanoseconds since the Unix epoch."""
        self.raw = raw
        """The envelope as stored, when it is in the current version and on one line,
        so that a JSON exporter can copy it instead of encoding ``event`` again."""
        self._event = event

    @property
    def event(self) -> Envelope:
        """The decoded envelope.

        Raises:
            EventDecodeError: the payload, decoded only now, breaks its contract.
        """
        if self._event is None:
            self._event = decode_event(self.raw or b"")
        return self._event

    @property
    def stream_time(self) -> datetime:
        """The stream's timestamp of the message, in UTC to the microsecond."""
        return stream_time(self.stored_ns)

    def __repr__(self) -> str:
        return f"ReplayedEvent(seq={self.seq}, subject={self.subject!r})"


class UndecodableMessage(msgspec.Struct, frozen=True):
    """A message that is not an event this release reads, and why."""

    seq: int
    subject: str
    reason: str


class SelectionCounts(msgspec.Struct, kw_only=True):
    """Running counts of a replay."""

    read: int = 0
    """Messages delivered by the server within the window and subject filter."""
    kept: int = 0
    """Events that passed every check."""
    filtered: int = 0
    """Events that decoded but did not match --type or --key."""
    undecodable: int = 0
    undecodable_samples: list[UndecodableMessage] = msgspec.field(default_factory=list)
    """The first ``UNDECODABLE_SAMPLES`` undecodable messages."""


class UndecodableMessageError(BusError):
    """A replay with --strict met a message it cannot decode."""

    template = N_(
        "Message {seq} on subject {subject} in stream {stream} cannot be decoded: {reason}. "
        "Without --strict such messages are counted and skipped."
    )


def decode_batch(
    deliveries: Sequence[Delivery],
    selection: Selection,
    counts: SelectionCounts,
    *,
    strict: bool = False,
    decode_payloads: bool = True,
) -> list[ReplayedEvent]:
    """Decode a batch and keep the events that pass the selection; update ``counts``.

    Without ``decode_payloads`` an envelope in the current version of its
    type, on one line, is checked only for its type, version and key and
    kept as raw bytes. Its payload is then not checked against the
    contract. Older versions are decoded and upcast either way.

    Raises:
        UndecodableMessageError: with ``strict``, at the first undecodable message.
    """
    kept: list[ReplayedEvent] = []
    filters = bool(selection.types) or selection.key is not None
    counts.read += len(deliveries)
    for message, info in deliveries:
        data = message.data
        if not decode_payloads:
            head = decode_head(data)
            if (
                head is not None
                and head.version == CURRENT_VERSIONS.get(head.type)
                and _one_line_object(data)
            ):
                if filters and not _head_passes(head, selection):
                    counts.filtered += 1
                    continue
                kept.append(ReplayedEvent(info.stream_seq, message.subject, info.timestamp_ns,
                                          None, data))
                continue
        elif filters and _filtered_by_head(data, selection):
            counts.filtered += 1
            continue

        event = decode_current_version(data)
        raw = data if event is not None and _one_line_object(data) else None
        if event is None:
            try:
                event = decode_event(data)
            except EventDecodeError as exc:
                seq = info.stream_seq
                _count_undecodable(counts, seq, message.subject, exc.reason, selection.stream)
                if strict:
                    raise UndecodableMessageError(
                        seq=seq, subject=message.subject, stream=selection.stream, reason=exc.reason
                    ) from exc
                continue

        if filters and not selection.keeps(event):
            counts.filtered += 1
            continue
        kept.append(ReplayedEvent(info.stream_seq, message.subject, info.timestamp_ns, event, raw))
    counts.kept += len(kept)
    return kept


def _one_line_object(data: bytes) -> bool:
    # Compact JSON has no line breaks: inside strings they are escaped, so
    # raw ones can only be white space between tokens, which would split
    # a JSON Lines record.
    return data[:1] == b"{" and b"\n" not in data and b"\r" not in data


def _head_passes(head: EventHead, selection: Selection) -> bool:
    if selection.types and head.type not in selection.types:
        return False
    return selection.key is None or head.key == selection.key


def _filtered_by_head(data: bytes, selection: Selection) -> bool:
    """Tell whether a current-version event fails the type or key check, from its head alone."""
    head = decode_head(data)
    if head is None or not head.current:
        return False
    return not _head_passes(head, selection)


def _count_undecodable(
    counts: SelectionCounts, seq: int, subject: str, reason: str, stream: str
) -> None:
    counts.undecodable += 1
    if len(counts.undecodable_samples) < UNDECODABLE_SAMPLES:
        counts.undecodable_samples.append(UndecodableMessage(seq, subject, reason))
        log.warning(
            "replay_message_undecodable", stream=stream, seq=seq, subject=subject, reason=reason
        )
    else:
        log.debug(
            "replay_message_undecodable", stream=stream, seq=seq, subject=subject, reason=reason
        )
