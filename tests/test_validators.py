"""Citizen ID, unified social credit code and mobile checks, on the vectors of docs/domain.md."""

from datetime import date

import pytest

from server.registry.validators import (
    birth_date_of,
    check_citizen_id,
    check_mobile,
    check_uscc,
    sex_of,
)


@pytest.mark.parametrize(
    "value", ["11010519491231002X", "440524188001010014", "110101199003071233"]
)
def test_valid_citizen_ids_pass(value: str) -> None:
    assert check_citizen_id(value) == value


def test_citizen_id_with_wrong_check_character_is_rejected() -> None:
    with pytest.raises(ValueError, match="check character"):
        check_citizen_id("110101199003071234")


def test_lower_case_x_is_accepted_and_returned_upper_case() -> None:
    assert check_citizen_id("11010519491231002x") == "11010519491231002X"


@pytest.mark.parametrize(
    "value", ["", "1101051949123100", "11010519491231002Y", "A1010519491231002X"]
)
def test_citizen_id_of_wrong_shape_is_rejected(value: str) -> None:
    with pytest.raises(ValueError, match="17 digits"):
        check_citizen_id(value)


def test_citizen_id_born_in_the_future_is_rejected() -> None:
    # 2030-01-01 with a correct check character, checked as of 2026.
    with pytest.raises(ValueError, match="future"):
        check_citizen_id("110101203001010014", today=date(2026, 11, 27))


def test_citizen_id_born_today_is_accepted() -> None:
    assert check_citizen_id("110101203001010014", today=date(2030, 1, 1)) == "110101203001010014"


def test_citizen_id_with_february_30_is_rejected() -> None:
    # 1990-02-30 with a correct check character: only the date is wrong.
    with pytest.raises(ValueError, match="not a real date"):
        check_citizen_id("110101199002300014")


def test_sequence_digit_must_agree_with_sex() -> None:
    # 11010519491231002X has sequence digit 2: a woman.
    assert check_citizen_id("11010519491231002X", sex="2") == "11010519491231002X"
    with pytest.raises(ValueError, match="sex"):
        check_citizen_id("11010519491231002X", sex="1")


def test_male_id_given_female_sex_is_rejected() -> None:
    with pytest.raises(ValueError, match="sex"):
        check_citizen_id("110101199003071233", sex="2")


@pytest.mark.parametrize("sex", ["0", "9", None])
def test_unknown_or_unspecified_sex_is_not_checked(sex: str | None) -> None:
    assert check_citizen_id("11010519491231002X", sex=sex) == "11010519491231002X"


def test_birth_date_and_sex_are_read_from_the_id() -> None:
    assert birth_date_of("11010519491231002X") == date(1949, 12, 31)
    assert sex_of("11010519491231002X") == "2"
    assert sex_of("440524188001010014") == "1"


@pytest.mark.parametrize(
    "value",
    ["91350100M000100Y43", "91110000802100433B", "9144030071526726XG", "11100000000013127D"],
)
def test_valid_credit_codes_pass(value: str) -> None:
    assert check_uscc(value) == value


def test_credit_code_with_wrong_check_character_is_rejected() -> None:
    with pytest.raises(ValueError, match="check character"):
        check_uscc("91310000MA1FL0CM2K")


def test_credit_code_is_upper_cased() -> None:
    assert check_uscc("91350100m000100y43") == "91350100M000100Y43"


@pytest.mark.parametrize("value", ["91350100M000100Y4", "91350100M000100I43", "9135010OM000100Y43"])
def test_credit_code_of_wrong_shape_or_alphabet_is_rejected(value: str) -> None:
    with pytest.raises(ValueError, match="18 characters"):
        check_uscc(value)


@pytest.mark.parametrize("value", ["13812345678", "19912345678"])
def test_valid_mobile_numbers_pass(value: str) -> None:
    assert check_mobile(value) == value


@pytest.mark.parametrize("value", ["12812345678", "1381234567", "138123456789", "+8613812345678"])
def test_invalid_mobile_numbers_are_rejected(value: str) -> None:
    with pytest.raises(ValueError, match="mobile"):
        check_mobile(value)
