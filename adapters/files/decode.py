"""Decode the bytes of a dropped file into text without guessing wrong silently.

Chinese departments export either UTF-8 or the GB family (GBK, GB18030). The
automatic mode tries strict decoders in a fixed order, so a result never
contains a replacement character (U+FFFD) unless the source bytes were a valid
encoding of that character.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

import charset_normalizer

AUTO = "auto"

# Encodings a source profile may force. Aliases such as "UTF8" or "cp936" are
# first mapped to the codec's canonical name by codecs.lookup().
SUPPORTED_ENCODINGS = ("utf-8", "utf-8-sig", "gbk", "gb18030")

# U+FEFF as GB18030 writes it. The UTF-8 form is codecs.BOM_UTF8.
_GB18030_BOM = b"\x84\x31\x95\x33"

# Bytes on either side of the failing offset that charset-normalizer examines
# to suggest an encoding. A window keeps the guess fast on large files.
_GUESS_WINDOW_BYTES = 32 * 1024


@dataclass(frozen=True, slots=True)
class DecodedText:
    """Text decoded from a file, with the encoding that produced it."""

    text: str
    encoding: str
    had_bom: bool


class UndecodableError(ValueError):
    """Raised when no allowed encoding decodes the bytes strictly."""

    def __init__(
        self,
        *,
        byte_offset: int,
        line: int,
        encodings_tried: tuple[str, ...],
        guess: str | None = None,
    ) -> None:
        self.byte_offset = byte_offset
        self.line = line
        self.encodings_tried = encodings_tried
        self.guess = guess

        tried = ", ".join(encodings_tried)
        msg = (
            f"cannot decode the file as {tried}: invalid bytes at byte offset "
            f"{byte_offset} (line {line})"
        )
        if guess is not None:
            msg += f"; charset-normalizer suggests {guess}"
        msg += (
            "; set the source profile's `encoding` to one of "
            f"{', '.join(SUPPORTED_ENCODINGS)} or re-export the file as UTF-8"
        )
        super().__init__(msg)


def decode_file(path: Path, *, encoding: str = AUTO) -> DecodedText:
    """Read a whole file and decode it with `decode_bytes`."""
    # NOTE: the whole file is read into memory, and the decoded text sits
    # beside the bytes until this function returns. Files of a few hundred MB
    # fit. Larger exports need an incremental decoder that feeds the readers
    # line by line.
    data = path.read_bytes()
    return decode_bytes(data, encoding=encoding)


def decode_bytes(data: bytes, *, encoding: str = AUTO) -> DecodedText:
    """Decode bytes strictly and strip a leading byte order mark.

    With ``encoding="auto"``, valid UTF-8 (with or without a BOM) is always
    read as UTF-8, even when the same bytes would also be valid GBK. Otherwise
    GBK is tried, then GB18030, which is reported only when GBK fails.
    Bytes that start with a UTF-8 BOM but are not valid UTF-8 are not
    retried as GBK, because the BOM would turn into a garbage character.

    A forced encoding must be one of `SUPPORTED_ENCODINGS` or an alias of one.

    Raises:
        UndecodableError: no tried encoding decodes the bytes. Its offset is the
            furthest position any decoder reached.
        ValueError: the forced encoding is not supported.
    """
    if encoding == AUTO:
        return _decode_auto(data)

    forced = _canonical_encoding(encoding)
    failure = _try_decode(data, forced)
    if isinstance(failure, DecodedText):
        return failure

    raise _undecodable(data, failure, (forced,))


def _decode_auto(data: bytes) -> DecodedText:
    has_utf8_bom = data.startswith(codecs.BOM_UTF8)
    first = "utf-8-sig" if has_utf8_bom else "utf-8"
    result = _try_decode(data, first)
    if isinstance(result, DecodedText):
        return result

    if has_utf8_bom:
        raise _undecodable(data, result, (first,))

    furthest = result
    for candidate in ("gbk", "gb18030"):
        result = _try_decode(data, candidate)
        if isinstance(result, DecodedText):
            return result
        furthest = max(furthest, result)

    raise _undecodable(data, furthest, ("utf-8", "gbk", "gb18030"))


def _try_decode(data: bytes, encoding: str) -> DecodedText | int:
    """Decode with one codec, or return the byte offset where it failed."""
    bom = _bom_for(encoding)
    skip = len(bom) if bom and data.startswith(bom) else 0

    # The utf-8-sig codec would report offsets after its BOM, so the BOM is
    # skipped here for every codec. A memoryview slice avoids copying the bytes.
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    try:
        text = str(memoryview(data)[skip:], codec, "strict")
    except UnicodeDecodeError as exc:
        return skip + exc.start

    return DecodedText(text=text, encoding=encoding, had_bom=skip > 0)


def _bom_for(encoding: str) -> bytes:
    # GBK cannot encode U+FEFF, so it has no BOM.
    if encoding in ("utf-8", "utf-8-sig"):
        return codecs.BOM_UTF8
    if encoding == "gb18030":
        return _GB18030_BOM
    return b""


def _canonical_encoding(encoding: str) -> str:
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        name = encoding

    if name not in SUPPORTED_ENCODINGS:
        allowed = ", ".join((AUTO, *SUPPORTED_ENCODINGS))
        msg = f"unsupported encoding {encoding!r}: expected one of {allowed}"
        raise ValueError(msg)
    return name


def _undecodable(
    data: bytes, byte_offset: int, encodings_tried: tuple[str, ...]
) -> UndecodableError:
    line = data.count(b"\n", 0, byte_offset) + 1
    return UndecodableError(
        byte_offset=byte_offset,
        line=line,
        encodings_tried=encodings_tried,
        guess=_guess_encoding(data, byte_offset),
    )


def _guess_encoding(data: bytes, byte_offset: int) -> str | None:
    """Ask charset-normalizer for a likely encoding, only to word an error."""
    start = max(0, byte_offset - _GUESS_WINDOW_BYTES)
    window = data[start : byte_offset + _GUESS_WINDOW_BYTES]
    best = charset_normalizer.from_bytes(window).best()
    if best is None:
        return None
    return str(best.encoding)
