"""Personal identifiers at rest (encrypted + keyed hash) and on the way out (masked per role)."""

from __future__ import annotations

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
