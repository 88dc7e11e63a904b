"""Demo base data: valid identifiers, every record placed in its grid, loaded once."""

from __future__ import annotations

from datetime import date

from flask import Flask
from sqlalchemy import func, select

from server.demo.base_data import load_base_data
from server.demo.base_rows import citizen_id, uscc
from server.demo.service import load_demo
from server.extensions import db
from server.registry import placement
from server.registry.models import Address, Organization, Person
from server.registry.services import personal
from server.registry.validators import birth_date_of, check_citizen_id, check_uscc


def _load(households: int = 3) -> dict[str, int]:
    load_demo()
    counts = load_base_data(db.session, households_per_grid=households)
    db.session.commit()
    return counts


def test_generated_identifiers_pass_the_national_checks() -> None:
    assert check_citizen_id(citizen_id("610116", date(1990, 3, 7), 123), sex="1")
    assert check_uscc(uscc(42)) == uscc(42)


def test_every_demo_record_lies_in_the_grid_sql_placement_gives_it(app: Flask) -> None:
    counts = _load()
    assert counts["persons"] >= 2 * counts["households"]
    assert db.session.scalar(select(func.count()).where(Person.grid_id.is_(None))) == 0
    assert db.session.scalar(select(func.count()).where(Address.grid_id.is_(None))) == 0
    assert placement.place_everything() == 0


def test_demo_people_carry_valid_sealed_id_numbers_agreeing_with_sex_and_birth_date(
    app: Flask,
) -> None:
    _load()
    for blob, sex, born in db.session.execute(
        select(Person.id_number_enc, Person.sex, Person.birth_date).limit(50)
    ):
        number = personal.open_sealed(blob, personal.PERSON_ID_NUMBER)
        assert number is not None
        assert check_citizen_id(number, sex=sex) == number
        assert birth_date_of(number) == born


def test_demo_organizations_have_valid_usccs(app: Flask) -> None:
    _load()
    codes = db.session.scalars(select(Organization.uscc)).all()
    assert codes
    assert all(code is not None and check_uscc(code) == code for code in codes)


def test_loading_twice_adds_nothing(app: Flask) -> None:
    _load()
    assert load_base_data(db.session, households_per_grid=3) == {}
