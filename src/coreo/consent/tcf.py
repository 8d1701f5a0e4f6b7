"""Decode IAB TCF v2.2 TC strings (the GDPR consent signal ad-tech CMPs write).

``decode(tc_string)`` reads the core segment of a Transparency & Consent string as laid
out in the IAB Tech Lab spec "Transparency and Consent String v2" (core segment field
table): header, purposes, special features, vendor consents and legitimate interests (bit
field or range encoded) and the publisher restrictions. Segments after the first ``.``
(disclosed vendors, publisher TC) are not read. ``coreo_purposes(tc)`` turns the purpose
signals into Coreo purposes for the ingestion stage.

Strings that are not TCF v2 (``version != 2``) or were written under a policy older than
TCF v2.2 (policy version < 4, invalid since 30 September 2023) are rejected, as is anything
malformed: every problem raises ``TCStringError`` (a ``ValueError``) with a one-line message,
whatever the input.

Why hand-written: the only Python decoders on PyPI are ``iab-tcf`` (last release 0.2.2,
October 2022, pinned to a fork of bitarray) and its republished copy ``iab-tcf-bitarray``
(0.2.3, 2024), both MIT. Neither knows about policy versions, both return naive datetimes
through the deprecated ``utcfromtimestamp`` (dropping the deciseconds), and both read past
the end of a short string as if the missing bits were there: a truncated string decodes
with all 24 purposes consented. A consent decoder that fails open is not one to ship, and
the format is small and frozen, so this module reads it itself, tested against the
published test strings of LiveRamp's Go decoder (iabconsent), IAB Tech Lab's iabgpp-java
and CPAN's GDPR::IAB::TCFv2.

Example:
    >>> tc = decode("COvzTO5OvzTO5B7ABCENAPEYAIAAAIAAAIqIAAoAAoAA.QAAo.IAAo")
    >>> tc.policy_version, sorted(tc.purposes_consent), sorted(tc.vendor_consents)
    (4, [1], [1])
    >>> coreo_purposes(tc)
    {'analytics': False, 'personalisation': False}
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = [
    "MIN_POLICY_VERSION",
    "PublisherRestriction",
    "TCString",
    "TCStringError",
    "coreo_purposes",
    "decode",
]

MIN_POLICY_VERSION = 4  # TCF v2.2
MAX_TC_STRING_LENGTH = 100_000  # real strings stay far below; caps the work one event costs

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_SEXTETS = {char: format(value, "06b") for value, char in enumerate(_ALPHABET)}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TCStringError(ValueError):
    """The TC string is malformed, not TCF v2, or older than TCF v2.2."""


@dataclass(frozen=True, slots=True)
class PublisherRestriction:
    """A publisher's restriction of one purpose for some vendors.

    ``restriction_type``: 0 not allowed, 1 requires consent, 2 requires legitimate interest.
    The vendors are kept as inclusive ``(first, last)`` ranges: expanded, a hostile string
    could name billions of them.
    """

    purpose_id: int
    restriction_type: int
    vendor_ranges: tuple[tuple[int, int], ...]

    def covers(self, vendor_id: int) -> bool:
        """Return whether the restriction applies to the vendor."""
        return any(first <= vendor_id <= last for first, last in self.vendor_ranges)


@dataclass(frozen=True, slots=True)
class TCString:
    """The core segment of a TCF v2 TC string."""

    version: int
    created: datetime
    last_updated: datetime
    cmp_id: int
    cmp_version: int
    consent_screen: int
    consent_language: str
    vendor_list_version: int
    policy_version: int
    is_service_specific: bool
    use_non_standard_texts: bool
    special_feature_opt_ins: frozenset[int]
    purposes_consent: frozenset[int]
    purposes_legitimate_interest: frozenset[int]
    purpose_one_treatment: bool
    publisher_cc: str
    vendor_consents: frozenset[int]
    vendor_legitimate_interests: frozenset[int]
    publisher_restrictions: tuple[PublisherRestriction, ...]


class _BitReader:
    """Reads the fields of one segment in order, refusing to read past its end."""

    __slots__ = ("_bits", "_pos")

    def __init__(self, bits: str) -> None:
        self._bits = bits
        self._pos = 0

    def take(self, width: int, field: str) -> str:
        end = self._pos + width
        if end > len(self._bits):
            raise TCStringError(
                f"TC string is truncated: {field} needs {end} bits, "
                f"the core segment has {len(self._bits)}"
            )
        chunk = self._bits[self._pos : end]
        self._pos = end
        return chunk

    def uint(self, width: int, field: str) -> int:
        return int(self.take(width, field), 2)

    def flag(self, field: str) -> bool:
        return self.take(1, field) == "1"

    def id_set(self, width: int, field: str) -> frozenset[int]:
        """Read a bit field where bit n (from 1) set means id n is in the set."""
        return frozenset(i for i, bit in enumerate(self.take(width, field), 1) if bit == "1")

    def letters(self, field: str) -> str:
        codes = (self.uint(6, field), self.uint(6, field))
        if max(codes) > 25:
            raise TCStringError(f"{field} has letter code {max(codes)}, outside A-Z (0-25)")
        return "".join(chr(ord("A") + code) for code in codes)

    def instant(self, field: str) -> datetime:
        return _EPOCH + timedelta(milliseconds=100 * self.uint(36, field))  # deciseconds

    def ranges(self, field: str, *, max_id: int) -> tuple[tuple[int, int], ...]:
        """Read a range section: a 12-bit count, then single ids or inclusive ranges."""
        entries = []
        for _ in range(self.uint(12, f"{field} entry count")):
            is_range = self.flag(f"{field} entry")
            first = self.uint(16, f"{field} vendor id")
            last = self.uint(16, f"{field} vendor id") if is_range else first
            if not 1 <= first <= last <= max_id:
                raise TCStringError(f"{field} has vendor range {first}-{last}, outside 1-{max_id}")
            entries.append((first, last))
        return tuple(entries)

    def vendor_section(self, field: str) -> frozenset[int]:
        max_id = self.uint(16, f"{field} max vendor id")
        if not self.flag(f"{field} encoding type"):
            return self.id_set(max_id, f"{field} bit field")
        merged: list[list[int]] = []
        for first, last in sorted(self.ranges(field, max_id=max_id)):
            if merged and first <= merged[-1][1] + 1:  # overlapping: expand each id once
                merged[-1][1] = max(merged[-1][1], last)
            else:
                merged.append([first, last])
        return frozenset(i for first, last in merged for i in range(first, last + 1))


def decode(tc_string: str) -> TCString:
    """Decode the core segment of a TCF v2.2 TC string.

    Raises:
        TCStringError: the string is not base64url, is truncated or malformed, is not TCF
            v2, or has a policy version older than 4 (TCF v2.2).
    """
    return _decode(tc_string, min_policy_version=MIN_POLICY_VERSION)


def _decode(tc_string: str, *, min_policy_version: int) -> TCString:
    """Decode, accepting policy versions from ``min_policy_version`` on (tests use 2 to
    check the field layout against published TCF v2.0 strings)."""
    if not isinstance(tc_string, str):
        raise TCStringError(f"TC string must be text, not {type(tc_string).__name__}")
    text = tc_string.strip()
    if not text:
        raise TCStringError("TC string is empty")
    if len(text) > MAX_TC_STRING_LENGTH:
        raise TCStringError(
            f"TC string has {len(text)} characters, more than {MAX_TC_STRING_LENGTH}"
        )
    core = text.split(".", 1)[0].rstrip("=")
    sextets = []
    for position, char in enumerate(core):
        bits = _SEXTETS.get(char)
        if bits is None:
            raise TCStringError(f"TC string is not base64url: {char!r} at position {position}")
        sextets.append(bits)
    reader = _BitReader("".join(sextets))

    version = reader.uint(6, "version")
    if version != 2:
        raise TCStringError(f"TC string version is {version}, expected 2 (TCF v2)")
    created = reader.instant("created")
    last_updated = reader.instant("last updated")
    cmp_id = reader.uint(12, "CMP id")
    cmp_version = reader.uint(12, "CMP version")
    consent_screen = reader.uint(6, "consent screen")
    consent_language = reader.letters("consent language")
    vendor_list_version = reader.uint(12, "vendor list version")
    policy_version = reader.uint(6, "policy version")
    if policy_version < min_policy_version:
        raise TCStringError(
            f"TCF policy version {policy_version} is older than {min_policy_version} "
            f"(TCF v2.2 requires {MIN_POLICY_VERSION} or later)"
        )
    is_service_specific = reader.flag("is service specific")
    use_non_standard_texts = reader.flag("use non-standard texts")
    special_feature_opt_ins = reader.id_set(12, "special feature opt-ins")
    purposes_consent = reader.id_set(24, "purposes consent")
    purposes_legitimate_interest = reader.id_set(24, "purposes legitimate interest")
    purpose_one_treatment = reader.flag("purpose one treatment")
    publisher_cc = reader.letters("publisher country code")
    vendor_consents = reader.vendor_section("vendor consents")
    vendor_legitimate_interests = reader.vendor_section("vendor legitimate interests")
    restrictions = []
    for _ in range(reader.uint(12, "publisher restriction count")):
        purpose_id = reader.uint(6, "publisher restriction purpose")
        restriction_type = reader.uint(2, "publisher restriction type")
        vendor_ranges = reader.ranges("publisher restriction", max_id=0xFFFF)
        restrictions.append(PublisherRestriction(purpose_id, restriction_type, vendor_ranges))

    return TCString(
        version=version,
        created=created,
        last_updated=last_updated,
        cmp_id=cmp_id,
        cmp_version=cmp_version,
        consent_screen=consent_screen,
        consent_language=consent_language,
        vendor_list_version=vendor_list_version,
        policy_version=policy_version,
        is_service_specific=is_service_specific,
        use_non_standard_texts=use_non_standard_texts,
        special_feature_opt_ins=special_feature_opt_ins,
        purposes_consent=purposes_consent,
        purposes_legitimate_interest=purposes_legitimate_interest,
        purpose_one_treatment=purpose_one_treatment,
        publisher_cc=publisher_cc,
        vendor_consents=vendor_consents,
        vendor_legitimate_interests=vendor_legitimate_interests,
        publisher_restrictions=tuple(restrictions),
    )


# TCF purposes (v2.2 names): 1 store and/or access information on a device; 2 use limited
# data to select advertising; 3 create profiles for personalised advertising; 4 use them
# to select advertising; 5 create profiles to personalise content; 6 use them to select
# content; 7 measure advertising performance; 8 measure content performance; 9 understand
# audiences through statistics; 10 develop and improve services; 11 use limited data to
# select content.
_DEVICE_ACCESS = 1
_MEASUREMENT = frozenset({7, 8, 9})
_PROFILING = (frozenset({3, 4}), frozenset({5, 6}))


def coreo_purposes(tc: TCString) -> dict[str, bool]:
    """Return the Coreo purposes the TC string grants or denies, by consent alone.

    - ``analytics``: granted when TCF purpose 1 (device access) and at least one of the
      measurement purposes 7, 8 or 9 are consented.
    - ``personalisation``: granted when purpose 1 and a whole profiling pair are consented:
      3 and 4 (personalised ads profile and selection) or 5 and 6 (personalised content).

    Every TC string says yes or no to these two, so both keys are always present; it says
    nothing about ``necessary``, direct ``marketing`` (e-mail, SMS, ...), ``automated_decisions``
    or ``third_party_sharing``, which are left out. Legitimate-interest bits are never read
    as consent, and with ``purpose_one_treatment`` set purpose 1 was not asked, so it counts
    as not consented (a conservative choice). Vendor consents are not mapped.
    """
    consented = tc.purposes_consent
    device_access = _DEVICE_ACCESS in consented
    return {
        "analytics": device_access and not consented.isdisjoint(_MEASUREMENT),
        "personalisation": device_access and any(pair <= consented for pair in _PROFILING),
    }
