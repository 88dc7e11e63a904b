"""Fields and base schemas shared by every registry resource."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate

from geo.geometry import Extent
from server.extensions import BIGINT_MAX
from server.registry.models.common import SERVER_FIELDS
from server.validation import NOT_BLANK

DEFAULT_EXTENT = "108.3,34.0,109.1,34.6"
SHA256 = validate.Regexp(r"^[0-9a-f]{64}\Z", error="A photo is its lower-case hex SHA-256.")


# Instants a record may carry: PostgreSQL would store a year-10000 instant (9999-12-31 at
# UTC-14) that Python cannot read back, and one such row made every list of its table a 500.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
OUT_OF_ERA = "Must lie between 1900 and 2200 (UTC)."


def _within_era(value: datetime) -> None:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValidationError(OUT_OF_ERA) from None
    if not EARLIEST <= utc < LATEST:
        raise ValidationError(OUT_OF_ERA)


def instant(**kwargs: Any) -> fields.AwareDateTime:
    """A time-zone-aware instant between EARLIEST and LATEST."""
    return fields.AwareDateTime(validate=_within_era, **kwargs)


def district_extent() -> Extent:
    """The configured district extent (points outside it are refused)."""
    return Extent.parse(str(current_app.config.get("DISTRICT_EXTENT") or DEFAULT_EXTENT))


def finite_number(value: Any) -> bool:
    """A JSON number that is not a boolean, NaN or infinite, and that a float can hold."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond a float's range, like 2**1100
        return False


class PointField(fields.Field):  # type: ignore[type-arg]
    """A GeoJSON Point inside the district extent, loaded as a (lng, lat) tuple."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> tuple[float, float]:
        if not isinstance(value, Mapping) or value.get("type") != "Point":
            raise ValidationError('Expected a GeoJSON Point {"type": "Point", "coordinates": ...}.')
        coords = value.get("coordinates")
        if (
            not isinstance(coords, list | tuple)
            or len(coords) != 2
            or not all(finite_number(c) for c in coords)
        ):
            raise ValidationError("Coordinates are two finite numbers: [lng, lat].")
        lng, lat = float(coords[0]), float(coords[1])
        extent = district_extent()
        if not (
            extent.min_lng <= lng <= extent.max_lng and extent.min_lat <= lat <= extent.max_lat
        ):
            raise ValidationError("The point is outside the district extent.")
        return lng, lat


def photo_list() -> fields.List[str]:
    """A list of photo content hashes (64 lower-case hex characters each)."""
    return fields.List(fields.String(validate=SHA256), validate=validate.Length(max=20))


def text(max_length: int, **kwargs: Any) -> fields.String:
    """A trimmed-length string field that may be null."""
    kwargs.setdefault("allow_none", True)
    return fields.String(validate=validate.Length(max=max_length), **kwargs)


def required_text(max_length: int) -> fields.String:
    """A required, non-blank string field (kept as sent: no trimming)."""
    return fields.String(required=True, validate=[NOT_BLANK, validate.Length(max=max_length)])


class Whole(fields.Nested):
    """A nested object that replaces what it names (an extension, a party, one row of a set): it
    is loaded whole even inside a PATCH or a pushed patch, whose partial load would otherwise let
    it through without its required fields."""

    def _deserialize(
        self,
        value: Any,
        attr: str | None,
        data: Mapping[str, Any] | None,
        partial: bool | Sequence[str] | AbstractSet[str] | None = None,
        **kwargs: Any,
    ) -> Any:
        return super()._deserialize(value, attr, data, partial=False, **kwargs)


class RecordSchema(Schema):
    """Base of every registry write: unknown fields refused, server-owned fields named."""

    class Meta:
        unknown = RAISE

    id = fields.UUID()

    @pre_load
    def refuse_server_fields(self, data: Any, **kwargs: Any) -> Any:
        """A client may not set placement, version or audit columns; say which it sent."""
        if isinstance(data, Mapping):
            sent = [name for name in SERVER_FIELDS if name in data]
            if sent:
                raise ValidationError(
                    {name: ["Set by the server; clients cannot send it."] for name in sent}
                )
        return data


class ExpectedVersion(Schema):
    """The version a PATCH or DELETE was based on (optimistic concurrency)."""

    class Meta:
        unknown = RAISE

    expected_version = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=BIGINT_MAX)
    )
