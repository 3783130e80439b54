"""The recipients of a bulk request: a cheap E.164 normalisation for the API, templates.

libphonenumber needs about 70 µs a number here (7 s for 100,000), far too slow for a request
that must be answered in a few seconds. The API therefore only normalises (separators removed,
`00` or the default region's country code turned into `+<cc>`, a trunk `0` dropped) and checks
the shape (digits, a known country code, a plausible length), which is enough to find the
duplicates; the fan-out then validates each number with libphonenumber and records a number it
refuses as a `failed` message (reason `invalid_phone`). See docs/bulk.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import phonenumbers

INVALID_PHONE = "invalid_phone"
MISSING_VARIABLE = "missing_variable"

_SEPARATORS = re.compile(r"[\s\-.()/]+")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_MIN_NATIONAL, _MAX_DIGITS = 4, 15


@lru_cache(maxsize=1)
def _trunk_prefixes() -> dict[str, str | None]:
    """Country calling code -> the national (trunk) prefix of its main region, if any."""
    prefixes: dict[str, str | None] = {}
    for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items():
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(regions[0]) if regions else None
        prefix = metadata.national_prefix if metadata is not None else None
        prefixes[str(code)] = prefix if prefix and prefix.isdigit() else None
    return prefixes


@lru_cache(maxsize=16)
def normaliser(region: str) -> Callable[[object], str | None]:
    """`quick_e164` for one default region, its tables bound once (100,000 calls in ~0.2 s)."""
    region_code = phonenumbers.country_code_for_region(region.upper())
    if not region_code:
        raise ValueError(f"unknown region {region!r}")
    prefixes = _trunk_prefixes()
    own_code, own_trunk = str(region_code), prefixes.get(str(region_code))
    separators, max_digits, min_national = _SEPARATORS.sub, _MAX_DIGITS, _MIN_NATIONAL

    def normalise(raw: object) -> str | None:
        if type(raw) is not str or len(raw) > 32:
            return None
        if raw[:1] == "+":
            digits = raw[1:]
            if not digits.isdigit():
                digits = separators("", digits)
        else:
            text = raw if raw.isdigit() else separators("", raw)
            if text[:2] == "00":
                digits = text[2:]
            else:
                if own_trunk and text.startswith(own_trunk):
                    text = text[len(own_trunk):]
                digits = own_code + text
        if not (digits.isdigit() and digits.isascii()) or len(digits) > max_digits or digits[:1] == "0":
            return None
        for size in (1, 2, 3):
            if digits[:size] in prefixes:
                code, national = digits[:size], digits[size:]
                break
        else:
            return None
        if national[:1] == "0" and prefixes[code] == "0":  # "+33 (0)6 ...": the trunk 0 is not dialled
            national = national[1:]
        return "+" + code + national if len(national) >= min_national else None

    return normalise


def quick_e164(raw: object, region: str) -> str | None:
    """`raw` as `+<digits>` when it has the shape of a phone number, else None. Cheap (no
    libphonenumber parse): the number may still be refused by the full validation."""
    return normaliser(region)(raw)


def placeholders(text: str) -> frozenset[str]:
    return frozenset(_PLACEHOLDER.findall(text))


def render(template: str, variables: Mapping[str, str] | None) -> str:
    values = variables or {}
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), "")), template)


@dataclass(frozen=True)
class Rejected:
    index: int
    to: str
    code: str


@dataclass
class Prepared:
    """`accepted`: (request index, +E.164, variables or None), the first of each number."""

    accepted: list[tuple[int, str, dict[str, str] | None]] = field(default_factory=list)
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)


def prepare(
    entries: Iterable[tuple[str, dict[str, str] | None]], region: str, needed: frozenset[str] = frozenset()
) -> Prepared:
    """Normalise, drop duplicates (the first occurrence wins), reject the malformed numbers and
    the recipients missing a variable of the template."""
    out = Prepared()
    seen: set[str] = set()
    normalise = normaliser(region)
    for index, (raw, variables) in enumerate(entries):
        number = normalise(raw)
        if number is None:
            out.rejected.append(Rejected(index, str(raw)[:32], INVALID_PHONE))
        elif needed and not needed.issubset(variables or ()):
            out.rejected.append(Rejected(index, str(raw)[:32], MISSING_VARIABLE))
        elif number in seen:
            out.duplicates += 1
        else:
            seen.add(number)
            out.accepted.append((index, number, variables or None))
    return out
