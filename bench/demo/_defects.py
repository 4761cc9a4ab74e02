"""Defects that real department exports carry, injected at counted rates.

A case gets at most one value defect (a wrong field) or one placement defect
(a row out of order, re-sent or duplicated), never both, so every count in
``DefectCounts`` equals what a reader finds in the files. Excel serial dates
and noisy header cells are representation defects and may fall on any row.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

import msgspec

from bench.demo._calendar import MINUTES_PER_DAY, WorkingCalendar
from bench.demo._flows import UNMAPPED_STATUS, CaseRecord, StatusRow

_ID_CHECK_CHARS = "0123456789X"
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_FULL_WIDTH_OFFSET = 0xFEE0
_CORRECTION_SHARE = 0.5
_SERIAL_DATE_SHARE = 0.03
_EARLIER_FILE_SHARE = 0.3
_LATER_FILE_SHARE = 0.5
_HEADER_NOISE = ("\ufeff{}", "{}\u3000", "\u3000{}", "{}\u200b", "\u200b{}")

# Rate of each value defect among the cases it can apply to, tried in order.
_ID_CHECK_SHARE = 0.02
_USCC_CHECK_SHARE = 0.03
_LOWERCASE_X_SHARE = 0.3
_UNKNOWN_ITEM_SHARE = 0.015
_MISSING_NAME_SHARE = 0.01
_FULL_WIDTH_SHARE = 0.02
_UNMAPPED_SHARE = 0.01
_SENTINEL_SHARE = 0.01

# Rate of each placement defect among the cases without a value defect.
_OUT_OF_ORDER_SHARE = 0.015
_RESENT_SHARE = 0.015
_DUPLICATE_SHARE = 0.01


class DefectCounts(msgspec.Struct, frozen=True, kw_only=True):
    """Rows (or header cells) that carry each injected defect, over all written files."""

    id_check_char: int = 0
    """Submitted rows whose ID number (身份证号) has a wrong check character."""
    uscc_check_char: int = 0
    """Submitted rows whose applicant 统一社会信用代码 has a wrong check character."""
    unknown_item_code: int = 0
    """Rows whose well-formed implementation code is not in the catalogue."""
    out_of_order: int = 0
    """Rows placed before their predecessor, in its file or in the month before."""
    resent: int = 0
    """Identical copies of an earlier row, later in the file or in a later file."""
    duplicate_row: int = 0
    """Identical copies right after the row they copy."""
    full_width_digits: int = 0
    """Rows with full-width digits and letters in the case number, region code or ID number."""
    lowercase_x: int = 0
    """Submitted rows whose ID number ends in a lowercase x."""
    excel_serial_date: int = 0
    """XLSX rows whose status time is a serial number, not a date cell."""
    unmapped_status: int = 0
    """Extra rows with a status value that the source profile does not map."""
    sentinel_date: int = 0
    """Rows whose status time reads 1753-01-01, SQL Server's empty date."""
    missing_applicant_name: int = 0
    """Submitted rows with an empty applicant name."""
    header_noise: int = 0
    """Hall CSV header cells with a BOM, an ideographic space or a zero-width space."""


def full_width(value: str) -> str:
    """Turn ASCII digits and letters into their full-width forms (U+FF10 …)."""
    return "".join(
        chr(ord(char) + _FULL_WIDTH_OFFSET) if char.isascii() and char.isalnum() else char
        for char in value
    )


def _other_char(rng: random.Random, alphabet: str, current: str) -> str:
    return rng.choice([char for char in alphabet if char != current])


def _made_up_item_code(rng: random.Random, case: CaseRecord, known: set[str]) -> str:
    """Build a well-formed implementation code whose basic code is in no catalogue."""
    while True:
        basic = f"511Z9{rng.randrange(10**9):09d}"
        code = f"{basic}-{case.item.region12}-000-{case.item.department_code}-1-00"
        if code not in known:
            return code


class CaseDefects:
    """Inject value defects into cases and collect the corrected re-sends."""

    def __init__(
        self, rng: random.Random, calendar: WorkingCalendar, known_codes: set[str], cutoff: int
    ) -> None:
        self._rng = rng
        self._calendar = calendar
        self._known_codes = known_codes
        self._cutoff = cutoff
        self.counts: Counter[str] = Counter()
        self.corrections: list[StatusRow] = []
        """Fixed copies (data version 2) of about half of the wrong-check rows."""
        self.defective_cases: set[int] = set()

    def _choose(self, case: CaseRecord) -> str | None:
        applicant = case.applicant
        chances = (
            ("unknown_item_code", _UNKNOWN_ITEM_SHARE),
            ("id_check_char", _ID_CHECK_SHARE if applicant.id_type == "id_card" else 0.0),
            ("uscc_check_char", _USCC_CHECK_SHARE if applicant.id_type == "uscc" else 0.0),
            (
                "lowercase_x",
                _LOWERCASE_X_SHARE if applicant.id_number.endswith("X") else 0.0,
            ),
            ("missing_applicant_name", _MISSING_NAME_SHARE),
            ("full_width_digits", _FULL_WIDTH_SHARE),
            ("unmapped_status", _UNMAPPED_SHARE),
            ("sentinel_date", _SENTINEL_SHARE if len(case.rows) >= 2 else 0.0),
        )
        roll = self._rng.random()
        threshold = 0.0
        for kind, share in chances:
            threshold += share
            if roll < threshold:
                return kind
        return None

    def apply(self, case: CaseRecord) -> None:
        """Give the case at most one value defect, chosen at the rates above."""
        kind = self._choose(case)
        if kind is None:
            return

        submitted = case.rows[0]
        changed = 1
        if kind == "unknown_item_code":
            code = _made_up_item_code(self._rng, case, self._known_codes)
            for row in case.rows:
                row.item_code = code
            changed = len(case.rows)
        elif kind in ("id_check_char", "uscc_check_char"):
            self._break_check_char(submitted, kind)
        elif kind == "lowercase_x":
            submitted.applicant_id = submitted.applicant_id[:-1] + "x"
        elif kind == "missing_applicant_name":
            submitted.applicant_name = ""
        elif kind == "full_width_digits":
            self._widen(case)
        elif kind == "unmapped_status":
            changed = self._add_unmapped_row(case)
        else:
            case.rows[-1].sentinel_time = True

        if changed:
            self.counts[kind] += changed
            self.defective_cases.add(case.index)

    def _break_check_char(self, row: StatusRow, kind: str) -> None:
        if self._rng.random() < _CORRECTION_SHARE:
            self.corrections.append(replace(row, version=2))

        alphabet = _ID_CHECK_CHARS if kind == "id_check_char" else _USCC_ALPHABET
        wrong = _other_char(self._rng, alphabet, row.applicant_id[-1])
        row.applicant_id = row.applicant_id[:-1] + wrong

    def _widen(self, case: CaseRecord) -> None:
        target = self._rng.choice(("local_no", "region", "applicant_id"))
        if target == "applicant_id":
            case.rows[0].applicant_id = full_width(case.rows[0].applicant_id)
        elif target == "region":
            row = self._rng.choice(case.rows)
            row.region = full_width(row.region)
        else:
            row = self._rng.choice(case.rows)
            row.local_no = full_width(row.local_no)

    def _add_unmapped_row(self, case: CaseRecord) -> int:
        """Append an archive-like status (归档) after the last row; return rows added."""
        last = case.rows[-1]
        moment = last.moment + self._rng.randint(30, MINUTES_PER_DAY)
        if moment >= self._cutoff:
            return 0

        case.rows.append(
            replace(
                last,
                status=UNMAPPED_STATUS,
                moment=moment,
                status_time=self._calendar.to_datetime(moment)
                + timedelta(seconds=self._rng.randrange(60)),
                result=None,
                remark="已归档",
            )
        )
        return 1


def _locate(files: list[list[StatusRow]], row: StatusRow) -> tuple[int, int]:
    for file_index, rows in enumerate(files):
        for position, candidate in enumerate(rows):
            if candidate is row:
                return file_index, position
    message = "row is in none of the files"
    raise LookupError(message)


class PlacementDefects:
    """Move and copy rows of clean cases inside one source's monthly files."""

    def __init__(self, rng: random.Random, files: list[list[StatusRow]]) -> None:
        self._rng = rng
        self._files = files
        self.counts: Counter[str] = Counter()

    def apply(self, case: CaseRecord) -> None:
        """Give a case without value defects at most one placement defect."""
        roll = self._rng.random()
        if roll < _OUT_OF_ORDER_SHARE:
            if len(case.rows) >= 2:
                self._move_before_predecessor(case)
        elif roll < _OUT_OF_ORDER_SHARE + _RESENT_SHARE:
            self._resend(self._rng.choice(case.rows))
        elif roll < _OUT_OF_ORDER_SHARE + _RESENT_SHARE + _DUPLICATE_SHARE:
            row = self._rng.choice(case.rows)
            file_index, position = _locate(self._files, row)
            self._files[file_index].insert(position + 1, replace(row))
            self.counts["duplicate_row"] += 1

    def _move_before_predecessor(self, case: CaseRecord) -> None:
        index = self._rng.randrange(1, len(case.rows))
        row, predecessor = case.rows[index], case.rows[index - 1]
        row_file, row_position = _locate(self._files, row)
        del self._files[row_file][row_position]

        target_file, target_position = _locate(self._files, predecessor)
        if target_file > 0 and self._rng.random() < _EARLIER_FILE_SHARE:
            earlier = self._files[target_file - 1]
            earlier.insert(self._rng.randint(0, len(earlier)), row)
        else:
            self._files[target_file].insert(target_position, row)
        self.counts["out_of_order"] += 1

    def _resend(self, row: StatusRow) -> None:
        """Insert an identical copy two or more rows later, or into a later file."""
        file_index, position = _locate(self._files, row)
        later_files = len(self._files) - file_index - 1
        same_file = self._files[file_index]

        if later_files and (
            self._rng.random() < _LATER_FILE_SHARE or position + 2 > len(same_file)
        ):
            target = self._files[file_index + self._rng.randint(1, later_files)]
            target.insert(self._rng.randint(0, len(target)), replace(row))
        elif position + 2 <= len(same_file):
            same_file.insert(self._rng.randint(position + 2, len(same_file)), replace(row))
        else:
            return
        self.counts["resent"] += 1


def mark_serial_dates(rng: random.Random, files: list[list[StatusRow]]) -> None:
    """Flag some XLSX rows to carry their time as an Excel serial number."""
    for rows in files:
        for row in rows:
            if not row.sentinel_time and rng.random() < _SERIAL_DATE_SHARE:
                row.serial_time = True


def noisy_header(
    rng: random.Random, columns: Sequence[str], patterns: Sequence[str] = _HEADER_NOISE
) -> tuple[list[str], int]:
    """Return the header with one to three cells wrapped in invisible characters, and how many.

    ``patterns`` are format strings around the cell; a GBK file needs ones
    its encoding can write, such as the ideographic space U+3000.
    """
    header = list(columns)
    chosen = rng.sample(range(len(header)), rng.randint(1, 3))
    for index in chosen:
        header[index] = rng.choice(patterns).format(header[index])
    return header, len(chosen)
