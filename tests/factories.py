"""Plain factories for tests: rows written straight through the models, committed."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from server.auth.models import Role, User, UserStatus
from server.auth.passwords import hash_password
from server.extensions import db
from server.hierarchy.codes import next_grid_code
from server.hierarchy.models import (
    Grid,
    GridAssignment,
    GridKind,
    GridVersion,
    OrgAssignment,
    OrgLevel,
    OrgUnit,
)

_counter = itertools.count(1)
DEFAULT_PASSWORD = "correct horse battery"


def make_user(role: Role = Role.WORKER, username: str | None = None, **fields: object) -> User:
    """Create and commit a user whose password is DEFAULT_PASSWORD."""
    user = User(
        id=uuid.uuid4(),
        username=username or f"{role.value}{next(_counter)}",
        display_name=fields.pop("display_name", "Test User"),
        password_hash=hash_password(str(fields.pop("password", DEFAULT_PASSWORD))),
        role=role,
        **fields,
    )
    db.session.add(user)
    db.session.commit()
    return user


def auth_headers(user: User, device_key: str = "phone-1") -> dict[str, str]:
    """Open a session for `user` on a device (created if new) and return Bearer headers.

    Goes straight to the models and token issuer, so tests of other domains need not log in.
    """
    from datetime import UTC, datetime, timedelta

    from flask import current_app
    from sqlalchemy import select

    from server.auth.models import AuthSession, Device
    from server.auth.tokens import issue_access_token

    device = db.session.scalar(
        select(Device).where(Device.user_id == user.id, Device.device_key == device_key)
    )
    if device is None:
        device = Device(id=uuid.uuid4(), user_id=user.id, device_key=device_key, name=device_key)
        db.session.add(device)
        # No relationship() links the models, so the unit of work may not order these inserts.
        db.session.flush()
    session = AuthSession(
        id=uuid.uuid4(),
        user_id=user.id,
        device_id=device.id,
        expires_at=datetime.now(UTC) + timedelta(days=1),
    )
    db.session.add(session)
    db.session.commit()
    config = current_app.config
    token = issue_access_token(
        key=config["JWT_SIGNING_KEY"],
        issuer=config["JWT_ISSUER"],
        audience=config["JWT_AUDIENCE"],
        ttl_seconds=config["ACCESS_TOKEN_TTL"],
        user_id=user.id,
        session_id=session.id,
        device_id=device.id,
    )
    return {"Authorization": f"Bearer {token}"}


# --- hierarchy: org trees, grids, assignments ---------------------------------------------------

COUNTY_CODE = "610116"  # the demo district's county (GB/T 2260 shape)


def square_wkt(lng: float, lat: float, size: float = 0.01) -> str:
    """WKT of a lng/lat square with its south-west corner at (lng, lat)."""
    e, n = lng + size, lat + size
    return f"POLYGON (({lng} {lat}, {e} {lat}, {e} {n}, {lng} {n}, {lng} {lat}))"


@dataclass(frozen=True)
class OrgTree:
    """One chain new area > new city > town > community."""

    new_area: OrgUnit
    new_city: OrgUnit
    town: OrgUnit
    community: OrgUnit


def make_org_unit(
    level: OrgLevel,
    parent: OrgUnit | None = None,
    code: str | None = None,
    name: str | None = None,
    boundary_wkt: str | None = None,
) -> OrgUnit:
    """Create and commit an org unit under `parent`; towns and communities get a valid code
    (county + township, town + village) unless one is given."""
    n = next(_counter)
    if code is None and level == OrgLevel.TOWN:
        code = f"{COUNTY_CODE}{n % 399 + 1:03d}"
    if code is None and level == OrgLevel.COMMUNITY:
        assert parent is not None
        assert parent.code is not None
        code = f"{parent.code}{n % 399 + 1:03d}"
    unit_id = uuid.uuid4()
    unit = OrgUnit(
        id=unit_id,
        parent_id=parent.id if parent else None,
        level=level,
        name=name or f"{level.value} {n}",
        code=code,
        path=[*(parent.path if parent else []), unit_id],
    )
    if boundary_wkt is not None:
        unit.boundary = func.ST_Multi(func.ST_GeomFromText(boundary_wkt, 4326))
    db.session.add(unit)
    db.session.commit()
    return unit


def make_org_tree() -> OrgTree:
    """Create and commit one new area > new city > town > community chain."""
    new_area = make_org_unit(OrgLevel.NEW_AREA)
    new_city = make_org_unit(OrgLevel.NEW_CITY, new_area)
    town = make_org_unit(OrgLevel.TOWN, new_city)
    community = make_org_unit(OrgLevel.COMMUNITY, town)
    return OrgTree(new_area, new_city, town, community)


def make_grid(
    community: OrgUnit,
    wkt: str,
    code: str | None = None,
    kind: GridKind = GridKind.COMPREHENSIVE,
    name: str | None = None,
) -> Grid:
    """Create and commit a grid in `community` with one current boundary version (WKT, 4326);
    without `code` it takes the community's next free sequence for `kind`."""
    assert community.code is not None
    if code is None:
        used = db.session.scalars(select(Grid.code).where(Grid.community_id == community.id))
        code = next_grid_code(community.code, kind, used)
        assert code is not None
    grid = Grid(
        id=uuid.uuid4(),
        code=code,
        name=name or f"grid {code[-3:]}",
        kind=kind,
        community_id=community.id,
        path=list(community.path),
        version=1,
    )
    db.session.add(grid)
    db.session.flush()
    db.session.add(
        GridVersion(grid_id=grid.id, geom=func.ST_Multi(func.ST_GeomFromText(wkt, 4326)))
    )
    db.session.commit()
    return grid


def assign_worker(user: User, grid: Grid) -> GridAssignment:
    """Create and commit an open assignment of a worker to a grid."""
    assignment = GridAssignment(id=uuid.uuid4(), user_id=user.id, grid_id=grid.id)
    db.session.add(assignment)
    db.session.commit()
    return assignment


def assign_dispatcher(user: User, org_unit: OrgUnit) -> OrgAssignment:
    """Create and commit an open assignment of a dispatcher to an org unit's subtree."""
    assignment = OrgAssignment(id=uuid.uuid4(), user_id=user.id, org_unit_id=org_unit.id)
    db.session.add(assignment)
    db.session.commit()
    return assignment


# --- registry: valid identifiers, a two-town world, records created through the API -----------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def citizen_id(birth: str = "19900307", seq: int | None = None, area: str = "610116") -> str:
    """A valid 18-character citizen ID number (odd `seq` = male, even = female)."""
    seq = next(_counter) % 1000 if seq is None else seq
    body = f"{area}{birth}{seq:03d}"
    return (
        body + "10X98765432"[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]
    )


def uscc(serial: int | None = None) -> str:
    """A valid unified social credit code (GB 32100-2015)."""
    serial = next(_counter) if serial is None else serial
    body = f"91610116MA{serial:07d}"
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(body, _USCC_WEIGHTS, strict=True))
    return body + _USCC_ALPHABET[(31 - total % 31) % 31]


# Grid A covers [108.90, 108.91] x [34.20, 34.21]; grid B [108.92, 108.93]; grid A2 (a second
# grid of community A) shares grid A's east edge at lng 108.91.
IN_A = (108.905, 34.205)
IN_B = (108.925, 34.205)
IN_NO_GRID = (108.95, 34.25)


def point(where: tuple[float, float]) -> dict[str, object]:
    """A GeoJSON point."""
    return {"type": "Point", "coordinates": list(where)}


@dataclass
class RegistryWorld:
    """Two towns under one new city, a community and grid in each, and one user per vantage."""

    tree: OrgTree
    town_b: OrgUnit
    community_b: OrgUnit
    grid_a: Grid
    grid_b: Grid
    headers: dict[str, dict[str, str]]
    users: dict[str, User]


def make_registry_world() -> RegistryWorld:
    """Grids A and B in sibling towns; workers of A and of B, a worker with no grid, dispatchers
    of town A and of town B, an admin and an auditor (keys of `headers` and `users`)."""
    tree = make_org_tree()
    town_b = make_org_unit(OrgLevel.TOWN, tree.new_city)
    community_b = make_org_unit(OrgLevel.COMMUNITY, town_b)
    grid_a = make_grid(tree.community, square_wkt(108.90, 34.20))
    grid_b = make_grid(community_b, square_wkt(108.92, 34.20))
    users = {
        "worker_a": make_user(Role.WORKER),
        "worker_b": make_user(Role.WORKER),
        "worker_none": make_user(Role.WORKER),
        "dispatcher_a": make_user(Role.DISPATCHER),
        "dispatcher_b": make_user(Role.DISPATCHER),
        "admin": make_user(Role.ADMIN),
        "auditor": make_user(Role.AUDITOR),
    }
    assign_worker(users["worker_a"], grid_a)
    assign_worker(users["worker_b"], grid_b)
    assign_dispatcher(users["dispatcher_a"], tree.town)
    assign_dispatcher(users["dispatcher_b"], town_b)
    headers = {name: auth_headers(user) for name, user in users.items()}
    return RegistryWorld(tree, town_b, community_b, grid_a, grid_b, headers, users)


# Users of `make_task_world` who may not hold a task of grid A.
NOT_WORKERS_OF_A = ["auditor", "admin", "dispatcher_a", "worker_b", "worker_none", "disabled_a"]


def make_task_world() -> RegistryWorld:
    """`make_registry_world` with a second worker of grid A (`worker_a2`) and a disabled worker
    still assigned to it (`disabled_a`)."""
    world = make_registry_world()
    world.users["worker_a2"] = make_user(Role.WORKER)
    assign_worker(world.users["worker_a2"], world.grid_a)
    world.headers["worker_a2"] = auth_headers(world.users["worker_a2"])
    world.users["disabled_a"] = make_user(Role.WORKER, status=UserStatus.DISABLED)
    assign_worker(world.users["disabled_a"], world.grid_a)
    return world


REGISTRY_ENTITIES = (
    "addresses",
    "houses",
    "persons",
    "households",
    "organizations",
    "incidents",
    "tasks",
    "visits",
    "follow-up-plans",
)


def _post(
    client: FlaskClient, headers: dict[str, str], path: str, body: dict[str, object]
) -> dict[str, Any]:
    response = client.post(f"/api/v1/{path}", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


def create_record(
    client: FlaskClient,
    headers: dict[str, str],
    entity: str,
    where: tuple[float, float],
    *,
    assignee: User | None = None,
    grid: Grid | None = None,
) -> dict[str, Any]:
    """Create one `entity` record at `where` through the API (with what it hangs off) and
    return the response body; tasks need `assignee` and `grid`."""
    n = next(_counter)
    door = {"kind": "door", "street": "长安路", "door_number": f"{n}号", "point": point(where)}
    if entity == "addresses":
        return _post(client, headers, "addresses", door)
    if entity == "incidents":
        return _post(
            client,
            headers,
            "incidents",
            {
                "kind": "event",
                "category": "0101",
                "title": f"暴露垃圾 {n}",
                "occurred_at": "2026-11-20T08:30:00+08:00",
                "urgency": "02",
                "point": point(where),
            },
        )
    if entity == "tasks":
        assert assignee is not None
        assert grid is not None
        return _post(
            client,
            headers,
            "tasks",
            {
                "task_type": "verify",
                "title": f"核实 {n}",
                "assignee_id": str(assignee.id),
                "target_grid_id": str(grid.id),
            },
        )
    address = _post(client, headers, "addresses", door)
    if entity == "houses":
        body = {"address_id": address["id"], "house_use": "01", "occupancy": "01"}
        return _post(client, headers, "houses", body)
    if entity == "households":
        return _post(client, headers, "households", {"address_id": address["id"]})
    if entity == "organizations":
        body = {"name": f"秦创原公司{n}", "org_type": "01", "address_id": address["id"]}
        return _post(client, headers, "organizations", body)
    person = _post(
        client,
        headers,
        "persons",
        {
            "id_type": "111",
            "id_number": citizen_id(seq=2 * (n % 499) + 1),
            "name": f"张三{n}",
            "sex": "1",
            "population_type": "01",
            "address_id": address["id"],
            "phone": "13812345678",
        },
    )
    if entity == "persons":
        return person
    if entity == "visits":
        body = {
            "person_id": person["id"],
            "visited_at": "2026-11-21T10:00:00+08:00",
            "form": "in_person",
        }
        return _post(client, headers, "visits", body)
    assert entity == "follow-up-plans"
    return _post(
        client, headers, "follow-up-plans", {"person_id": person["id"], "cycle": "monthly"}
    )


# --- photos: fake images with the right magic bytes ---------------------------------------------

JPEG_MAGIC = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0d"


def jpeg_bytes(size: int = 2048) -> bytes:
    """Random bytes of `size` that start like a JPEG."""
    import os

    return JPEG_MAGIC + os.urandom(size - len(JPEG_MAGIC))


def png_bytes(size: int = 2048) -> bytes:
    """Random bytes of `size` that start like a PNG."""
    import os

    return PNG_MAGIC + os.urandom(size - len(PNG_MAGIC))


def sha256_hex(content: bytes) -> str:
    """The lower-case hex SHA-256 of `content` (a photo's name)."""
    import hashlib

    return hashlib.sha256(content).hexdigest()
