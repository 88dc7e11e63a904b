"""The end-of-run log scan finds ID and phone numbers, and nothing else that looks numeric."""

from tests.log_scan import personal_numbers


def test_a_citizen_id_number_in_a_log_line_is_found() -> None:
    assert personal_numbers('{"msg": "x", "v": "11010519491231002X"}') == [(1, "citizen id number")]


def test_a_lower_case_check_character_is_found_too() -> None:
    assert personal_numbers("id=11010519491231002x") == [(1, "citizen id number")]


def test_a_mobile_number_in_a_log_line_is_found() -> None:
    assert personal_numbers('ok\n{"phone": "13812345678"}') == [(2, "mobile number")]


def test_timestamps_uuids_and_grid_codes_are_not_personal_numbers() -> None:
    line = (
        '{"ts": 1764212345.123, "ms": 1764212345123, "id": "0190f5a0-7c3e-7abc-8def-123456789012",'
        ' "grid": "610112011001001", "stamp": "001767225600000-00000-phone-7",'
        ' "masked": "110105********002X", "phone": "138****5678"}'
    )
    assert personal_numbers(line) == []


def test_an_eighteen_digit_number_with_a_wrong_check_digit_is_not_an_id_number() -> None:
    assert personal_numbers("n=110101199003071234") == []
