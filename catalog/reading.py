"""Reading a store's file safely: regular files only, a size bound, bounded rows and fields, and
an unclosed quote reported instead of swallowing the rows after it.

Issue 17, defect 8: `csv.field_size_limit(sys.maxsize)` let `--catalog /dev/zero` (or any
big file without a newline) grow past 4.8 GB of memory; defect 7: an unterminated quote merged
the next rows into one title without a word. Every adapter reads through here.
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, TextIO

from assistant.errors import CatalogError
from catalog.schema import LoadReport, RowError

# A catalog file larger than this is refused before it is read. The fashion labels are 1.5 MB
# and a 100k-product export about 50 MB, so 1 GiB leaves room for ~1M products while a disk
# image or a log passed by mistake is refused at once.
MAX_SOURCE_BYTES = 1 << 30
# One field (a description, a Shopify "Body (HTML)") may hold this many characters: long
# product pages are tens of KB; past this it is an unclosed quote or not a catalog at all.
MAX_FIELD_CHARS = 1_000_000
# One row (a physical line, or a CSV record spanning lines) may hold this many characters;
# lines are read with this limit, so memory stays bounded whatever the file holds.
MAX_ROW_CHARS = 4_000_000
csv.field_size_limit(MAX_FIELD_CHARS)  # process-wide; the default (131,072) is too small for HTML bodies


def check_source_file(path: str | Path, st: os.stat_result | None = None) -> Path:
    """The path if it is a regular file within the size bound; else a CatalogError saying why."""
    path = Path(path)
    try:
        st = st or path.stat()
    except OSError as exc:
        raise CatalogError(f"cannot read {path.name}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise CatalogError(f"{path} is not a regular file (a device, pipe or socket cannot be a catalog)")
    if st.st_size > MAX_SOURCE_BYTES:
        raise CatalogError(f"{path.name} is {st.st_size / 2**30:.1f} GiB; catalog files are "
                           f"limited to {MAX_SOURCE_BYTES / 2**30:.0f} GiB")
    return path


@contextmanager
def open_text(path: str | Path) -> Iterator[TextIO]:
    """Open a catalog file as UTF-8 text (a BOM is dropped), checking the very file opened: a
    FIFO is opened non-blocking, so it is refused instead of waiting for a writer."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise CatalogError(f"cannot read {path.name}: {exc.strerror or exc}") from None
    try:
        check_source_file(path, os.fstat(fd))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    with io.open(fd, encoding="utf-8-sig", newline="") as fh:
        yield fh


class Lines:
    """A file's physical lines, each at most MAX_ROW_CHARS; keeps the lines of the current
    record so a CSV record that spans lines can be checked (`take`)."""

    def __init__(self, fh: TextIO, name: str) -> None:
        self.fh, self.name = fh, name
        self.number = 0
        self._pending: list[str] = []
        self._chars = 0

    def __iter__(self) -> "Lines":
        return self

    def __next__(self) -> str:
        try:
            line = self.fh.readline(MAX_ROW_CHARS + 1)
        except UnicodeDecodeError:
            raise CatalogError(f"{self.name}: near line {self.number + 1} the file is not UTF-8 "
                               "text; export it as UTF-8") from None
        if not line:
            raise StopIteration
        self.number += 1
        self._chars += len(line)
        self._pending.append(line)
        if len(line) > MAX_ROW_CHARS:
            raise CatalogError(f"{self.name}: line {self.number} is longer than {MAX_ROW_CHARS:,} "
                               "characters; is this a catalog export?")
        if self._chars > MAX_ROW_CHARS:
            raise CatalogError(f"{self.name}: the row starting on line {self.first} runs past "
                               f"{MAX_ROW_CHARS:,} characters (an unclosed quote?)")
        return line

    @property
    def first(self) -> int:
        """Line number where the current record started."""
        return self.number - len(self._pending) + 1

    def take(self) -> list[str]:
        """The physical lines of the record just read; starts a new record."""
        lines, self._pending, self._chars = self._pending, [], 0
        return lines


def numbered_lines(fh: TextIO, name: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of a line-per-record file such as JSONL, each line bounded."""
    lines = Lines(fh, name)
    for text in lines:
        lines.take()
        yield lines.number, text


# what store exports separate columns with: comma; tab (TSV, Merchant .txt feeds); semicolon
# (spreadsheets saved where the decimal mark is a comma: "Prix;12,50"); pipe
DELIMITERS = (",", "\t", ";", "|")
_QUOTED = re.compile(r'"[^"]*"')


def sniff_delimiter(header_line: str) -> str:
    """The delimiter the header line uses most outside quoted names; a tie goes to the comma."""
    bare = _QUOTED.sub("", header_line)
    return max(DELIMITERS, key=bare.count)


class CsvRows:
    """Rows of a delimited file as (start line, {column: value}); an extra-field row carries
    them under the key None, a short row lacks the missing columns. A record that an unclosed
    quote ran over into the next rows is not returned: its lines go into `report` instead."""

    def __init__(self, fh: TextIO, name: str, report: LoadReport, delimiter: str | None = None) -> None:
        self.lines = Lines(fh, name)
        self.name, self.report = name, report
        if delimiter is None:
            first = fh.readline(MAX_ROW_CHARS + 1)
            delimiter = sniff_delimiter(first)
            fh.seek(0)
        self.delimiter = delimiter
        self.reader = csv.reader(self.lines, delimiter=delimiter)
        self.fieldnames: list[str] = [c.strip() for c in self._next() or []]
        self.lines.take()

    def _next(self) -> list[str] | None:
        try:
            return next(self.reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            raise CatalogError(f"{self.name}: line {self.lines.first}: {exc} "
                               "(an unclosed quote?)") from None

    def _looks_like_row(self, text: str) -> bool:
        """A line that is a whole row on its own: the header's number of fields (three or more)
        and an id-like first cell (no spaces), as prose inside a description rarely has."""
        try:
            fields = next(csv.reader([text], delimiter=self.delimiter, strict=True), [])
        except csv.Error:
            return False
        first = fields[0].strip() if fields else ""
        return len(self.fieldnames) >= 3 and len(fields) == len(self.fieldnames) and bool(first) \
            and not any(ch.isspace() for ch in first)

    def _well_formed(self, raw: list[str]) -> bool:
        try:
            list(csv.reader(raw, delimiter=self.delimiter, strict=True))
        except csv.Error:  # a quote closed mid-field, or never closed
            return False
        return True

    def _swallowed(self, start: int, raw: list[str], fields: list[str]) -> bool:
        """Report a record spanning lines that an unclosed quote made: malformed quoting, fewer
        fields than the header, or a following line that is a row of its own."""
        rows_inside = [start + i for i, text in enumerate(raw[1:], 1) if self._looks_like_row(text)]
        if not rows_inside and len(fields) >= len(self.fieldnames) and self._well_formed(raw):
            return False
        end = start + len(raw) - 1
        self.report.errors.append(RowError(start, f"a quote opened here is not closed where it "
                                                  f"should be: lines {start}-{end} read as one row; check the quotes"))
        self.report.errors.extend(RowError(n, f"looks like a row of its own, inside the quote "
                                              f"opened on line {start}") for n in rows_inside)
        return True

    def __iter__(self) -> Iterator[tuple[int, dict]]:
        names = self.fieldnames
        while (fields := self._next()) is not None:
            start = self.lines.first
            raw = self.lines.take()
            if not fields or not any(f.strip() for f in fields):
                continue
            if len(raw) > 1 and self._swallowed(start, raw, fields):
                continue
            row: dict = dict(zip(names, fields))
            if len(fields) > len(names):
                row[None] = fields[len(names):]
            yield start, row
