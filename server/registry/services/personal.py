"""Personal identifiers at rest (encrypted + keyed hash) and on the way out (masked per role)."""

from __future__ import annotations

from typing import Any

from server.auth.models import Role
from server.privacy.crypto import decrypt_field, encrypt_field, lookup_hash
from server.privacy.masking import Exposure, FieldClass, exposure, present

# Encryption contexts bind each ciphertext to its column; hashes are per column too.
PERSON_ID_NUMBER = "person.id_number"
PERSON_PHONE = "person.phone"
OWNER_ID_NUMBER = "house.owner_id_number"
OWNER_PHONE = "house.owner_phone"
REPORTER_PHONE = "incident.reporter_phone"
SECURITY_OFFICER_PHONE = "organization.security_officer_phone"


def seal(value: str | None, context: str) -> tuple[bytes | None, str | None]:
    """(ciphertext, lookup hash) of a normalized value, or (None, None) for no value."""
    if value is None:
        return None, None
    return encrypt_field(value, context=context), lookup_hash(value, context=context)


def lookup(value: str, context: str) -> str:
    """The keyed hash to find rows by an exact (normalized) value."""
    return lookup_hash(value, context=context)


def open_sealed(blob: bytes | None, context: str) -> str | None:
    """Decrypt a sealed value (None stays None)."""
    return None if blob is None else decrypt_field(bytes(blob), context=context)


def show_sealed(role: Role, field: FieldClass, blob: bytes | None, context: str) -> str | None:
    """The sealed value as `role` may see it; never decrypted when the role may not see it."""
    if blob is None or exposure(role, field) is Exposure.HIDDEN:
        return None
    return present(role, field, open_sealed(blob, context))


def show(role: Role, field: FieldClass, value: str | None) -> str | None:
    """A plain value as `role` may see it."""
    return present(role, field, value)


def may_see(role: Role, field: FieldClass) -> bool:
    """False when the role's exposure to `field` is HIDDEN."""
    return exposure(role, field) is not Exposure.HIDDEN


# Document numbers kept inside a person's extension objects: ID numbers by another name.
EXTENSION_NUMBERS = {"floating": "permit_number", "overseas": "passport_number"}


def show_extension(role: Role, name: str, value: Any) -> Any:
    """A person's extension object as `role` may see it: its document number masked as an ID
    number is (None when hidden); other keys as stored."""
    key = EXTENSION_NUMBERS.get(name)
    if key is None or not isinstance(value, dict) or value.get(key) is None:
        return value
    return {**value, key: show(role, FieldClass.ID_NUMBER, str(value[key]))}


def kept_extension(role: Role, name: str, sent: Any, stored: Any) -> Any:
    """The extension object to store for one `role` sent: a document number sent back exactly
    as the role was shown it (masked) is the stored number, not a new one. An editor sends the
    whole object back after changing another key of it."""
    key = EXTENSION_NUMBERS.get(name)
    if key is None or not isinstance(sent, dict) or not isinstance(stored, dict):
        return sent
    old, new = stored.get(key), sent.get(key)
    if old is None or new is None or new == old:
        return sent
    if show(role, FieldClass.ID_NUMBER, str(old)) == new:
        return {**sent, key: old}
    return sent
