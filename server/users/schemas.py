"""Request and response shapes of the user administration endpoints."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.auth.models import Role, UserStatus
from server.auth.schemas import MAX_PASSWORD_LENGTH, DeviceOut
from server.validation import NOT_BLANK

MIN_PASSWORD_LENGTH = 10
# Far beyond any real user count, and far inside PostgreSQL's bigint OFFSET.
MAX_OFFSET = 1_000_000

_username = validate.Regexp(
    r"^[A-Za-z0-9._@-]{3,64}\Z", error="Use 3 to 64 letters, digits or . _ @ -."
)
_password = validate.Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)
_display_name = [NOT_BLANK, validate.Length(max=100)]


class UserOut(Schema):
    """A user as an admin sees it; `locked_until` is set while failed logins lock the account."""

    id = fields.UUID()
    username = fields.String()
    display_name = fields.String()
    role = fields.Enum(Role, by_value=True)
    status = fields.Enum(UserStatus, by_value=True)
    failed_logins = fields.Integer()
    locked_until = fields.AwareDateTime(allow_none=True)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class UserListQuery(Schema):
    """Filters and paging for the user list."""

    role = fields.Enum(Role, by_value=True, load_default=None)
    status = fields.Enum(UserStatus, by_value=True, load_default=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_OFFSET))


class UserListOut(Schema):
    """A page of users, ordered by username."""

    items = fields.List(fields.Nested(UserOut))


class UserCreateIn(Schema):
    """A new account; the password is stored only as an Argon2id hash."""

    username = fields.String(required=True, validate=_username)
    display_name = fields.String(required=True, validate=_display_name)
    password = fields.String(required=True, load_only=True, validate=_password)
    role = fields.Enum(Role, by_value=True, required=True)


class UserPatchIn(Schema):
    """Admin changes: rename, enable or disable, reset the password, lift a login lock."""

    display_name = fields.String(validate=_display_name)
    status = fields.Enum(UserStatus, by_value=True)
    password = fields.String(load_only=True, validate=_password)
    unlock = fields.Boolean()


class DeviceListOut(Schema):
    """A user's devices, newest first, revoked ones included."""

    items = fields.List(fields.Nested(DeviceOut))
