"""Checks for the national identifiers in the base data: citizen ID, USCC, mobile number.

Pure functions (no Flask, no database): each returns the normalized value or raises ValueError
with a message fit to show next to the field.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

# GB 11643-1999: weights on the first 17 digits and the check character for S mod 11.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"^[0-9]{17}[0-9X]\Z")

# GB/T 2261.1: 1 male, 2 female; 0 (unknown) and 9 (unspecified) cannot be checked.
SEX_MALE = "1"
SEX_FEMALE = "2"

# GB 32100-2015: the 31-character alphabet (no I, O, S, V, Z), each character's value its index.
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {char: value for value, char in enumerate(_USCC_ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

_MOBILE = re.compile(r"^1[3-9][0-9]{9}\Z")


def _ascii_form(value: str) -> str:
    """Full-width digits and letters (as a Chinese input method types them) in ASCII, stripped:
    the same number must seal, hash and compare as one value however it was typed."""
    return unicodedata.normalize("NFKC", value).strip()


def _normalize_citizen_id(value: str) -> str:
    normalized = _ascii_form(value).upper()
    if not _ID_SHAPE.match(normalized):
        raise ValueError("A citizen ID number is 17 digits followed by a digit or X.")
    return normalized


def _id_birth_date(normalized: str) -> date:
    try:
        return date(int(normalized[6:10]), int(normalized[10:12]), int(normalized[12:14]))
    except ValueError:
        raise ValueError("The birth date in the citizen ID number is not a real date.") from None


def check_citizen_id(value: str, *, sex: str | None = None, today: date | None = None) -> str:
    """Validate an 18-character citizen ID number (GB 11643-1999) and return it upper-cased.

    Checks shape, check character, a real birth date not after `today`, and, when `sex` is
    1 (male) or 2 (female), that the sequence digit agrees (odd male, even female).
    """
    normalized = _normalize_citizen_id(value)
    total = sum(int(digit) * weight for digit, weight in zip(normalized, _ID_WEIGHTS, strict=False))
    if _ID_CHECK[total % 11] != normalized[17]:
        raise ValueError("The check character of the citizen ID number is wrong.")
    born = _id_birth_date(normalized)
    if born > (today or date.today()):
        raise ValueError("The birth date in the citizen ID number is in the future.")
    if sex in (SEX_MALE, SEX_FEMALE) and _sex_digit(normalized) != sex:
        raise ValueError("The citizen ID number does not agree with the sex field.")
    return normalized


def _sex_digit(normalized: str) -> str:
    return SEX_MALE if int(normalized[16]) % 2 == 1 else SEX_FEMALE


def birth_date_of(citizen_id: str) -> date:
    """The birth date encoded in a citizen ID number (digits 7–14)."""
    return _id_birth_date(_normalize_citizen_id(citizen_id))


def sex_of(citizen_id: str) -> str:
    """The GB/T 2261.1 sex code a citizen ID number encodes: "1" male (odd), "2" female (even)."""
    return _sex_digit(_normalize_citizen_id(citizen_id))


def check_uscc(value: str) -> str:
    """Validate a unified social credit code (GB 32100-2015) and return it upper-cased."""
    normalized = value.strip().upper()
    if len(normalized) != 18 or any(char not in _USCC_VALUES for char in normalized):
        raise ValueError(
            "A unified social credit code is 18 characters from 0-9 and A-Z without I, O, S, V, Z."
        )
    total = sum(
        _USCC_VALUES[char] * weight for char, weight in zip(normalized, _USCC_WEIGHTS, strict=False)
    )
    check = (31 - total % 31) % 31
    if _USCC_ALPHABET[check] != normalized[17]:
        raise ValueError("The check character of the unified social credit code is wrong.")
    return normalized


def check_mobile(value: str) -> str:
    """Validate a mainland mobile number (11 digits starting 13–19) and return it stripped."""
    normalized = _ascii_form(value)
    if not _MOBILE.match(normalized):
        raise ValueError("A mobile number is 11 digits starting with 13 to 19.")
    return normalized
