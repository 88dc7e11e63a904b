"""Pure rules of the registry: address matching text and opaque cursors (no database)."""

from __future__ import annotations

import re
import unicodedata
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.errors import InvalidInput
from server.registry.services.addresses import normalize_address_text
from server.registry.services.records import decode_cursor, encode_cursor


def test_full_width_digits_and_letters_become_half_width() -> None:
    assert normalize_address_text("长安路１２号Ａ座") == "长安路12号a座"


def test_spaces_and_punctuation_are_dropped() -> None:
    assert normalize_address_text(" 长安路 12 号，3-1（东） ") == "长安路12号31东"


def test_two_spellings_of_one_door_normalize_alike() -> None:
    assert normalize_address_text("长安路 12号。") == normalize_address_text("长安路１２号")


def test_full_width_upper_case_letters_are_folded_without_punctuation() -> None:
    assert normalize_address_text("ＡＢＣ大厦") == "abc大厦"


@given(st.text(alphabet=st.characters(exclude_categories=("Cs",))))
def test_the_fast_path_drops_what_the_regex_drops(text: str) -> None:
    # The reference: NFKC, then every run of whitespace, non-word characters and underscores
    # removed, then lower case, with no shortcut.
    folded = unicodedata.normalize("NFKC", text)
    assert normalize_address_text(text) == re.sub(r"[\s\W_]+", "", folded).lower()


def test_a_cursor_round_trips_to_the_same_id() -> None:
    record_id = uuid.uuid4()
    assert decode_cursor(encode_cursor(record_id)) == record_id


@pytest.mark.parametrize("garbage", ["!!", "abc", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"])
def test_a_foreign_cursor_is_refused_on_the_cursor_field(garbage: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        decode_cursor(garbage)
    assert "cursor" in caught.value.errors
