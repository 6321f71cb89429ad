"""Every identity check in one place: documents (GB 11643 and friends), USCC (GB 32100), mobiles.

Checks are pure functions over plain strings (no app, no database), so the validation job, the
schemas and the fake-data generator all agree on what a valid number is. Failures raise
IdentityError carrying the field and a message in Chinese that can be shown to the person as is;
messages never echo the number back (it must not reach logs).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from stdnum import numdb
from stdnum.cn import ric, uscc

from app.field_errors import FieldError

MAX_AGE = 130

DOCUMENT_TYPES = ("resident_id", "hmt_permit", "foreign_pr", "passport", "other")
DOCUMENT_TYPE_LABELS = {
    "resident_id": "居民身份证",
    "hmt_permit": "港澳台居民居住证",
    "foreign_pr": "外国人永久居留身份证",
    "passport": "护照",
    "other": "其他",
}

# Region codes the HMT residence permit (港澳台居民居住证) uses in place of a mainland county.
HMT_REGIONS = {
    "810000": "香港特别行政区",
    "820000": "澳门特别行政区",
    "830000": "台湾地区",
}
# Province-level codes that never start a mainland resident ID (71 台湾省 exists in the region
# data only as a placeholder; 81/82/83 belong to the HMT permit).
_NOT_MAINLAND = ("71", "81", "82", "83")
# Region-data entries that are bookkeeping, not a place name worth showing.
_PLACEHOLDER_NAMES = ("市辖区", "县")
_PLACEHOLDER_SUFFIXES = ("直辖县级行政单位", "直辖县级行政区划", "直辖行政单位")

_PASSPORT = re.compile(r"[A-Z0-9]{5,17}")
# Chinese passports: ordinary E/G + 8 (E-series ran out of digits, so E + letter + 7 digits is
# also issued; I and O are skipped), diplomatic/service/public-affairs DE/SE/PE + 7 digits.
_CHINESE_PASSPORT = re.compile(r"(G[0-9]{8}|E[0-9A-HJ-NP-Z][0-9]{7}|[DSP]E[0-9]{7})")
_FOREIGN_PR_OLD = re.compile(r"[A-Z]{3}[0-9]{12}")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_USCC_ALPHABET = set("0123456789ABCDEFGHJKLMNPQRTUWXY")


class IdentityError(FieldError):
    """An identity value failed a check; `message` is Chinese and safe to show to the person."""


@dataclass(frozen=True)
class DocumentInfo:
    document_type: str
    number: str
    birth_date: date | None = None
    sex: str | None = None
    region_code: str | None = None
    region_name: str | None = None
    upgraded_from_15: bool = False


# Full-width ASCII to half-width, the ideographic space to a space: one str.translate per text.
_HALF_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: " "}


def fold_width(value: str) -> str:
    """Full-width ASCII (what Chinese IMEs type) as half-width, the ideographic space as a space."""
    return value.translate(_HALF_WIDTH)


def _fold(value: str) -> str:
    """Strip, fold full-width ASCII and the ideographic space."""
    return fold_width(value or "").strip()


def _compact(value: str, separators: str = " -") -> str:
    folded = _fold(value)
    for sep in separators:
        folded = folded.replace(sep, "")
    return "".join(folded.split()).upper()


def age_on(birth_date: date, on_date: date) -> int:
    """Whole years of age on a date (a 29 February birthday counts from 1 March in other years)."""
    before_birthday = (on_date.month, on_date.day) < (birth_date.month, birth_date.day)
    return on_date.year - birth_date.year - before_birthday


def is_foreign(document_type: str, nationality: str | None = "CHN") -> bool:
    """Whether the holder is a foreigner, who must be declared within 24 hours (出境入境管理法 第三十九条)."""
    if document_type == "foreign_pr":
        return True
    if document_type == "passport":
        return (nationality or "CHN").strip().upper() != "CHN"
    return False


# -- region data ---------------------------------------------------------------------------------

def _pick_name(raw: str, year: int | None) -> str:
    """Region data lists names as "[1983-2002]杏林区,[2003-]海沧区": take the one in force in year,
    otherwise the latest one."""
    chosen = ""
    for part in raw.split(","):
        name, start, end = part, None, None
        if part.startswith("["):
            span, _, name = part[1:].partition("]")
            first, _, last = span.partition("-")
            start, end = (int(first) if first else None), (int(last) if last else None)
        if year is not None and (start is None or year >= start) and (end is None or year <= end):
            return name
        chosen = name
    return chosen


@lru_cache(maxsize=4096)
def _region_entry(code: str) -> tuple[str, str] | None:
    """(province raw name, county raw name) from stdnum's bundled data, or None when unknown."""
    info: dict[str, str] = {}
    for _part, props in numdb.get("cn/loc").info(code):
        info.update(props)
    if "province" not in info or "county" not in info:
        return None
    return info["province"], info["county"]


def _is_known_region(code: str) -> bool:
    # The code is whatever was in force when the number was first issued (for adults in 1984-85,
    # long after their birth), so any code the data has ever known is accepted; stdnum's own
    # validate() rejects e.g. 思明区 (since 1983) for anyone born before 1983.
    return code[:2] not in _NOT_MAINLAND and _region_entry(code) is not None


def _is_placeholder(name: str) -> bool:
    return not name or name in _PLACEHOLDER_NAMES or name.endswith(_PLACEHOLDER_SUFFIXES)


def region_name(code: str, year: int | None = None) -> str | None:
    """"福建省厦门市思明区" for 350203, naming the place as it was called in year when given."""
    if code in HMT_REGIONS:
        return HMT_REGIONS[code]
    entry = _region_entry(code)
    if entry is None:
        return None
    province, county = _pick_name(entry[0], year), _pick_name(entry[1], year)
    parts = [province]
    if code[2:4] != "00" and code[4:6] != "00":
        prefecture_entry = _region_entry(code[:4] + "00")
        if prefecture_entry is not None:
            prefecture = _pick_name(prefecture_entry[1], year)
            if not _is_placeholder(prefecture):
                parts.append(prefecture)
    if not _is_placeholder(county):
        parts.append(county)
    # Municipalities and 0000 codes repeat the province as the county: say it once.
    return "".join(dict.fromkeys(p for p in parts if p)) or None


def _is_province(code: str) -> bool:
    return code not in _NOT_MAINLAND and _region_entry(code + "0000") is not None


# -- documents -----------------------------------------------------------------------------------

def _birth_date(text: str, today: date) -> date | None:
    """YYYYMMDD → a date that is real, not in the future and at most MAX_AGE years ago."""
    try:
        born = date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None
    if born > today or age_on(born, today) > MAX_AGE:
        return None
    return born


def _sex(sequence_digit: str) -> str:
    return "M" if int(sequence_digit) % 2 else "F"


def _check_digit(first17: str) -> str:
    # stdnum's calc_check_digit ignores the last character, so pass a placeholder.
    return ric.calc_check_digit(first17 + "0")


def _check_resident_id(number: str, today: date) -> DocumentInfo:
    field = "document_number"
    upgraded = False
    if len(number) == 15:
        if not number.isdigit():
            raise IdentityError(field, "身份证号码有误，应为18位数字，最后一位可能是X")
        # First-generation cards (1984-2004) were only issued to people born in the 1900s.
        first17 = number[:6] + "19" + number[6:]
        number = first17 + _check_digit(first17)
        upgraded = True
    if len(number) != 18:
        raise IdentityError(field, "身份证号码位数不对，应为18位，请逐位核对")
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise IdentityError(field, "身份证号码有误，应为18位数字，最后一位可能是X")
    if number[17] != _check_digit(number[:17]):
        raise IdentityError(field, "身份证号码有误，请核对最后一位")
    # Numbers of the other GB 11643-shaped documents, chosen under the wrong type by mistake.
    if not upgraded and number[:6] in HMT_REGIONS:
        raise IdentityError(field, "该号码是港澳台居民居住证号码，请将证件类型选为港澳台居民居住证")
    if not upgraded and number[0] == "9" and _is_province(number[1:3]):
        raise IdentityError(field, "该号码是外国人永久居留身份证号码，请将证件类型选为外国人永久居留身份证")
    born = _birth_date(number[6:14], today)
    if born is None:
        raise IdentityError(field, "身份证号码中的出生日期不对，请核对第7到14位")
    region = number[:6]
    if not _is_known_region(region):
        raise IdentityError(field, "身份证号码前6位（地区）不对，请核对")
    return DocumentInfo("resident_id", number, born, _sex(number[16]), region,
                        region_name(region, born.year), upgraded)


def _check_hmt_permit(number: str, today: date) -> DocumentInfo:
    field = "document_number"
    if len(number) != 18:
        raise IdentityError(field, "港澳台居民居住证号码位数不对，应为18位")
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise IdentityError(field, "港澳台居民居住证号码有误，应为18位数字，最后一位可能是X")
    if number[17] != _check_digit(number[:17]):
        raise IdentityError(field, "港澳台居民居住证号码有误，请核对最后一位")
    region = number[:6]
    if region not in HMT_REGIONS:
        raise IdentityError(field, "港澳台居民居住证号码应以810000、820000或830000开头")
    born = _birth_date(number[6:14], today)
    if born is None:
        raise IdentityError(field, "港澳台居民居住证号码中的出生日期不对，请核对")
    return DocumentInfo("hmt_permit", number, born, _sex(number[16]), region, HMT_REGIONS[region])


def _old_foreign_pr_birth_date(yymmdd: str, today: date) -> date | None:
    # Two-digit years: the latest century that gives a real, non-future date (children hold cards too).
    for century in ("20", "19"):
        born = _birth_date(century + yymmdd, today)
        if born is not None:
            return born
    return None


def _check_foreign_pr(number: str, today: date) -> DocumentInfo:
    """2023 card: 9 + province(2) + nationality(3) + birth date(8) + sequence(3) + MOD 11-2 check.
    2004-2023 card: nationality letters(3) + province(2) + YYMMDD + 4 digits (check not public)."""
    field = "document_number"
    if len(number) == 15:
        if not _FOREIGN_PR_OLD.fullmatch(number):
            raise IdentityError(field, "外国人永久居留身份证号码有误，请逐位核对")
        if not _is_province(number[3:5]):
            raise IdentityError(field, "外国人永久居留身份证号码中的地区代码不对，请核对")
        born = _old_foreign_pr_birth_date(number[5:11], today)
        if born is None:
            raise IdentityError(field, "外国人永久居留身份证号码中的出生日期不对，请核对")
        return DocumentInfo("foreign_pr", number, born)
    if len(number) != 18:
        raise IdentityError(field, "外国人永久居留身份证号码应为18位（旧版为15位）")
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise IdentityError(field, "外国人永久居留身份证号码有误，请逐位核对")
    if number[0] != "9":
        raise IdentityError(field, "外国人永久居留身份证号码应以9开头")
    if number[17] != _check_digit(number[:17]):
        raise IdentityError(field, "外国人永久居留身份证号码有误，请核对最后一位")
    if not _is_province(number[1:3]):
        raise IdentityError(field, "外国人永久居留身份证号码中的地区代码不对，请核对")
    born = _birth_date(number[6:14], today)
    if born is None:
        raise IdentityError(field, "外国人永久居留身份证号码中的出生日期不对，请核对")
    return DocumentInfo("foreign_pr", number, born)


def _check_passport(number: str, nationality: str | None) -> DocumentInfo:
    if not _PASSPORT.fullmatch(number):
        raise IdentityError("document_number", "护照号码有误，应为5到17位字母或数字")
    if (nationality or "").strip().upper() == "CHN" and not _CHINESE_PASSPORT.fullmatch(number):
        raise IdentityError("document_number", "中国护照号码有误，请核对（如E12345678）")
    return DocumentInfo("passport", number)


def _check_other(number: str) -> DocumentInfo:
    if not number:
        raise IdentityError("document_number", "请填写证件号码")
    if len(number) > 32:
        raise IdentityError("document_number", "证件号码不能超过32位")
    if not number.isprintable():
        raise IdentityError("document_number", "证件号码含有无效字符")
    return DocumentInfo("other", number)


def check_document(document_type: str, number: str, *, nationality: str | None = None,
                   today: date | None = None) -> DocumentInfo:
    """Validate a document number of the given type and return its canonical form and contents.

    nationality (ISO alpha-3) tightens passports to the Chinese format when it is CHN; today is
    for tests and defaults to the current date.
    """
    if document_type not in DOCUMENT_TYPE_LABELS:
        raise IdentityError("document_type", "证件类型无效")
    today = today or date.today()
    if document_type == "other":
        # Same canonical form as the blind index (app.crypto.normalise) so lookups agree.
        return _check_other(_compact(number, separators=""))
    if not _fold(number or ""):
        raise IdentityError("document_number", "请填写证件号码")
    if document_type == "passport":
        return _check_passport(_compact(number), nationality)
    compact = _compact(number)
    if document_type == "resident_id":
        return _check_resident_id(compact, today)
    if document_type == "hmt_permit":
        return _check_hmt_permit(compact, today)
    return _check_foreign_pr(compact, today)


# -- organisations and phones ---------------------------------------------------------------------

def check_uscc(code: str, *, field: str = "uscc") -> str:
    """Validate a 统一社会信用代码 (GB 32100) and return it canonical (18 upper-case characters)."""
    compact = _compact(code)
    if not compact:
        raise IdentityError(field, "请填写统一社会信用代码")
    if len(compact) != 18:
        raise IdentityError(field, "统一社会信用代码位数不对，应为18位")
    # Positions 1-2 are authority and entity type (letters such as N for 农业 are allowed, which
    # stdnum's validate() refuses); positions 3-8 are the region code, always digits.
    if any(c not in _USCC_ALPHABET for c in compact) or not compact[2:8].isdigit():
        raise IdentityError(field, "统一社会信用代码有误，只能是数字和大写字母，请逐位核对")
    if compact[17] != uscc.calc_check_digit(compact[:17]):
        raise IdentityError(field, "统一社会信用代码有误，请核对最后一位")
    return compact


def check_mobile(phone: str, *, field: str = "phone") -> str:
    """Validate a mainland mobile number (+86 / 86 prefixes, spaces and dashes allowed); return 11 digits."""
    compact = _compact(phone, separators=" -()")
    if compact.startswith("+86"):
        compact = compact[3:]
    elif compact.startswith("0086"):
        compact = compact[4:]
    elif compact.startswith("86") and len(compact) == 13:
        compact = compact[2:]
    if not _MOBILE.fullmatch(compact):
        raise IdentityError(field, "手机号码有误，应为11位数字，以1开头")
    return compact
