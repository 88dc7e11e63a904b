"""Demo base data rows, generated per grid: standard addresses (street, doors, rooms), houses,
households of 2–4 residents with valid synthetic ID numbers (some special populations with a
follow-up plan and a visit), organizations with valid USCCs, incidents and tasks.

Deterministic for a random generator; identifiers are sealed (encrypted + keyed hash) here, so
the plaintext never reaches the database.
"""

from __future__ import annotations

import math
import random
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from server.demo.district import demo_id
from server.demo.layout import GridPlan
from server.registry.services import personal
from server.registry.services.addresses import normalize_address_text

HOUSEHOLDS_PER_GRID = 300
ROOMS_PER_DOOR = 6
ORGANIZATIONS_PER_GRID = 8
INCIDENTS_PER_GRID = 10
TASKS_PER_GRID = 4
SPECIAL_SHARE = 0.02
AREA_CODE = "610116"
# Points stay this far (degrees, ~10 m) inside their grid so none lands on a shared edge.
INSET = 0.0001

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐"
    "许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国文斌志红梅林海燕鹏辉丹宇浩凯"
STREETS = ("沣泾大道", "秦皇大道", "世纪大道", "红光路", "兰池大道", "统一路", "尚业路", "天章大道")
COURTYARDS = ("秦汉新苑", "沣东花园", "泾河小区", "天府佳苑", "丝路家园", "星河湾")
ORG_WORDS = ("科技", "商贸", "建材", "餐饮", "物流", "医药", "文化", "农业")
SPECIAL = (
    "released_prisoner",
    "community_correction",
    "drug_user",
    "severe_mental_illness",
    "key_youth",
)
EVENT_CATEGORIES = ("0101", "0102", "0104", "0201", "0202", "0204", "0301", "0402", "0503")
DISPUTE_CATEGORIES = ("01", "02", "03", "04", "99")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
REPORTED_FROM = datetime(2026, 10, 1, tzinfo=UTC)


def citizen_id(area: str, born: date, sequence: int) -> str:
    """A valid GB 11643 ID number: area, birth date, 3-digit sequence (odd male) and check."""
    body = f"{area}{born:%Y%m%d}{sequence:03d}"
    total = sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def uscc(serial: int) -> str:
    """A valid GB 32100 unified social credit code for a demo enterprise."""
    body = f"91{AREA_CODE}MA{serial:07d}"
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(body, _USCC_WEIGHTS, strict=True))
    return body + _USCC_ALPHABET[(31 - total % 31) % 31]


@dataclass
class Rows:
    """Generated rows (column → value) per table."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    used_ids: set[str] = field(default_factory=set)
    serial: int = 0

    def add(self, table: str, row: dict[str, Any]) -> None:
        """Queue one row for `table`."""
        self.tables[table].append(row)


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _ewkt(p: Point) -> str:
    return f"SRID=4326;POINT({p.x:.7f} {p.y:.7f})"


def _points(rng: random.Random, geom: BaseGeometry, n: int) -> list[Point]:
    inner = geom.buffer(-INSET)
    min_x, min_y, max_x, max_y = inner.bounds
    found: list[Point] = []
    while len(found) < n:
        p = Point(rng.uniform(min_x, max_x), rng.uniform(min_y, max_y))
        if inner.contains(p):
            found.append(p)
    return found


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _person_id_number(rng: random.Random, rows: Rows, sex: str, born: date) -> str:
    while True:
        sequence = rng.randrange(0, 500) * 2 + (1 if sex == "1" else 0)
        number = citizen_id(AREA_CODE, born, sequence)
        if number not in rows.used_ids:
            rows.used_ids.add(number)
            return number


def _born(rng: random.Random, low: int, high: int) -> date:
    return date(2026, 1, 1) - timedelta(days=rng.randrange(low * 365, high * 365))


def grid_rows(
    rng: random.Random,
    rows: Rows,
    grid: GridPlan,
    creator: uuid.UUID | None,
    households: int,
    grid_path: list[uuid.UUID],
    assignee: uuid.UUID | None = None,
) -> None:
    """Every demo row of one grid, written by `creator`; its tasks go to `assignee`, an active
    worker of the grid (a grid without one gets no tasks)."""
    grid_id = demo_id("grid", grid.code)
    who = {
        "created_by": creator,
        "updated_by": creator,
        "grid_id": grid_id,
        "scope_path": grid_path,
    }
    street_name = rng.choice(STREETS)
    street_id = _uuid(rng)
    centre = grid.geom.representative_point()
    rows.add(
        "addresses",
        {
            **who,
            "id": street_id,
            "kind": "street",
            "street": street_name,
            "division_code": grid.code[:12],
            "full_text": street_name,
            "normalized_text": normalize_address_text(street_name),
            "point": _ewkt(centre),
        },
    )
    doors = math.ceil(households / ROOMS_PER_DOOR)
    door_points = _points(rng, grid.geom, doors + ORGANIZATIONS_PER_GRID + INCIDENTS_PER_GRID)
    courtyard = rng.choice(COURTYARDS)
    people: list[tuple[uuid.UUID, uuid.UUID]] = []  # (person, house)
    org_doors: list[uuid.UUID] = []
    for d in range(doors + ORGANIZATIONS_PER_GRID):
        door_id = _uuid(rng)
        number = f"{d + 1}号"
        door_text = f"{street_name}{number}{courtyard}"
        point = _ewkt(door_points[d])
        rows.add(
            "addresses",
            {
                **who,
                "id": door_id,
                "kind": "door",
                "parent_id": street_id,
                "division_code": grid.code[:12],
                "street": street_name,
                "door_number": number,
                "courtyard": courtyard,
                "full_text": door_text,
                "normalized_text": normalize_address_text(door_text),
                "point": point,
            },
        )
        if d >= doors:
            org_doors.append(door_id)
            continue
        for r in range(min(ROOMS_PER_DOOR, households - d * ROOMS_PER_DOOR)):
            room = f"{r // 2 + 1}0{r % 2 + 1}"
            room_id, house_id, household_id = _uuid(rng), _uuid(rng), _uuid(rng)
            room_text = f"{door_text}{room}室"
            rows.add(
                "addresses",
                {
                    **who,
                    "id": room_id,
                    "kind": "room",
                    "parent_id": door_id,
                    "street": street_name,
                    "door_number": number,
                    "courtyard": courtyard,
                    "room": room,
                    "full_text": room_text,
                    "normalized_text": normalize_address_text(room_text),
                    "point": point,
                },
            )
            occupancy = rng.choices(("01", "02", "03"), (70, 25, 5))[0]
            owner = _name(rng)
            owner_number = _person_id_number(rng, rows, rng.choice("12"), _born(rng, 30, 80))
            enc, hashed = personal.seal(owner_number, personal.OWNER_ID_NUMBER)
            rows.add(
                "houses",
                {
                    **who,
                    "id": house_id,
                    "address_id": room_id,
                    "house_use": "01",
                    "house_nature": rng.choice(("01", "02", "05")),
                    "area_m2": rng.randrange(45, 160),
                    "owner_name": owner,
                    "owner_id_number_enc": enc,
                    "owner_id_number_hash": hashed,
                    "occupancy": occupancy,
                    "tenant_count": rng.randrange(1, 4) if occupancy == "02" else None,
                    "hazard_type": "00",
                },
            )
            members = _household(rng, rows, who, room_id, house_id, occupancy == "02")
            head = members[0][0]
            rows.add(
                "households",
                {
                    **who,
                    "id": household_id,
                    "address_id": room_id,
                    "household_number": f"{grid.code[-6:]}{d:03d}{r}",
                    "head_person_id": head,
                },
            )
            for person_id, relation in members:
                rows.add(
                    "household_members",
                    {
                        **who,
                        "id": _uuid(rng),
                        "household_id": household_id,
                        "person_id": person_id,
                        "relation_to_head": relation,
                    },
                )
                people.append((person_id, house_id))
    _organizations(rng, rows, who, org_doors)
    _incidents(rng, rows, who, door_points[doors + ORGANIZATIONS_PER_GRID :])
    if assignee is not None:
        for _ in range(TASKS_PER_GRID):
            person_id, _house = rng.choice(people)
            rows.add(
                "tasks",
                {
                    **who,
                    "id": _uuid(rng),
                    "task_type": "verify",
                    "title": "核实人口信息",
                    "assignee_id": assignee,
                    "target_type": "person",
                    "target_id": person_id,
                    "due_at": REPORTED_FROM + timedelta(days=rng.randrange(30, 60)),
                    "status": "assigned",
                },
            )


def _household(
    rng: random.Random,
    rows: Rows,
    who: dict[str, Any],
    room_id: uuid.UUID,
    house_id: uuid.UUID,
    rented: bool,
) -> list[tuple[uuid.UUID, str]]:
    """2–4 residents: the head, a spouse, children; some with a special-population row."""
    size = rng.choice((2, 2, 3, 3, 3, 4))
    head_sex = rng.choice("12")
    plan = [("02", head_sex, (28, 80)), ("10", "2" if head_sex == "1" else "1", (26, 78))]
    plan += [(rng.choice(("20", "30")), "", (1, 25)) for _ in range(size - 2)]
    surname = rng.choice(SURNAMES)
    out = []
    for relation, sex_code, ages in plan:
        sex = sex_code or ("1" if relation == "20" else "2")
        born = _born(rng, *ages)
        number = _person_id_number(rng, rows, sex, born)
        person_id = _uuid(rng)
        id_enc, id_hash = personal.seal(number, personal.PERSON_ID_NUMBER)
        phone = f"1{rng.choice('3578')}{rng.randrange(10**9):09d}" if ages[0] > 18 else None
        phone_enc, phone_hash = personal.seal(phone, personal.PERSON_PHONE)
        floating = Jsonb({"reason": "务工", "arrival_date": "2025-03-01"}) if rented else None
        rows.add(
            "persons",
            {
                **who,
                "id": person_id,
                "id_type": "111",
                "id_number_enc": id_enc,
                "id_number_hash": id_hash,
                "name": surname + _name(rng)[1:],
                "sex": sex,
                "birth_date": born,
                "ethnicity": rng.choices(("01", "03", "11"), (95, 3, 2))[0],
                "phone_enc": phone_enc,
                "phone_hash": phone_hash,
                "registered_place": "陕西省西安市" if not rented else "河南省洛阳市",
                "address_id": room_id,
                "house_id": house_id,
                "population_type": "02" if rented else "01",
                "floating": floating,
            },
        )
        if rng.random() < SPECIAL_SHARE:
            _special(rng, rows, who, person_id)
        out.append((person_id, relation))
    return out


def _special(rng: random.Random, rows: Rows, who: dict[str, Any], person_id: uuid.UUID) -> None:
    category = rng.choice(SPECIAL)
    rows.add(
        "person_special_populations",
        {
            **who,
            "id": _uuid(rng),
            "person_id": person_id,
            "category": category,
            "start_date": date(2024, 1, 1) + timedelta(days=rng.randrange(600)),
            "supervising_unit": "街道综治中心",
            "risk_level": str(rng.randrange(0, 4)) if category == "severe_mental_illness" else None,
        },
    )
    rows.add(
        "follow_up_plans",
        {
            **who,
            "id": _uuid(rng),
            "person_id": person_id,
            "cycle": "monthly",
            "next_due": date(2026, 12, 1),
        },
    )
    rows.add(
        "visits",
        {
            **who,
            "id": _uuid(rng),
            "person_id": person_id,
            "visited_at": REPORTED_FROM + timedelta(days=rng.randrange(40)),
            "form": "in_person",
            "content": "情况稳定",
            "photo_sha256": [],
        },
    )


def _organizations(
    rng: random.Random, rows: Rows, who: dict[str, Any], doors: Iterable[uuid.UUID]
) -> None:
    for door_id in doors:
        rows.serial += 1
        word = rng.choice(ORG_WORDS)
        rows.add(
            "organizations",
            {
                **who,
                "id": _uuid(rng),
                "uscc": uscc(rows.serial),
                "name": f"西咸新区{rng.choice(SURNAMES)}氏{word}有限公司",
                "org_type": "01",
                "industry": rng.choice("CEFGHI"),
                "legal_representative": _name(rng),
                "address_id": door_id,
                "staff_count": rng.randrange(3, 300),
                "is_key_unit": rng.random() < 0.1,
                "hazard_type": "00",
            },
        )


def _incidents(
    rng: random.Random, rows: Rows, who: dict[str, Any], points: Iterable[Point]
) -> None:
    for p in points:
        dispute = rng.random() < 0.3
        rows.add(
            "incidents",
            {
                **who,
                "id": _uuid(rng),
                "kind": "dispute" if dispute else "event",
                "category": rng.choice(DISPUTE_CATEGORIES if dispute else EVENT_CATEGORIES),
                "title": "邻里纠纷" if dispute else "市容环境问题",
                "occurred_at": REPORTED_FROM + timedelta(hours=rng.randrange(24 * 50)),
                "point": _ewkt(p),
                "urgency": rng.choice(("01", "02", "03")),
                "parties": Jsonb([]),
                "reporter_anonymous": False,
                "photo_sha256": [],
                "status": "reported",
            },
        )
