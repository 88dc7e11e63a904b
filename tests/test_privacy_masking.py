"""Masking by default: the masks, and the one policy table of who sees what."""

from __future__ import annotations

import pytest

from server.auth.models import Role
from server.privacy.masking import (
    FIELD_POLICY,
    Exposure,
    FieldClass,
    exposure,
    field_class,
    mask,
    mask_id_number,
    mask_name,
    mask_phone,
    present,
)

F, M, H = Exposure.FULL, Exposure.MASKED, Exposure.HIDDEN
W, D, A, AU = Role.WORKER, Role.DISPATCHER, Role.ADMIN, Role.AUDITOR


def test_id_number_shows_first_six_and_last_four() -> None:
    assert mask_id_number("11010519491231002X") == "110105********002X"


def test_short_identifiers_keep_only_their_tail() -> None:
    assert mask_id_number("E12345678") == "*****5678"
    assert mask_id_number("123") == "***"


def test_phone_shows_first_three_and_last_four() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("12345") == "*****"


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("张三丰", "张**"),
        ("欧阳娜娜", "欧***"),
        ("王", "*"),
        ("买买提·艾力", "买**·艾*"),
        ("John Smith", "J*** S****"),
        ("", ""),
    ],
)
def test_names_keep_only_the_first_character_of_each_part(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_owner_identity_is_masked_by_its_shape() -> None:
    owner = FieldClass.OWNER_IDENTITY
    assert mask(owner, "11010519491231002X") == "110105********002X"
    assert mask(owner, "13812345678") == "138****5678"
    assert mask(owner, "李四") == "李*"


def test_the_policy_table_is_exactly_this() -> None:
    # A change to who sees what must be deliberate: change this table and say why in masking.py.
    assert FIELD_POLICY == {
        FieldClass.ID_NUMBER: {W: M, D: M, A: M, AU: H},
        FieldClass.PHONE: {W: M, D: M, A: M, AU: H},
        FieldClass.PERSON_NAME: {W: F, D: F, A: M, AU: H},
        FieldClass.SPECIAL_POPULATION: {W: F, D: F, A: H, AU: H},
        FieldClass.OWNER_IDENTITY: {W: M, D: M, A: M, AU: H},
        FieldClass.BIRTH_DATE: {W: M, D: M, A: M, AU: H},
    }


def test_a_birth_date_is_masked_to_its_year_wherever_the_id_number_is() -> None:
    # Digits 7-14 of a citizen ID are the birth date: the mask and the date would make the ID.
    for role in Role:
        assert exposure(role, FieldClass.BIRTH_DATE) is not F
    assert present(W, FieldClass.BIRTH_DATE, "1949-12-31") == "1949-**-**"


def test_nobody_sees_full_id_numbers_by_default() -> None:
    assert all(exposure(role, FieldClass.ID_NUMBER) is not F for role in Role)


def test_worker_sees_names_and_special_population_but_masked_ids_and_phones() -> None:
    assert present(W, FieldClass.PERSON_NAME, "张三") == "张三"
    assert present(W, FieldClass.SPECIAL_POPULATION, "drug_user") == "drug_user"
    assert present(W, FieldClass.ID_NUMBER, "11010519491231002X") == "110105********002X"
    assert present(W, FieldClass.PHONE, "13812345678") == "138****5678"


def test_dispatcher_sees_names_in_full_and_ids_masked() -> None:
    assert present(D, FieldClass.PERSON_NAME, "张三") == "张三"
    assert present(D, FieldClass.ID_NUMBER, "11010519491231002X") == "110105********002X"
    assert present(D, FieldClass.SPECIAL_POPULATION, "key_youth") == "key_youth"


def test_admin_sees_personal_fields_masked_and_no_special_population() -> None:
    assert present(A, FieldClass.PERSON_NAME, "张三") == "张*"
    assert present(A, FieldClass.PHONE, "13812345678") == "138****5678"
    assert present(A, FieldClass.SPECIAL_POPULATION, "drug_user") is None


@pytest.mark.parametrize("field", list(FieldClass))
def test_auditor_sees_no_personal_field(field: FieldClass) -> None:
    assert present(AU, field, "11010519491231002X") is None


def test_absent_values_stay_absent() -> None:
    assert present(W, FieldClass.PERSON_NAME, None) is None


def test_fields_are_classified_by_attribute_name_or_class_value() -> None:
    assert field_class("id_number") is FieldClass.ID_NUMBER
    assert field_class("owner_phone") is FieldClass.OWNER_IDENTITY
    assert field_class("phone") is FieldClass.PHONE
    assert field_class("person_name") is FieldClass.PERSON_NAME
    assert field_class("address") is None
