"""Field encryption is bound to its context and key; lookup hashes are stable and keyed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask

from server.privacy.crypto import UndecryptableField, decrypt_field, encrypt_field, lookup_hash

ID_NUMBER = "11010519491231002X"


@contextmanager
def keys(data_key: bytes | None = None, hash_key: bytes | None = None) -> Iterator[None]:
    """An app context holding the given (or fresh random) keys; no database involved."""
    app = Flask(__name__)
    app.config["DATA_ENCRYPTION_KEY"] = data_key or os.urandom(32)
    app.config["LOOKUP_HASH_KEY"] = hash_key or os.urandom(32)
    with app.app_context():
        yield


def test_a_field_decrypts_to_what_was_encrypted() -> None:
    with keys():
        blob = encrypt_field("张三 " + ID_NUMBER, context="person.id_number")
        assert decrypt_field(blob, context="person.id_number") == "张三 " + ID_NUMBER


def test_ciphertext_hides_the_value_and_differs_each_time() -> None:
    with keys():
        first = encrypt_field(ID_NUMBER, context="person.id_number")
        second = encrypt_field(ID_NUMBER, context="person.id_number")
    assert first != second
    assert first[:12] != second[:12]  # the random nonce leads the blob
    assert ID_NUMBER.encode() not in first


def test_a_blob_moved_to_another_context_fails_to_decrypt() -> None:
    with keys():
        blob = encrypt_field(ID_NUMBER, context="person.id_number")
        with pytest.raises(UndecryptableField):
            decrypt_field(blob, context="house.owner_id_number")


def test_a_tampered_blob_fails_to_decrypt() -> None:
    with keys():
        blob = bytearray(encrypt_field(ID_NUMBER, context="person.id_number"))
        blob[15] ^= 0x01
        with pytest.raises(UndecryptableField):
            decrypt_field(bytes(blob), context="person.id_number")


def test_a_truncated_blob_fails_to_decrypt() -> None:
    with keys(), pytest.raises(UndecryptableField):
        decrypt_field(b"\x00" * 12, context="person.id_number")


def test_another_key_cannot_decrypt() -> None:
    with keys():
        blob = encrypt_field(ID_NUMBER, context="person.id_number")
    with keys(), pytest.raises(UndecryptableField):
        decrypt_field(blob, context="person.id_number")


def test_a_key_of_the_wrong_length_is_refused() -> None:
    with keys(data_key=b"short"), pytest.raises(RuntimeError, match="32 bytes"):
        encrypt_field(ID_NUMBER, context="person.id_number")


def test_the_same_value_gives_the_same_lookup_hash() -> None:
    key = os.urandom(32)
    with keys(hash_key=key):
        first = lookup_hash(ID_NUMBER, context="person.id_number")
    with keys(hash_key=key):
        second = lookup_hash(ID_NUMBER, context="person.id_number")
    assert first == second
    assert len(first) == 64
    assert ID_NUMBER not in first


def test_another_key_or_context_gives_another_lookup_hash() -> None:
    key = os.urandom(32)
    with keys(hash_key=key):
        base = lookup_hash(ID_NUMBER, context="person.id_number")
        other_context = lookup_hash(ID_NUMBER, context="house.owner_id_number")
    with keys():
        other_key = lookup_hash(ID_NUMBER, context="person.id_number")
    assert len({base, other_context, other_key}) == 3
