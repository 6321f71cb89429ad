"""FakeData: deterministic by seed, and everything it makes passes app.identity."""
from __future__ import annotations

import random
from datetime import date

import pytest

from app import fakedata
from app.fakedata import FakeData
from app.identity import check_document, check_mobile, check_uscc

TODAY = date(2025, 6, 15)


def sample(seed: int) -> list:
    fake = FakeData(seed, today=TODAY)
    return [
        fake.resident_id(), fake.resident_id_15(), fake.hmt_permit(), fake.foreign_pr(),
        fake.passport(), fake.passport("CHN"), fake.uscc(), fake.mobile(), fake.name(),
        fake.company_name(), fake.foreign_name(), fake.person("passport"),
    ]


def test_same_seed_gives_the_same_sequence():
    assert sample(42) == sample(42)


def test_different_seeds_give_different_sequences():
    assert sample(1) != sample(2)


def test_generators_leave_the_global_random_state_alone():
    random.seed(7)
    expected = random.random()
    random.seed(7)
    FakeData(5).resident_id()
    FakeData(6).uscc()
    assert random.random() == expected


def test_instances_with_the_same_seed_do_not_disturb_each_other():
    first, second = FakeData(5), FakeData(5)
    second.uscc()
    second.name()
    assert first.resident_id() == FakeData(5).resident_id()


def test_thousand_resident_ids_pass_the_checks_and_use_built_in_regions():
    fake = FakeData(2024)
    for _ in range(1000):
        info = check_document("resident_id", fake.resident_id())
        assert info.region_code in fakedata.REGIONS
        assert 1950 <= info.birth_date.year <= 2006
        assert not info.upgraded_from_15


def test_thousand_usccs_pass_the_checks():
    fake = FakeData(2025)
    codes = [fake.uscc() for _ in range(1000)]
    assert all(check_uscc(code) == code for code in codes)
    assert all(code[2:8] in fakedata.REGIONS for code in codes)
    assert len(set(codes)) > 990


def test_individual_business_uscc_has_entity_type_2():
    code = FakeData(3).uscc(region_code="350206", individual=True)
    assert code.startswith("92350206") and check_uscc(code) == code


def test_every_built_in_region_is_known_to_the_region_data():
    for region in fakedata.REGIONS:
        number = FakeData(0).resident_id(region_code=region)
        assert check_document("resident_id", number).region_code == region


def test_resident_id_honours_region_birth_years_and_sex():
    fake = FakeData(9)
    for sex in ("M", "F") * 50:
        info = check_document("resident_id", fake.resident_id("350211", (1980, 1981), sex))
        assert (info.region_code, info.sex) == ("350211", sex)
        assert info.birth_date.year in (1980, 1981)


def test_birth_dates_never_fall_in_the_future():
    fake = FakeData(11, today=TODAY)
    assert all(fake.birth_date((2024, 2030)) <= TODAY for _ in range(500))


def test_fifteen_digit_ids_upgrade_cleanly():
    fake = FakeData(15)
    for _ in range(300):
        number = fake.resident_id_15()
        info = check_document("resident_id", number)
        assert len(number) == 15 and info.upgraded_from_15 and info.number[:6] == number[:6]


@pytest.mark.parametrize("document_type, make", [
    ("hmt_permit", lambda f: f.hmt_permit()),
    ("foreign_pr", lambda f: f.foreign_pr()),
    ("passport", lambda f: f.passport()),
])
def test_other_documents_pass_the_checks(document_type, make):
    fake = FakeData(21)
    for _ in range(300):
        assert check_document(document_type, make(fake)).document_type == document_type


def test_chinese_passports_have_the_chinese_format():
    fake = FakeData(22)
    for _ in range(300):
        number = fake.passport("CHN")
        assert check_document("passport", number, nationality="CHN").number == number


def test_foreign_pr_encodes_the_requested_nationality():
    number = FakeData(23).foreign_pr("JPN")
    assert number.startswith("9") and number[3:6] == "392"


def test_mobiles_pass_the_check():
    fake = FakeData(31)
    phones = [fake.mobile() for _ in range(1000)]
    assert all(check_mobile(p) == p for p in phones)


def test_names_are_chinese_and_follow_the_requested_sex():
    fake = FakeData(41)
    for _ in range(200):
        name = fake.name("F")
        assert 2 <= len(name) <= 4
        surname = name[:2] if name[:2] in fakedata.SURNAMES else name[0]
        assert all(c in fakedata.GIVEN_FEMALE for c in name[len(surname):])


def test_company_and_foreign_names_look_the_part():
    fake = FakeData(51)
    assert fake.company_name().endswith("公司")
    given, family = fake.foreign_name("M").split(" ")
    assert given in fakedata.FOREIGN_GIVEN_MALE and family in fakedata.FOREIGN_FAMILY


@pytest.mark.parametrize("document_type", ["resident_id", "hmt_permit", "foreign_pr", "passport", "other"])
def test_person_fields_agree_with_their_document(document_type):
    fake = FakeData(61, today=TODAY)
    for _ in range(100):
        person = fake.person(document_type)
        info = check_document(document_type, person["document_number"],
                              nationality=person["nationality"], today=TODAY)
        assert info.birth_date in (None, person["birth_date"])
        assert info.sex in (None, person["sex"])
        check_mobile(person["phone"])
        assert (person["nationality"] == "CHN") == (document_type not in ("foreign_pr", "passport"))
