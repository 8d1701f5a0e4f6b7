"""Standardisation of customer master records (ERP, CRM, loyalty) for matching.

Records are brought into one comparable form before the matcher in
`coreo.identity.matching` scores them: names, streets and cities case- and accent-folded,
e-mails canonical, phones digits with the calling code, birth dates ISO, plus a Kölner
Phonetik code for each name and the parts of a double last name. Plain Python and
pyarrow; no Splink, no database.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import Any, TypeAlias

import pyarrow as pa

__all__ = [
    "RECORD_FIELDS",
    "Records",
    "cologne_phonetic",
    "standardise_records",
]

RECORD_FIELDS = (
    "record_id",
    "source_system",
    "first_name",
    "last_name",
    "birth_date",
    "street",
    "house_number",
    "postcode",
    "city",
    "email",
    "phone",
)
"""Input fields of a customer record; all but ``record_id`` may be missing or empty."""

Records: TypeAlias = "pa.Table | Sequence[Mapping[str, Any]]"

_SCHEMA = pa.schema(
    [pa.field(name, pa.string()) for name in RECORD_FIELDS]
    + [pa.field("first_name_phonetic", pa.string()), pa.field("last_name_phonetic", pa.string())]
    + [pa.field("last_name_tokens", pa.list_(pa.string()))]
)


_TRANSLITERATION = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d"}
)
_PARTICLES = frozenset(
    ("af", "al", "d", "da", "das", "de", "del", "della", "der", "des", "di", "dos",
     "du", "el", "la", "le", "lo", "st", "van", "von", "zu", "zum", "zur")
)  # fmt: skip


@lru_cache(maxsize=1 << 16)
def _fold(text: str) -> str:
    """Case- and accent-fold: German umlauts to ae/oe/ue, other accents dropped."""
    text = unicodedata.normalize("NFC", text).casefold().translate(_TRANSLITERATION)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = re.sub("['\u2019`\u00b4.]", "", text)  # D'Amico = DAmico, "H." = "H"
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and value != value):  # None or NaN
        return None
    text = value.isoformat() if isinstance(value, date) else str(value)
    return text.strip() or None


def _name(value: object) -> str | None:
    text = _text(value)
    return (_fold(text) or None) if text else None


def _street(value: object) -> str | None:
    name = _name(value)
    return re.sub(r"str\b", "strasse", name) if name else None  # Bahnhofstr. = Bahnhofstrasse


def _code(value: object) -> str | None:
    name = _name(value)
    return name.replace(" ", "") if name else None


def _birth_date(value: object) -> str | None:
    """ISO date text; a corrupt 8-digit date stays comparable (Levenshtein) but not a date."""
    if isinstance(value, datetime):
        value = value.date()
    text = _text(value)
    if text is None:
        return None
    european = re.fullmatch(r"(\d{1,2})[./](\d{1,2})[./](\d{4})", text)
    if european:
        day, month, year = european.groups()
        return f"{year}-{int(month):02d}-{int(day):02d}"
    digits = re.sub(r"\D", "", text)
    return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}" if len(digits) == 8 else None


def _email(value: object) -> str | None:
    text = _text(value)
    if text is None:
        return None
    text = "".join(text.split()).lower()
    local, at, domain = text.rpartition("@")
    if not at or not local:
        return text
    local = local.split("+", 1)[0] or local  # sub-addressing: anna+shop@ is anna@
    if domain == "googlemail.com":
        domain = "gmail.com"
    if domain == "gmail.com":
        local = local.replace(".", "")
    return f"{local}@{domain}"


def _phone(value: object, country_code: str) -> str | None:
    digits = re.sub(r"\D", "", _text(value) or "")
    if digits.startswith("00"):  # international; no country code starts with 0
        digits = digits[2:].lstrip("0")
    elif digits.startswith("0"):
        digits = country_code + digits[1:]
    return digits or None


_COLOGNE_PLAIN = {
    **dict.fromkeys("aeijouy", "0"),
    "b": "1",
    **dict.fromkeys("fvw", "3"),
    **dict.fromkeys("gkq", "4"),
    "l": "5",
    **dict.fromkeys("mn", "6"),
    "r": "7",
    **dict.fromkeys("sz", "8"),
}


@lru_cache(maxsize=1 << 16)
def cologne_phonetic(name: str) -> str:
    """Return the Kölner Phonetik code of a folded name ("mueller", "muller" -> "657").

    A phonetic key suited to German names that also groups French and Italian spellings
    reasonably; letters outside a-z are ignored.
    """
    letters = [c for c in name if "a" <= c <= "z"]
    digits: list[str] = []
    for i, ch in enumerate(letters):
        before = letters[i - 1] if i else ""
        after = letters[i + 1] if i + 1 < len(letters) else ""
        if ch == "h":
            continue
        if ch == "p":
            code = "3" if after == "h" else "1"
        elif ch in "dt":
            code = "8" if after in ("c", "s", "z") else "2"
        elif ch == "c":
            if i == 0:
                code = "4" if after and after in "ahkloqrux" else "8"
            else:
                code = "4" if after and after in "ahkoqux" and before not in ("s", "z") else "8"
        elif ch == "x":
            code = "8" if before in ("c", "k", "q") else "48"
        else:
            code = _COLOGNE_PLAIN[ch]
        digits.append(code)
    collapsed: list[str] = []
    for digit in "".join(digits):
        if not collapsed or collapsed[-1] != digit:
            collapsed.append(digit)
    return (collapsed[0] if collapsed else "") + "".join(d for d in collapsed[1:] if d != "0")


def standardise_records(records: Records, *, default_country_code: str = "41") -> pa.Table:
    """Return the records in matching form, sorted by record id.

    Names, streets and cities are case- and accent-folded (Müller, MUELLER -> mueller;
    Zoë -> zoe), e-mails lower-cased and canonical, phones digits with the calling code,
    birth dates ISO. Adds phonetic codes and last-name tokens. Standardising twice changes
    nothing. Raises ValueError on a missing or repeated record id.
    """
    if isinstance(records, pa.Table):
        present = set(records.column_names)
        columns = {
            name: records.column(name).to_pylist() if name in present else [None] * len(records)
            for name in RECORD_FIELDS
        }
    else:
        columns = {name: [row.get(name) for row in records] for name in RECORD_FIELDS}
    ids = [_text(value) for value in columns["record_id"]]
    if any(value is None for value in ids):
        raise ValueError("every record needs a record_id")
    if len(set(ids)) != len(ids):
        raise ValueError("record ids must be unique within one matching run")
    first = [_name(v) for v in columns["first_name"]]
    last = [_name(v) for v in columns["last_name"]]
    data: dict[str, list[Any]] = {
        "record_id": ids,
        "source_system": [_text(v) for v in columns["source_system"]],
        "first_name": first,
        "last_name": last,
        "birth_date": [_birth_date(v) for v in columns["birth_date"]],
        "street": [_street(v) for v in columns["street"]],
        "house_number": [_code(v) for v in columns["house_number"]],
        "postcode": [_code(v) for v in columns["postcode"]],
        "city": [_name(v) for v in columns["city"]],
        "email": [_email(v) for v in columns["email"]],
        "phone": [_phone(v, default_country_code) for v in columns["phone"]],
        "first_name_phonetic": [cologne_phonetic(v) or None if v else None for v in first],
        "last_name_phonetic": [cologne_phonetic(v) or None if v else None for v in last],
        "last_name_tokens": [
            [t for t in v.split() if t not in _PARTICLES] or None if v else None for v in last
        ],
    }
    table = pa.Table.from_pydict(data, schema=_SCHEMA)
    return table.sort_by("record_id")  # input order must not change the model
