"""Streaming readers: rows, row numbers, per-row errors, resumption, progress."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from coreo.errors import InvalidInputError
from coreo.ingest.imports.mapping import RowError
from coreo.ingest.imports.readers import guess_format, open_reader


def _rows(reader, after: int = 0):  # type: ignore[no-untyped-def]
    return [(n, str(r) if isinstance(r, RowError) else r) for n, r in reader.rows(after=after)]


def test_csv_guesses_the_delimiter_strips_the_bom_and_keeps_quoted_newlines(
    tmp_path: Path,
) -> None:
    path = tmp_path / "k.csv"
    path.write_bytes('\ufeffid;name;note\n1;Zoë;"two\nlines; here"\n\n2;Luc;x\n'.encode())
    reader = open_reader(path, "csv")
    assert reader.delimiter == ";"  # type: ignore[attr-defined]
    assert reader.columns == ["id", "name", "note"]
    assert _rows(reader) == [
        (1, {"id": "1", "name": "Zoë", "note": "two\nlines; here"}),
        (2, {"id": "2", "name": "Luc", "note": "x"}),  # a blank line is not a row
    ]
    assert reader.done() == reader.total == path.stat().st_size


def test_csv_rows_with_the_wrong_width_or_encoding_are_row_errors(tmp_path: Path) -> None:
    path = tmp_path / "k.csv"
    path.write_bytes(b"id,name\n1,Anna\n2,Jos\xe9\n3\n4,Eva,extra\n5,Max\n")
    rows = _rows(open_reader(path, "csv"))
    assert rows[0] == (1, {"id": "1", "name": "Anna"})
    assert rows[1][0] == 2 and "not valid utf-8-sig" in rows[1][1]
    assert rows[2] == (3, "1 fields; the header has 2")
    assert rows[3] == (4, "3 fields; the header has 2")
    assert rows[4] == (5, {"id": "5", "name": "Max"})
    latin = _rows(open_reader(path, "csv", encoding="latin-1"))
    assert latin[1] == (2, {"id": "2", "name": "José"})


def test_rows_after_a_resume_point_are_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "k.csv"
    path.write_text("id\n" + "".join(f"{i}\n" for i in range(1, 11)))
    assert [n for n, _ in open_reader(path, "csv").rows(after=7)] == [8, 9, 10]


def test_json_lines_number_rows_by_line(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text('{"type":"track"}\n\n{broken\n[1]\n{"type":"page"}\n')
    rows = _rows(open_reader(path, "jsonl"))
    assert rows[0] == (1, {"type": "track"})
    assert rows[1][0] == 3 and rows[1][1].startswith("not JSON")
    assert rows[2] == (4, "a line must hold a JSON object")
    assert rows[3] == (5, {"type": "page"})
    assert [n for n, _ in open_reader(path, "jsonl").rows(after=4)] == [5]


def test_parquet_rows_keep_their_types_and_skip_whole_row_groups(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    table = pa.table(
        {"id": list(range(1, 2501)), "at": [datetime(2025, 1, 1)] * 2500, "x": [1.5] * 2500}  # noqa: DTZ001 (naive on purpose)
    )
    pq.write_table(table, path, row_group_size=1000)
    reader = open_reader(path, "parquet")
    assert reader.columns == ["id", "at", "x"] and reader.total == 2500
    rows = list(reader.rows(after=2100))
    assert rows[0] == (2101, {"id": 2101, "at": datetime(2025, 1, 1), "x": 1.5})  # noqa: DTZ001 (naive on purpose)
    assert len(rows) == 400 and reader.done() == 2500


@pytest.mark.parametrize(
    ("name", "content", "fmt", "fragment"),
    [
        ("missing.csv", None, "csv", "no such file"),
        ("empty.csv", b"\n", "csv", "has no header line"),
        ("dup.csv", b"a,a\n1,2\n", "csv", "unique, non-empty column names"),
        ("bad.parquet", b"not parquet", "parquet", "is not a readable Parquet file"),
    ],
)
def test_whole_file_problems_are_clear_errors(
    tmp_path: Path, name: str, content: bytes | None, fmt: str, fragment: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InvalidInputError, match=fragment):
        open_reader(path, fmt)  # type: ignore[arg-type]


def test_the_format_comes_from_the_file_name() -> None:
    assert guess_format("a.CSV") == "csv"
    assert guess_format("a.ndjson") == "jsonl"
    assert guess_format("x/y.parquet") == "parquet"
    with pytest.raises(InvalidInputError, match=r"cannot tell the format of 'a\.xlsx'"):
        guess_format("a.xlsx")
