"""The bridge between geo's pure boundary checks and the database and API: extent from config,
422 errors with the problem's location, and the SQL that stores a checked boundary."""

from __future__ import annotations

import json
from typing import Any

from flask import current_app
from geoalchemy2.shape import to_shape
from shapely.geometry import MultiPolygon
from sqlalchemy import ColumnElement, func

from geo.geometry import Extent, check_boundary, to_geojson
from server.errors import InvalidInput


def district_extent() -> Extent:
    """The configured district extent (GRIDWORK_DISTRICT_EXTENT)."""
    return Extent.parse(str(current_app.config["DISTRICT_EXTENT"]))


def geometry_error(field: str, problems: list[dict[str, Any]], detail: str) -> InvalidInput:
    """A 422 whose `errors[field]` lists structured problems (kind, message, location, …)."""
    return InvalidInput(errors={field: problems}, detail=detail)


def checked_boundary(data: Any, field: str) -> MultiPolygon:
    """Parse and check a GeoJSON boundary for `field`; raise a 422 naming the problem and where."""
    geom, problem = check_boundary(data, district_extent())
    if problem is not None or geom is None:
        assert problem is not None
        raise geometry_error(field, [problem.as_dict()], problem.message)
    return geom


def stored_geometry(geom: MultiPolygon) -> ColumnElement[Any]:
    """SQL that turns a checked MultiPolygon into a PostGIS MultiPolygon with SRID 4326."""
    geojson = json.dumps(to_geojson(geom))
    return func.ST_Multi(func.ST_SetSRID(func.ST_GeomFromGeoJSON(geojson), 4326))


def geojson_of(value: Any) -> dict[str, Any] | None:
    """GeoJSON for a geometry loaded from PostGIS (a WKB element), or None."""
    if value is None:
        return None
    return to_geojson(to_shape(value))
