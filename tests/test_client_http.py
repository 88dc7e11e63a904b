"""The reference client against the real server over HTTP: one worker, one grid."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask

from client.phone import Phone
from client.store import Store
from client.transport import HttpError, HttpTransport, TransportError
from server.auth.models import Role, User
from server.hierarchy.models import Grid
from tests.factories import (
    DEFAULT_PASSWORD,
    assign_worker,
    auth_headers,
    make_grid,
    make_org_tree,
    make_user,
    square_wkt,
)
from tests.live_server import live_server  # noqa: F401 - the fixture

IN_GRID = {"type": "Point", "coordinates": [108.905, 34.205]}


@dataclass
class Field:
    url: str
    user: User
    grid: Grid


@pytest.fixture
def field(app: Flask, live_server: str) -> Field:  # noqa: F811 - the fixture
    tree = make_org_tree()
    grid = make_grid(tree.community, square_wkt(108.90, 34.20))
    user = make_user(Role.WORKER)
    assign_worker(user, grid)
    return Field(live_server, user, grid)


def _phone(field: Field, device_key: str = "phone-1") -> Phone:
    transport = HttpTransport(field.url)
    transport.access_token = auth_headers(field.user, device_key)["Authorization"][7:]
    return Phone(Store(), transport, device_key)


def _door(street: str = "东大街") -> dict[str, object]:
    return {"kind": "door", "street": street, "full_text": f"{street}1号", "point": IN_GRID}


def test_a_create_and_a_patch_in_one_batch_both_apply(field: Field) -> None:
    phone = _phone(field)
    record_id = phone.create("address", _door())
    phone.patch("address", record_id, {"street": "西大街"})
    report = phone.sync()
    assert report.statuses == {"applied": 2}
    assert phone.get("address", record_id)["street"] == "西大街"  # type: ignore[index]


def test_a_first_sync_downloads_the_grid_and_verifies_it(field: Field) -> None:
    writer, reader = _phone(field, "phone-1"), _phone(field, "phone-2")
    ids = [writer.create("address", _door(f"街{n}")) for n in range(5)]
    writer.sync()
    report = reader.sync()
    assert sorted(k[1] for k in reader.store.visible()) == sorted(ids)
    assert report.resnapshots == []
    assert reader.store.visible() == writer.store.visible()


def test_a_pull_does_not_clobber_an_unpushed_edit(field: Field) -> None:
    mine, theirs = _phone(field, "phone-1"), _phone(field, "phone-2")
    record_id = mine.create("address", {**_door(), "building": "1栋"})
    mine.sync()
    theirs.sync()
    theirs.patch("address", record_id, {"street": "南大街"})
    theirs.sync()
    mine.patch("address", record_id, {"building": "2栋"})
    mine.pull()
    doc = mine.get("address", record_id)
    assert doc is not None
    assert (doc["street"], doc["building"]) == ("南大街", "2栋")
    assert mine.sync().statuses == {"merged": 1}


def test_a_losing_worker_sees_the_conflict_on_the_next_pull(field: Field) -> None:
    first, second = _phone(field, "phone-1"), _phone(field, "phone-2")
    record_id = first.create("address", _door())
    first.sync()
    second.sync()
    first.patch("address", record_id, {"street": "南大街"})
    second.patch("address", record_id, {"street": "北大街"})
    first.sync()
    assert second.sync().statuses == {"conflict": 1}
    (notice,) = second.conflicts()
    assert (notice["record_id"], notice["field"], notice["winner"]) == (
        record_id,
        "street",
        "server",
    )
    assert second.get("address", record_id)["street"] == "南大街"  # type: ignore[index]


def test_a_lost_push_response_is_answered_from_the_receipts_on_retry(field: Field) -> None:
    phone = _phone(field)
    real = phone.api
    first: list[dict[str, object]] = []

    class LosesOnce:
        def push(self, ops: list[dict[str, object]]) -> list[dict[str, object]]:
            first.extend(real.push(ops))
            raise TransportError("connection reset")

    phone.api = LosesOnce()  # type: ignore[assignment]
    record_id = phone.create("address", _door())
    with pytest.raises(TransportError):
        phone.push_once()
    phone.api = real
    phone.sync()
    (result,) = phone.store.results().values()
    assert result == first[0]
    assert phone.get("address", record_id) is not None


def test_login_and_refresh_go_through_the_auth_endpoints(field: Field) -> None:
    transport = HttpTransport(field.url)
    transport.login(field.user.username, DEFAULT_PASSWORD, "phone-login")
    old = transport.access_token
    transport.refresh()
    assert transport.access_token not in (None, old)
    transport.access_token = "not-a-token"
    assert transport.pull(None, 10)["has_more"] is False  # a 401 is refreshed and retried
    transport.refresh_token = None
    transport.access_token = "not-a-token"
    with pytest.raises(HttpError) as refused:
        transport.pull(None, 10)
    assert refused.value.status == 401
