"""Phone numbers: parsed and validated with libphonenumber, always stored as E.164."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers


class InvalidPhoneNumber(ValueError):
    pass


@lru_cache(maxsize=4096)
def to_e164(raw: str, default_region: str = "GN") -> str:
    """`raw` in E.164 or in the national format of `default_region` -> E.164, or raise."""
    text = raw.strip()
    if not text or len(text) > 32:
        raise InvalidPhoneNumber("not a phone number")
    try:
        number = phonenumbers.parse(text, default_region.upper())
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber("not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber("not a valid phone number for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def national_digits(e164: str) -> str:
    """`+224622000001` -> `622000001` (the national significant number)."""
    return str(phonenumbers.national_significant_number(phonenumbers.parse(e164)))


def country_code(e164: str) -> int:
    code = phonenumbers.parse(e164).country_code
    if code is None:  # parse() always sets it; the stubs type the attribute as optional
        raise InvalidPhoneNumber("no country code")
    return code
