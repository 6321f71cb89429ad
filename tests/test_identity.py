"""Identity checks: every document type, USCC and mobiles, each failure with its own Chinese message."""
from __future__ import annotations

from datetime import date

import pytest

from app.identity import (
    DocumentInfo,
    IdentityError,
    age_on,
    check_document,
    check_mobile,
    check_uscc,
    is_foreign,
)

TODAY = date(2025, 6, 15)


def gb11643(first17: str) -> str:
    """The 18-character number for 17 digits, with the check digit by the standard's weights."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    remainder = sum(int(d) * w for d, w in zip(first17, weights)) % 11
    return first17 + "10X98765432"[remainder]


def wrong_check(number: str) -> str:
    """The same number with a different (wrong) last character."""
    return number[:-1] + ("1" if number[-1] != "1" else "2")


def uscc_with_check(first17: str) -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    total = sum(alphabet.index(c) * w for c, w in zip(first17, weights))
    return first17 + alphabet[(31 - total) % 31]


def rejected(document_type: str, number: str, **kwargs) -> IdentityError:
    with pytest.raises(IdentityError) as info:
        check_document(document_type, number, today=TODAY, **kwargs)
    return info.value


# -- IdentityError ----------------------------------------------------------------------------------

def test_identity_error_is_a_value_error_carrying_field_and_chinese_message():
    error = IdentityError("phone", "手机号码有误，应为11位数字，以1开头")
    assert isinstance(error, ValueError)
    assert (error.field, error.message, str(error)) == ("phone", "手机号码有误，应为11位数字，以1开头", "手机号码有误，应为11位数字，以1开头")


def test_unknown_document_type_is_refused_on_the_type_field():
    error = rejected("driving_licence", "350203199001011234")
    assert (error.field, error.message) == ("document_type", "证件类型无效")


def test_error_messages_never_repeat_the_number():
    number = wrong_check(gb11643("35020319900101123"))
    error = rejected("resident_id", number)
    assert number not in str(error) and error.field == "document_number"


# -- resident ID (居民身份证) -------------------------------------------------------------------------

def test_valid_resident_id_yields_birth_date_sex_and_region():
    info = check_document("resident_id", "360426199101010071", today=TODAY)
    assert info == DocumentInfo(
        document_type="resident_id", number="360426199101010071", birth_date=date(1991, 1, 1),
        sex="M", region_code="360426", region_name="江西省九江市德安县", upgraded_from_15=False,
    )


def test_even_sequence_digit_means_female():
    number = gb11643("35020319900101122")
    assert check_document("resident_id", number, today=TODAY).sex == "F"


def test_resident_id_is_canonicalised_from_full_width_spaces_and_lower_case_x():
    number = next(n for n in (gb11643(f"350203198807150{i:02d}") for i in range(100)) if n.endswith("X"))
    typed = " " + "".join(chr(ord(c) + 0xFEE0) for c in number[:6]) + " " + number[6:-1] + "x　"
    info = check_document("resident_id", typed, today=TODAY)
    assert info.number == number
    assert info.region_name == "福建省厦门市思明区"


@pytest.mark.parametrize("number", ["35020319900101123", "3502031990010112345", "35020319900101"])
def test_resident_id_of_wrong_length_is_refused(number):
    assert rejected("resident_id", number).message == "身份证号码位数不对，应为18位，请逐位核对"


def test_resident_id_with_letters_is_refused_as_malformed():
    assert rejected("resident_id", "3502031990A1011234").message == "身份证号码有误，应为18位数字，最后一位可能是X"


def test_empty_resident_id_asks_for_a_number():
    assert rejected("resident_id", "  ").message == "请填写证件号码"


def test_resident_id_with_wrong_check_digit_is_refused():
    number = wrong_check(gb11643("35020319900101123"))
    assert rejected("resident_id", number).message == "身份证号码有误，请核对最后一位"


@pytest.mark.parametrize("birth", [
    "19900230",  # no 30 February
    "19901301",  # no month 13
    "20250616",  # tomorrow
    "18940101",  # older than 130
])
def test_resident_id_with_impossible_birth_date_is_refused(birth):
    number = gb11643(f"350203{birth}123")
    assert rejected("resident_id", number).message == "身份证号码中的出生日期不对，请核对第7到14位"


def test_resident_id_born_today_is_accepted():
    number = gb11643("350203" + TODAY.strftime("%Y%m%d") + "124")
    assert check_document("resident_id", number, today=TODAY).birth_date == TODAY


@pytest.mark.parametrize("region", ["999999", "350299", "000000", "710000"])
def test_resident_id_with_unknown_region_is_refused(region):
    number = gb11643(f"{region}19900101123")
    assert rejected("resident_id", number).message == "身份证号码前6位（地区）不对，请核对"


def test_resident_id_born_before_the_region_code_existed_is_accepted():
    # 翔安区 (350213) dates from 2003; numbers keep the code of their issue, not of the birth year.
    info = check_document("resident_id", gb11643("35021319700101123"), today=TODAY)
    assert info.region_name == "福建省厦门市翔安区"


def test_region_name_is_the_name_in_force_in_the_birth_year():
    before = check_document("resident_id", gb11643("35020519900101123"), today=TODAY)
    after = check_document("resident_id", gb11643("35020520050101123"), today=TODAY)
    assert (before.region_name, after.region_name) == ("福建省厦门市杏林区", "福建省厦门市海沧区")


def test_hmt_permit_number_entered_as_resident_id_points_to_the_right_type():
    error = rejected("resident_id", gb11643("81000019900101123"))
    assert error.message == "该号码是港澳台居民居住证号码，请将证件类型选为港澳台居民居住证"


def test_foreign_pr_number_entered_as_resident_id_points_to_the_right_type():
    error = rejected("resident_id", gb11643("93584019900101123"))
    assert error.message == "该号码是外国人永久居留身份证号码，请将证件类型选为外国人永久居留身份证"


def test_fifteen_digit_resident_id_is_upgraded_to_eighteen_digits():
    info = check_document("resident_id", "350203 900101 123", today=TODAY)
    assert info.number == gb11643("35020319900101123")
    assert info.upgraded_from_15 is True
    assert (info.birth_date, info.sex, info.region_code) == (date(1990, 1, 1), "M", "350203")


def test_fifteen_digit_resident_id_with_bad_date_is_refused():
    assert rejected("resident_id", "350203900230123").message == "身份证号码中的出生日期不对，请核对第7到14位"


def test_fifteen_digit_resident_id_with_letters_is_refused_as_malformed():
    assert rejected("resident_id", "35020390010112X").message == "身份证号码有误，应为18位数字，最后一位可能是X"


def test_fifteen_digit_resident_id_with_unknown_region_is_refused():
    assert rejected("resident_id", "999999900101123").message == "身份证号码前6位（地区）不对，请核对"


# -- HMT residence permit (港澳台居民居住证) -----------------------------------------------------------

@pytest.mark.parametrize("region, name", [
    ("810000", "香港特别行政区"), ("820000", "澳门特别行政区"), ("830000", "台湾地区"),
])
def test_valid_hmt_permit_names_its_region(region, name):
    info = check_document("hmt_permit", gb11643(f"{region}19850615002"), today=TODAY)
    assert (info.region_code, info.region_name) == (region, name)
    assert (info.birth_date, info.sex) == (date(1985, 6, 15), "F")


def test_hmt_permit_with_mainland_region_is_refused():
    error = rejected("hmt_permit", gb11643("35020319850615002"))
    assert error.message == "港澳台居民居住证号码应以810000、820000或830000开头"


def test_hmt_permit_with_wrong_check_digit_is_refused():
    error = rejected("hmt_permit", wrong_check(gb11643("81000019850615002")))
    assert error.message == "港澳台居民居住证号码有误，请核对最后一位"


def test_hmt_permit_of_wrong_length_is_refused():
    assert rejected("hmt_permit", "8100001985061500").message == "港澳台居民居住证号码位数不对，应为18位"


def test_hmt_permit_with_letters_is_refused_as_malformed():
    assert rejected("hmt_permit", "81000019850615A021").message == "港澳台居民居住证号码有误，应为18位数字，最后一位可能是X"


def test_hmt_permit_with_bad_birth_date_is_refused():
    error = rejected("hmt_permit", gb11643("81000019850230002"))
    assert error.message == "港澳台居民居住证号码中的出生日期不对，请核对"


# -- foreign permanent residence card (外国人永久居留身份证) ---------------------------------------------

def test_valid_2023_foreign_pr_yields_birth_date():
    number = gb11643("93584019800312004")
    info = check_document("foreign_pr", number, today=TODAY)
    assert (info.number, info.birth_date, info.region_code) == (number, date(1980, 3, 12), None)


def test_valid_old_foreign_pr_is_upper_cased_and_dated():
    info = check_document("foreign_pr", "usa358501010012", today=TODAY)
    assert (info.number, info.birth_date) == ("USA358501010012", date(1985, 1, 1))


def test_old_foreign_pr_two_digit_year_prefers_the_recent_century():
    assert check_document("foreign_pr", "JPN111503010012", today=TODAY).birth_date == date(2015, 3, 1)
    assert check_document("foreign_pr", "JPN119912310012", today=TODAY).birth_date == date(1999, 12, 31)


def test_2023_foreign_pr_not_starting_with_9_is_refused():
    assert rejected("foreign_pr", gb11643("33584019800312004")).message == "外国人永久居留身份证号码应以9开头"


def test_2023_foreign_pr_with_wrong_check_digit_is_refused():
    error = rejected("foreign_pr", wrong_check(gb11643("93584019800312004")))
    assert error.message == "外国人永久居留身份证号码有误，请核对最后一位"


def test_foreign_pr_with_unknown_acceptance_province_is_refused():
    assert rejected("foreign_pr", gb11643("90084019800312004")).message == \
        "外国人永久居留身份证号码中的地区代码不对，请核对"
    assert rejected("foreign_pr", "USA998501010012").message == "外国人永久居留身份证号码中的地区代码不对，请核对"


def test_foreign_pr_with_bad_birth_date_is_refused():
    assert rejected("foreign_pr", gb11643("93584019800230004")).message == \
        "外国人永久居留身份证号码中的出生日期不对，请核对"
    assert rejected("foreign_pr", "USA358513010012").message == "外国人永久居留身份证号码中的出生日期不对，请核对"


@pytest.mark.parametrize("number", ["US1358501010012", "USA35850101001X", "9358401980031200AB"])
def test_malformed_foreign_pr_is_refused(number):
    assert rejected("foreign_pr", number).message == "外国人永久居留身份证号码有误，请逐位核对"


def test_foreign_pr_of_wrong_length_is_refused():
    assert rejected("foreign_pr", "9358401980031200").message == "外国人永久居留身份证号码应为18位（旧版为15位）"


# -- passport (护照) ---------------------------------------------------------------------------------

@pytest.mark.parametrize("number", ["E12345678", "EA1234567", "G12345678", "DE1234567"])
def test_chinese_passport_formats_are_accepted_for_chinese_nationals(number):
    assert check_document("passport", number, nationality="CHN").number == number


@pytest.mark.parametrize("number", ["K1234567", "EI1234567", "E1234567", "123456789"])
def test_non_chinese_format_is_refused_for_chinese_nationals(number):
    assert rejected("passport", number, nationality="CHN").message == "中国护照号码有误，请核对（如E12345678）"


def test_foreign_passport_is_canonicalised_and_has_no_birth_data():
    info = check_document("passport", " ab 123 4567 ", nationality="USA")
    assert info == DocumentInfo(document_type="passport", number="AB1234567")


@pytest.mark.parametrize("number", ["E123", "A" * 18, "AB12#4567", "护照1234567"])
def test_malformed_passport_is_refused(number):
    assert rejected("passport", number).message == "护照号码有误，应为5到17位字母或数字"


# -- other (其他) ------------------------------------------------------------------------------------

def test_other_document_accepts_printable_text_up_to_32_characters():
    assert check_document("other", " 军官证 no.1234 ").number == "军官证NO.1234"
    assert check_document("other", "A" * 32).number == "A" * 32


def test_other_document_longer_than_32_characters_is_refused():
    assert rejected("other", "A" * 33).message == "证件号码不能超过32位"


def test_other_document_with_control_characters_is_refused():
    assert rejected("other", "AB\x00CD").message == "证件号码含有无效字符"


def test_empty_other_document_asks_for_a_number():
    assert rejected("other", "").message == "请填写证件号码"


# -- USCC (统一社会信用代码) ---------------------------------------------------------------------------

def test_valid_uscc_is_returned_canonical():
    assert check_uscc(" 91110000-600037341l ") == "91110000600037341L"


def test_uscc_with_letter_authority_code_is_accepted():
    code = uscc_with_check("N2350203MA2Y00001")
    assert check_uscc(code) == code


def test_uscc_of_wrong_length_is_refused():
    with pytest.raises(IdentityError, match="^统一社会信用代码位数不对，应为18位$") as info:
        check_uscc("91110000600037341")
    assert info.value.field == "uscc"


@pytest.mark.parametrize("code", ["91110000600037341I", "9111000060003734OL", "91A10000600037341L"])
def test_uscc_with_invalid_characters_is_refused(code):
    with pytest.raises(IdentityError, match="^统一社会信用代码有误，只能是数字和大写字母，请逐位核对$"):
        check_uscc(code)


def test_uscc_with_wrong_check_character_is_refused():
    with pytest.raises(IdentityError, match="^统一社会信用代码有误，请核对最后一位$"):
        check_uscc("91110000600037341M")


def test_uscc_error_reports_the_callers_field_name():
    with pytest.raises(IdentityError) as info:
        check_uscc("123", field="employer_uscc")
    assert info.value.field == "employer_uscc"


# -- mobile (手机号码) --------------------------------------------------------------------------------

@pytest.mark.parametrize("typed", [
    "13812345678", "+86 138 1234 5678", "86-138-1234-5678", "008613812345678", "8613812345678",
    "１３８１２３４５６７８", "(+86) 13812345678",
])
def test_mobile_is_returned_as_eleven_digits(typed):
    assert check_mobile(typed) == "13812345678"


@pytest.mark.parametrize("typed", [
    "12812345678", "1381234567", "138123456789", "23812345678", "0592-5551234", "abc", "",
    "+1 13812345678",
])
def test_invalid_mobile_is_refused(typed):
    with pytest.raises(IdentityError) as info:
        check_mobile(typed)
    assert (info.value.field, info.value.message) == ("phone", "手机号码有误，应为11位数字，以1开头")


# -- foreigners and ages -----------------------------------------------------------------------------

@pytest.mark.parametrize("document_type, nationality, expected", [
    ("foreign_pr", "USA", True),
    ("foreign_pr", "CHN", True),
    ("passport", "USA", True),
    ("passport", "chn", False),
    ("passport", "CHN", False),
    ("resident_id", "CHN", False),
    ("hmt_permit", "CHN", False),
    ("other", "CHN", False),
])
def test_foreigners_are_those_with_a_foreign_pr_or_a_foreign_passport(document_type, nationality, expected):
    assert is_foreign(document_type, nationality) is expected


def test_passport_without_nationality_counts_as_chinese():
    assert is_foreign("passport") is False


@pytest.mark.parametrize("born, on, age", [
    (date(1990, 6, 15), date(2025, 6, 14), 34),
    (date(1990, 6, 15), date(2025, 6, 15), 35),
    (date(2000, 2, 29), date(2025, 2, 28), 24),
    (date(2000, 2, 29), date(2025, 3, 1), 25),
    (date(2025, 6, 15), date(2025, 6, 15), 0),
])
def test_age_counts_whole_years(born, on, age):
    assert age_on(born, on) == age
