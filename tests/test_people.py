"""Persons are validated, stored encrypted, found by blind index and never duplicated."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app import crypto
from app.fakedata import FakeData
from app.identity import IdentityError
from app.models import Branch, Person, PersonChange
from app.services.people.people import find_person, upsert_person

fake = FakeData(99)


def test_new_person_gets_birth_date_sex_and_region_from_the_id(db):
    number = fake.resident_id(region_code="350203", sex="F")
    person = upsert_person(document_type="resident_id", document_number=number, name="林小红",
                           phone="+86 138-1234-5678", channel="wechat_h5")
    db.session.commit()
    assert person.sex == "F" and person.household_region_code == "350203"
    assert person.birth_date.isoformat().replace("-", "") == number[6:14]
    assert crypto.decrypt(person.phone_enc) == "13812345678"
    assert person.phone_masked == "138****5678"
    assert person.document_masked == number[:6] + "********" + number[-4:]


def test_same_document_in_other_spelling_is_the_same_person_and_only_proposes(db):
    number = fake.resident_id()
    upsert_person(document_type="resident_id", document_number=number, name="王五")
    upsert_person(document_type="resident_id", document_number=" " + number.lower() + " ",
                  name="王五", phone="13900001111")
    db.session.commit()
    assert db.session.execute(select(func.count()).select_from(Person)).scalar_one() == 1
    # A second mention proposes the phone; it is not written until a declaration is verified.
    assert find_person("resident_id", number).phone_masked is None
    change = db.session.execute(select(PersonChange)).scalar_one()
    assert (change.field, change.new_value, change.status) == ("phone", "139****1111", "proposed")
    assert "13900001111" not in (change.new_value_enc or "")


def test_household_register_in_the_branch_district_is_not_floating(db):
    db.session.add(Branch(code="B1", name="测试分局", region_code="350206"))
    local = upsert_person(document_type="resident_id", name="本地人",
                          document_number=fake.resident_id(region_code="350206"))
    outsider = upsert_person(document_type="resident_id", name="外地人",
                             document_number=fake.resident_id(region_code="510104"))
    foreigner = upsert_person(document_type="passport", name="Anna Smith", nationality="gbr",
                              document_number=fake.passport())
    assert (local.is_floating, outsider.is_floating, foreigner.is_floating) == (False, True, True)
    assert foreigner.nationality == "GBR"


def test_bad_checksum_is_refused_with_a_chinese_reason_and_nothing_is_stored(db):
    number = fake.resident_id()
    wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
    with pytest.raises(IdentityError) as err:
        upsert_person(document_type="resident_id", document_number=wrong, name="张三")
    assert "核对最后一位" in err.value.message
    assert db.session.execute(select(func.count()).select_from(Person)).scalar_one() == 0


def test_bad_phone_names_the_phone_field(db):
    with pytest.raises(IdentityError) as err:
        upsert_person(document_type="resident_id", document_number=fake.resident_id(),
                      name="张三", phone="12345")
    assert err.value.field == "phone"
