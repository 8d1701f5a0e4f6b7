"""Streaming readers for CSV, JSON Lines and Parquet files.

Each reader yields ``(row_number, row)`` one row at a time, where ``row`` is a dict of
column to cell or a ``RowError`` saying why that row could not be read; memory stays flat
however long the file is. Row numbers count data rows from 1 (a CSV header is not a row;
in JSON Lines the row number is the line number). ``done()`` reports progress in the
reader's ``unit`` (bytes for text files, rows for Parquet).
"""

from __future__ import annotations

import csv
import hashlib
import math
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, Literal

import orjson
import pyarrow.parquet as pq

from coreo.errors import InvalidInputError
from coreo.ingest.imports.mapping import RowError

__all__ = ["FORMATS", "Reader", "file_digest", "guess_format", "jsonable", "open_reader"]

Format = Literal["csv", "jsonl", "parquet"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl", "parquet")
_SUFFIXES: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_DELIMITERS = (",", ";", "\t", "|")


def guess_format(name: str) -> Format:
    """The format a file name implies; a clear error when it implies none."""
    suffix = Path(name).suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    raise InvalidInputError(
        f"cannot tell the format of {Path(name).name!r}; choose one of {', '.join(FORMATS)}",
        field="format",
    )


def file_digest(path: Path) -> str:
    """SHA-256 of the file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def jsonable(value: Any) -> Any:
    """A Parquet cell as JSON: datetimes as ISO 8601 (naive ones are UTC), decimals as floats."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


class Reader:
    """Rows of one file; iterate with ``rows(after=n)`` to skip rows already imported."""

    unit: Literal["bytes", "rows"] = "bytes"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.columns: list[str] | None = None
        self.total = 0
        self._done = 0

    def done(self) -> int:
        return self._done

    def rows(self, after: int = 0) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
        raise NotImplementedError


class _CountingLines:
    """Lines of a binary file, decoded, counting the bytes consumed."""

    def __init__(self, handle: BinaryIO, encoding: str, owner: Reader) -> None:
        self.handle = handle
        self.encoding = encoding
        self.owner = owner

    def __iter__(self) -> Iterator[str]:
        for line in self.handle:
            self.owner._done += len(line)
            # Undecodable bytes survive as lone surrogates; the row that holds them is refused.
            yield line.decode(self.encoding, "surrogateescape")


def _has_undecodable(values: list[str]) -> bool:
    return any("\udc80" <= ch <= "\udcff" for value in values for ch in value)


class CsvReader(Reader):
    def __init__(self, path: Path, *, encoding: str, delimiter: str | None) -> None:
        super().__init__(path)
        self.encoding = encoding
        self.total = path.stat().st_size
        with path.open("rb") as handle:
            first = handle.readline().decode(encoding, "replace").lstrip("\ufeff")
        if not first.strip():
            raise InvalidInputError(f"{path.name} has no header line", field="file")
        self.delimiter = delimiter or max(_DELIMITERS, key=first.count)
        header = next(csv.reader([first], delimiter=self.delimiter))
        self.columns = [c.strip() for c in header]
        if len(set(self.columns)) != len(self.columns) or "" in self.columns:
            raise InvalidInputError(
                f"{path.name}: the header needs unique, non-empty column names", field="file"
            )

    def rows(self, after: int = 0) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
        columns = self.columns or []
        width = len(columns)
        self._done = 0
        with self.path.open("rb") as handle:
            lines = _CountingLines(handle, self.encoding, self)
            reader = csv.reader(lines, delimiter=self.delimiter)
            next(reader)  # the header
            number = 0
            while True:
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as error:
                    number += 1
                    if number > after:
                        yield number, RowError(f"unreadable CSV: {error}")
                    continue
                if not fields:
                    continue  # a blank line is not a row
                number += 1
                if number <= after:
                    continue
                if _has_undecodable(fields):
                    yield (
                        number,
                        RowError(
                            f"not valid {self.encoding}; choose the file's encoding (e.g. latin-1)"
                        ),
                    )
                elif len(fields) != width:
                    yield number, RowError(f"{len(fields)} fields; the header has {width}")
                else:
                    yield number, dict(zip(columns, fields, strict=True))


class JsonLinesReader(Reader):
    def __init__(self, path: Path, *, encoding: str) -> None:
        super().__init__(path)
        self.encoding = encoding
        self.total = path.stat().st_size

    def rows(self, after: int = 0) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
        self._done = 0
        with self.path.open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                self._done += len(line)
                if number <= after or not line.strip():
                    continue
                try:
                    text = line.decode(self.encoding)
                    value = orjson.loads(text)
                except UnicodeDecodeError:
                    yield number, RowError(f"not valid {self.encoding}")
                    continue
                except orjson.JSONDecodeError as error:
                    yield number, RowError(f"not JSON: {error}")
                    continue
                if not isinstance(value, dict):
                    yield number, RowError("a line must hold a JSON object")
                else:
                    yield number, value


class ParquetReader(Reader):
    unit: Literal["bytes", "rows"] = "rows"

    def __init__(self, path: Path, *, batch_rows: int = 2_000) -> None:
        super().__init__(path)
        try:
            self.file = pq.ParquetFile(path)
        except Exception as error:  # pyarrow raises several types for a damaged file
            raise InvalidInputError(
                f"{path.name} is not a readable Parquet file: {error}", field="file"
            ) from None
        self.columns = list(self.file.schema_arrow.names)
        self.total = self.file.metadata.num_rows
        self.batch_rows = batch_rows

    def rows(self, after: int = 0) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
        number = 0
        self._done = 0
        for group in range(self.file.num_row_groups):
            size = self.file.metadata.row_group(group).num_rows
            if number + size <= after:  # skip whole row groups without decoding them
                number += size
                self._done = number
                continue
            for batch in self.file.iter_batches(batch_size=self.batch_rows, row_groups=[group]):
                for row in batch.to_pylist():
                    number += 1
                    self._done = number
                    if number > after:
                        yield number, row


def open_reader(
    path: Path, fmt: Format, *, encoding: str = "utf-8-sig", delimiter: str | None = None
) -> Reader:
    """Open ``path`` for streaming; errors about the whole file are raised here."""
    if not path.is_file():
        raise InvalidInputError(f"no such file: {path}", field="file")
    try:
        "".encode(encoding)
    except LookupError:
        raise InvalidInputError(f"unknown encoding {encoding!r}", field="encoding") from None
    if fmt == "csv":
        return CsvReader(path, encoding=encoding, delimiter=delimiter)
    if fmt == "jsonl":
        return JsonLinesReader(path, encoding=encoding)
    return ParquetReader(path)
