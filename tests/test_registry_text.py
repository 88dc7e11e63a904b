"""Pure rules of the registry: address matching text and opaque cursors (no database)."""

from __future__ import annotations

import uuid

import pytest

from server.errors import InvalidInput
from server.registry.services.addresses import normalize_address_text
from server.registry.services.records import decode_cursor, encode_cursor


def test_full_width_digits_and_letters_become_half_width() -> None:
    assert normalize_address_text("长安路１２号Ａ座") == "长安路12号a座"


def test_spaces_and_punctuation_are_dropped() -> None:
    assert normalize_address_text(" 长安路 12 号，3-1（东） ") == "长安路12号31东"


def test_two_spellings_of_one_door_normalize_alike() -> None:
    assert normalize_address_text("长安路 12号。") == normalize_address_text("长安路１２号")


def test_a_cursor_round_trips_to_the_same_id() -> None:
    record_id = uuid.uuid4()
    assert decode_cursor(encode_cursor(record_id)) == record_id


@pytest.mark.parametrize("garbage", ["!!", "abc", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"])
def test_a_foreign_cursor_is_refused_on_the_cursor_field(garbage: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        decode_cursor(garbage)
    assert "cursor" in caught.value.errors
