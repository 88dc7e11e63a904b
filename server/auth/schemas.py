"""Request and response shapes of the auth endpoints (login, refresh, me)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.auth.models import Role

# Generous upper bounds: they exist to keep absurd input away from argon2 and the database.
MAX_PASSWORD_LENGTH = 256


class LoginIn(Schema):
    """Credentials plus the client's stable device key (and, optionally, how to label it)."""

    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=MAX_PASSWORD_LENGTH)
    )
    device_key = fields.String(
        required=True, data_key="device_id", validate=validate.Length(min=1, max=128)
    )
    device_name = fields.String(load_default=None, validate=validate.Length(max=100))
    app_version = fields.String(load_default=None, validate=validate.Length(max=40))


class RefreshIn(Schema):
    """The refresh token to rotate."""

    refresh_token = fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=200)
    )


class UserBriefOut(Schema):
    """Who signed in."""

    id = fields.UUID()
    username = fields.String()
    display_name = fields.String()
    role = fields.Enum(Role, by_value=True)


class TokenPairOut(Schema):
    """A fresh access token (Bearer JWT) and the refresh token that replaces the last one."""

    access_token = fields.String()
    token_type = fields.Constant("Bearer")
    expires_in = fields.Integer()
    refresh_token = fields.String()
    user = fields.Nested(UserBriefOut)


class DeviceOut(Schema):
    """A device a user signed in from; revoked devices stay listed with `revoked_at`."""

    id = fields.UUID()
    device_key = fields.String()
    name = fields.String(allow_none=True)
    app_version = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    last_seen_at = fields.AwareDateTime(allow_none=True)
    revoked_at = fields.AwareDateTime(allow_none=True)


class MeOut(Schema):
    """The caller as the database sees them now, and the device of this session."""

    id = fields.UUID(attribute="user.id")
    username = fields.String(attribute="user.username")
    display_name = fields.String(attribute="user.display_name")
    role = fields.Enum(Role, by_value=True, attribute="user.role")
    device = fields.Nested(DeviceOut)
