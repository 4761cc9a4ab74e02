"""Reading dropped department export files: decoding, CSV, XLSX and JSON Lines."""

from adapters.files.decode import (
    SUPPORTED_ENCODINGS,
    DecodedText,
    UndecodableError,
    decode_bytes,
    decode_file,
)
from adapters.files.readers import (
    FORMATS,
    CellValue,
    HeaderError,
    SourceFile,
    SourceFileError,
    SourceRecord,
    UnsupportedFormatError,
    clean_header,
    escape_name,
    open_source_file,
)

__all__ = [
    "FORMATS",
    "SUPPORTED_ENCODINGS",
    "CellValue",
    "DecodedText",
    "HeaderError",
    "SourceFile",
    "SourceFileError",
    "SourceRecord",
    "UndecodableError",
    "UnsupportedFormatError",
    "clean_header",
    "decode_bytes",
    "decode_file",
    "escape_name",
    "open_source_file",
]
