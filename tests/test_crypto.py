"""Personal fields: encrypted at rest with a key id, found by blind index, masked for display."""
from __future__ import annotations

import base64

import pytest
from sqlalchemy import select

from app import crypto
from app.crypto import KeyConfigError, Keyring
from app.models import Person
from tests.conftest import raw_dump
from tests.factories import make_person

K1 = base64.b64encode(b"\x01" * 32).decode()
K2 = base64.b64encode(b"\x03" * 32).decode()
BLIND = base64.b64encode(b"\x02" * 32).decode()
DOC = "350203199003071234"  # shape only; these tests never validate the checksum
PHONE = "13812345678"


def ring(keys: str, active: str | None = None) -> Keyring:
    return Keyring.from_config({"FIELD_ENCRYPTION_KEYS": keys,
                                "FIELD_ENCRYPTION_ACTIVE_KEY_ID": active,
                                "BLIND_INDEX_KEY": BLIND})


def test_encrypted_value_round_trips_and_carries_its_key_id():
    r = ring(f"k1:{K1}")
    stored = r.encrypt(DOC)
    assert stored.startswith("k1:") and DOC not in stored
    assert r.decrypt(stored) == DOC


def test_same_plaintext_encrypts_differently_each_time():
    r = ring(f"k1:{K1}")
    assert r.encrypt(DOC) != r.encrypt(DOC)


def test_rotation_keeps_old_values_readable_and_writes_with_the_new_key():
    old = ring(f"k1:{K1}").encrypt(DOC)
    rotated = ring(f"k1:{K1},k2:{K2}", active="k2")
    assert rotated.decrypt(old) == DOC
    new = rotated.encrypt(DOC)
    assert new.startswith("k2:")
    with pytest.raises(KeyConfigError):
        ring(f"k1:{K1}").decrypt(new)


def test_tampered_ciphertext_is_refused():
    r = ring(f"k1:{K1}")
    kid, body = r.encrypt(DOC).split(":")
    raw = bytearray(base64.b64decode(body))
    raw[-1] ^= 1
    with pytest.raises(Exception):
        r.decrypt(f"{kid}:{base64.b64encode(bytes(raw)).decode()}")


def test_blind_index_is_stable_across_spelling_and_rotation():
    a = ring(f"k1:{K1}").blind_index("doc:resident_id", "35020319900307123x")
    b = ring(f"k1:{K1},k2:{K2}", "k2").blind_index("doc:resident_id", " ３５０２０３19900307123X ")
    assert a == b
    assert ring(f"k1:{K1}").blind_index("phone", DOC) != ring(f"k1:{K1}").blind_index(
        "doc:resident_id", DOC)


def test_full_width_digits_and_spaces_are_normalised():
    assert crypto.normalise(" １３８ 1234 5678 ") == PHONE


@pytest.mark.parametrize("bad", ["", "k1", f"k1:{K1[:-4]}", "k1:not-base64!!"])
def test_malformed_key_configuration_is_refused(bad):
    with pytest.raises(KeyConfigError):
        ring(bad)


def test_active_key_must_exist():
    with pytest.raises(KeyConfigError, match="active key"):
        ring(f"k1:{K1}", active="k9")


@pytest.mark.parametrize("value, masked", [
    ("350303199001011237", "350303********1237"),
    ("35030319900101123x", "350303********123X"),
    ("E12345678", "E1*****78"),
])
def test_document_masking(value, masked):
    assert crypto.mask_document(value) == masked


@pytest.mark.parametrize("value, masked", [("张小三", "张*三"), ("张三", "张*"), ("欧阳小明", "欧**明"), ("李", "李")])
def test_name_masking(value, masked):
    assert crypto.mask_name(value) == masked


def test_phone_masking():
    assert crypto.mask_phone(PHONE) == "138****5678"


def test_person_is_found_by_blind_index_of_document_and_phone(db):
    make_person(DOC, phone=PHONE)
    make_person("350203199105051111", name="李四", phone="13900001111")
    db.session.commit()
    by_doc = db.session.execute(select(Person).where(
        Person.document_type == "resident_id",
        Person.document_blind_index == crypto.blind_index("doc:resident_id", DOC),
    )).scalar_one()
    assert crypto.decrypt(by_doc.document_number_enc) == DOC
    by_phone = db.session.execute(select(Person).where(
        Person.phone_blind_index == crypto.blind_index("phone", PHONE))).scalar_one()
    assert by_phone.id == by_doc.id and by_phone.phone_masked == "138****5678"


def test_same_document_cannot_be_stored_twice(db):
    from sqlalchemy.exc import IntegrityError

    make_person(DOC)
    db.session.commit()
    with pytest.raises(IntegrityError):
        make_person(DOC.lower(), name="冒名")
    db.session.rollback()


def test_raw_dump_of_every_table_holds_no_plaintext_document_or_phone(app, db):
    make_person(DOC, phone=PHONE)
    db.session.commit()
    dump = raw_dump(app)
    assert "张小三" in dump  # the dump really contains the person's row
    assert DOC not in dump and PHONE not in dump
    assert DOC[6:14] not in dump  # not even the birth-date digits in the clear
