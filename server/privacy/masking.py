"""Masking by default: one policy table of who sees which personal field in full, masked or not.

Pure (no Flask, no database). Responses go through `present`; the one way to a full value the
policy does not grant is `server.privacy.reveal.reveal`, which needs a reason and is audited.
"""

from __future__ import annotations

import enum
import re

from server.auth.models import Role


class FieldClass(enum.StrEnum):
    """Kinds of personal data that the policy treats alike."""

    ID_NUMBER = "id_number"
    PHONE = "phone"
    PERSON_NAME = "person_name"
    SPECIAL_POPULATION = "special_population"
    OWNER_IDENTITY = "owner_identity"
    BIRTH_DATE = "birth_date"


class Exposure(enum.StrEnum):
    """How much of a field a role sees."""

    FULL = "full"
    MASKED = "masked"
    HIDDEN = "hidden"


_F, _M, _H = Exposure.FULL, Exposure.MASKED, Exposure.HIDDEN

# Why each row is what it is (PIPL Art. 28: ID numbers, health, criminal and correction records
# are sensitive; collect and show only what the task needs):
# - ID numbers: nobody needs them in full to do daily work, so nobody gets them by default; the
#   first 6 + last 4 are enough to match a card in hand. Full value only through `reveal`.
# - Phones: masked for everyone; a worker or dispatcher who must call someone reveals the number.
# - Names: workers visit these people and dispatchers route incidents about them, so both see
#   names in full (scope limits them to their grids / subtree). Admins manage accounts and code
#   tables, not people: masked.
# - Special-population extensions (correction, drug use, mental illness, ...): the most sensitive
#   data here. Workers do the follow-up visits and dispatchers assign and supervise them, so both
#   see them; admins do not (HIDDEN, and no reveal). What a visit or follow-up plan records
#   about the person (content, state, measures, where they were found, notes) is the same case
#   data (`server.registry.services.work.CASE_FIELDS`).
# - House owners' identity (name, ID, phone of a third party): masked for all working roles.
# - Birth dates: digits 7-14 of a citizen ID are the birth date, exactly what the ID's mask
#   hides; a birth date in full beside a masked ID is the full ID. The year is shown (ages,
#   left-behind children, the elderly); the full date only where the ID number is.
# - Auditors audit access, not people: every personal field is HIDDEN to them.
FIELD_POLICY: dict[FieldClass, dict[Role, Exposure]] = {
    FieldClass.ID_NUMBER: {Role.WORKER: _M, Role.DISPATCHER: _M, Role.ADMIN: _M, Role.AUDITOR: _H},
    FieldClass.PHONE: {Role.WORKER: _M, Role.DISPATCHER: _M, Role.ADMIN: _M, Role.AUDITOR: _H},
    FieldClass.PERSON_NAME: {
        Role.WORKER: _F,
        Role.DISPATCHER: _F,
        Role.ADMIN: _M,
        Role.AUDITOR: _H,
    },
    FieldClass.SPECIAL_POPULATION: {
        Role.WORKER: _F,
        Role.DISPATCHER: _F,
        Role.ADMIN: _H,
        Role.AUDITOR: _H,
    },
    FieldClass.OWNER_IDENTITY: {
        Role.WORKER: _M,
        Role.DISPATCHER: _M,
        Role.ADMIN: _M,
        Role.AUDITOR: _H,
    },
    FieldClass.BIRTH_DATE: {Role.WORKER: _M, Role.DISPATCHER: _M, Role.ADMIN: _M, Role.AUDITOR: _H},
}

# Record attribute names → their class, for callers that know a field by name (reveal requests).
FIELD_CLASSES: dict[str, FieldClass] = {
    "id_number": FieldClass.ID_NUMBER,
    "legal_rep_id_number": FieldClass.ID_NUMBER,
    "phone": FieldClass.PHONE,
    "legal_rep_phone": FieldClass.PHONE,
    "name": FieldClass.PERSON_NAME,
    "person_name": FieldClass.PERSON_NAME,
    "owner_name": FieldClass.OWNER_IDENTITY,
    "owner_id_number": FieldClass.OWNER_IDENTITY,
    "owner_phone": FieldClass.OWNER_IDENTITY,
    "owner_identity": FieldClass.OWNER_IDENTITY,
    "special_population": FieldClass.SPECIAL_POPULATION,
}

_NAME_PARTS = re.compile(r"([\s·•.\-]+)")
_LOOKS_LIKE_ID = re.compile(r"^[0-9A-Za-z]{15,18}$")
_LOOKS_LIKE_PHONE = re.compile(r"^[\d\s+\-()]{7,}$")
SPECIAL_POPULATION_MASK = "***"


def mask_id_number(value: str) -> str:
    """First 6 and last 4 characters shown (`110105********002X`); short values keep less."""
    n = len(value)
    if n >= 11:
        return value[:6] + "*" * (n - 10) + value[-4:]
    if n > 4:
        return "*" * (n - 4) + value[-4:]
    return "*" * n


def mask_phone(value: str) -> str:
    """First 3 and last 4 digits shown (`138****5678`); short values are starred out."""
    n = len(value)
    if n >= 8:
        return value[:3] + "*" * (n - 7) + value[-4:]
    return "*" * n


def mask_birth_date(value: str) -> str:
    """The year of an ISO date shown (`1990-**-**`); anything else is starred out."""
    if len(value) == 10 and value[4] == "-" and value[:4].isdigit():
        return value[:4] + "-**-**"
    return "*" * len(value)


def mask_name(value: str) -> str:
    """Keep the first character of each part of a name: 张三 → 张*, John Smith → J*** S****.

    A one-character name shows nothing (`*`), since its first character is all of it.
    """
    stripped = value.strip()
    if len(stripped) <= 1:
        return "*" * len(stripped)
    parts = _NAME_PARTS.split(stripped)
    return "".join(
        part if i % 2 else part[:1] + "*" * (len(part) - 1) for i, part in enumerate(parts)
    )


def mask(field: FieldClass, value: str) -> str:
    """The masked form of a value of `field`.

    Owner identity may be a name, an ID number or a phone; its shape decides.
    """
    if field is FieldClass.ID_NUMBER:
        return mask_id_number(value)
    if field is FieldClass.PHONE:
        return mask_phone(value)
    if field is FieldClass.PERSON_NAME:
        return mask_name(value)
    if field is FieldClass.SPECIAL_POPULATION:
        return SPECIAL_POPULATION_MASK
    if field is FieldClass.BIRTH_DATE:
        return mask_birth_date(value)
    if _LOOKS_LIKE_ID.match(value) and not value.isalpha():
        return mask_id_number(value)
    if _LOOKS_LIKE_PHONE.match(value):
        return mask_phone(value)
    return mask_name(value)


def exposure(role: Role, field: FieldClass) -> Exposure:
    """How much of `field` a `role` sees by default."""
    return FIELD_POLICY[field][role]


def present(role: Role, field: FieldClass, value: str | None) -> str | None:
    """The value as `role` may see it: in full, masked, or None when hidden (or absent)."""
    if value is None:
        return None
    seen = exposure(role, field)
    if seen is Exposure.FULL:
        return value
    if seen is Exposure.MASKED:
        return mask(field, value)
    return None


def field_class(name: str) -> FieldClass | None:
    """The class of a field known by attribute name (or by class value), None if not personal."""
    if name in FIELD_CLASSES:
        return FIELD_CLASSES[name]
    try:
        return FieldClass(name)
    except ValueError:
        return None
