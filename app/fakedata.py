"""Seeded fake-but-valid identity data for the demo, the tests and the benchmarks.

Every value passes app.identity, so fake people flow through the real validation paths. The
values are made up: names are drawn from common characters, numbers are random with correct
check digits, and mobiles use the 154 segment, which is not allotted to subscribers, so a demo
never points at a real phone. The same seed always gives the same sequence.
"""
from __future__ import annotations

import random
from datetime import date, timedelta

from stdnum.cn import uscc as _uscc

from app.identity import HMT_REGIONS, MAX_AGE, age_on

# Xiamen districts first (the default deployment), then a spread of other provinces; each is a
# county code the region data knows.
XIAMEN_REGIONS = ("350203", "350205", "350206", "350211", "350212", "350213")
OTHER_REGIONS = (
    "350102", "350104", "350105", "350111", "350128", "350322", "350303", "350583",  # 福建
    "110101", "110105", "310115", "320102", "330106", "370102", "410105", "420102",
    "430102", "440305", "500103", "510104", "610113",
)
REGIONS = XIAMEN_REGIONS + OTHER_REGIONS
# Province codes where a foreigner's permanent-residence card may be accepted.
PR_PROVINCES = ("35", "11", "31", "44", "32", "33")
# (ISO 3166 alpha-3, numeric) of nationalities common among foreign residents.
NATIONALITIES = (
    ("USA", "840"), ("JPN", "392"), ("KOR", "410"), ("DEU", "276"), ("FRA", "250"),
    ("GBR", "826"), ("AUS", "036"), ("CAN", "124"), ("SGP", "702"), ("MYS", "458"),
    ("THA", "764"), ("VNM", "704"), ("RUS", "643"), ("IND", "356"), ("PHL", "608"),
)

SURNAMES = (
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡",
    "郭", "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
    "彭", "曾", "肖", "田", "董", "袁", "潘", "蔡", "蒋", "余", "杜", "叶", "程", "苏", "魏",
    "吕", "丁", "沈", "任", "姚", "卢", "傅", "钟", "姜", "崔", "谭", "廖", "范", "汪", "陆",
    "欧阳", "司马", "上官",
)
GIVEN_MALE = (
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华",
    "飞", "鑫", "波", "宇", "浩", "凯", "健", "俊", "帆", "帅", "旭", "宁", "龙", "林", "阳",
    "建", "国", "志", "文", "晨", "博", "昊", "然", "泽", "睿",
)
GIVEN_FEMALE = (
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "燕", "玲", "桂", "萍", "红", "梅", "莉",
    "婷", "雪", "琳", "慧", "颖", "倩", "洁", "佳", "欣", "怡", "晴", "悦", "琪", "璐", "雯",
    "秀", "英", "兰", "月", "薇", "彤", "诗", "梦", "思", "语",
)
COMPANY_CITIES = ("厦门", "厦门", "厦门", "福建", "泉州", "漳州")
COMPANY_WORDS = (
    "鹭岛", "海沧", "鼓浪", "嘉禾", "同心", "安达", "恒信", "华美", "远航", "鑫源", "宏达",
    "瑞丰", "明润", "博远", "天成", "万和", "启航", "乐业", "新港", "东海",
)
COMPANY_TRADES = (
    "电子科技", "物流", "餐饮管理", "服装", "建筑工程", "物业管理", "贸易", "机械制造",
    "食品", "装饰工程", "家政服务", "网络科技", "酒店管理", "汽车维修", "印刷",
)
COMPANY_FORMS = ("有限公司", "有限公司", "有限公司", "有限责任公司", "股份有限公司")
FOREIGN_GIVEN_MALE = (
    "James", "John", "Robert", "Michael", "David", "Thomas", "Daniel", "Paul", "Mark", "Kevin",
    "Hiroshi", "Minjun", "Lukas", "Pierre", "Ivan", "Arjun", "Carlos", "Ahmad",
)
FOREIGN_GIVEN_FEMALE = (
    "Mary", "Linda", "Susan", "Sarah", "Emma", "Anna", "Laura", "Sophie", "Julia", "Olivia",
    "Yuki", "Jiwoo", "Elena", "Priya", "Siti", "Maria", "Hana", "Claire",
)
FOREIGN_FAMILY = (
    "Smith", "Johnson", "Brown", "Taylor", "Miller", "Wilson", "Moore", "Anderson", "Martin",
    "Clark", "Tanaka", "Suzuki", "Kim", "Park", "Lee", "Schmidt", "Muller", "Dubois",
    "Bernard", "Ivanov", "Petrov", "Sharma", "Tran", "Santos", "Wong", "Tan", "Lim",
)
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# GB 11714 organisation-code weights: the 9th character of the organisation code checks the 8 before.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def _gb11643_check(first17: str) -> str:
    checksum = (1 - 2 * int(first17, 13)) % 11
    return "X" if checksum == 10 else str(checksum)


def _gb11714_check(body: str) -> str:
    total = sum(int(c, 36) * w for c, w in zip(body, _ORG_WEIGHTS))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


class FakeData:
    """A deterministic source of fake people, documents and companies: same seed, same values."""

    def __init__(self, seed: int = 0, today: date | None = None):
        self.random = random.Random(seed)
        # Fixed by the caller for reproducible birth-date clamping; the real date otherwise.
        self.today = today or date.today()

    # -- building blocks -------------------------------------------------------------------------

    def birth_date(self, year_range: tuple[int, int] = (1950, 2006)) -> date:
        """A birth date in the inclusive year range, never in the future nor older than MAX_AGE."""
        low = max(date(year_range[0], 1, 1), date(self.today.year - MAX_AGE + 1, 1, 1))
        high = min(date(year_range[1], 12, 31), self.today)
        if low > high:
            raise ValueError("birth year range has no valid dates")
        return low + timedelta(days=self.random.randrange((high - low).days + 1))

    def sex(self) -> str:
        """'M' or 'F' with equal odds."""
        return self.random.choice("MF")

    def _sequence(self, sex: str | None) -> str:
        """Three-digit sequence code whose last digit is odd for men and even for women."""
        sex = sex or self.sex()
        last = self.random.choice("13579" if sex == "M" else "02468")
        return f"{self.random.randrange(100):02d}{last}"

    def region_code(self, xiamen_share: float = 0.6) -> str:
        """A county code, Xiamen most of the time."""
        pool = XIAMEN_REGIONS if self.random.random() < xiamen_share else OTHER_REGIONS
        return self.random.choice(pool)

    def nationality(self) -> str:
        """A non-Chinese ISO 3166 alpha-3 nationality."""
        return self.random.choice(NATIONALITIES)[0]

    # -- documents -------------------------------------------------------------------------------

    def resident_id(self, region_code: str | None = None,
                    birth_year_range: tuple[int, int] = (1950, 2006), sex: str | None = None) -> str:
        """An 18-digit 居民身份证 number with a valid GB 11643 check digit."""
        region = region_code or self.region_code()
        born = self.birth_date(birth_year_range)
        first17 = f"{region}{born:%Y%m%d}{self._sequence(sex)}"
        return first17 + _gb11643_check(first17)

    def resident_id_15(self, region_code: str | None = None, sex: str | None = None) -> str:
        """A first-generation 15-digit number (born 19xx, no check digit) to exercise the upgrade."""
        region = region_code or self.region_code()
        born = self.birth_date((max(1935, self.today.year - MAX_AGE + 1), 1984))
        return f"{region}{born:%y%m%d}{self._sequence(sex)}"

    def hmt_permit(self, region_code: str | None = None, sex: str | None = None) -> str:
        """A 港澳台居民居住证 number: 810000/820000/830000 + birth date + sequence + check digit."""
        region = region_code or self.random.choice(tuple(HMT_REGIONS))
        born = self.birth_date((1950, 2006))
        first17 = f"{region}{born:%Y%m%d}{self._sequence(sex)}"
        return first17 + _gb11643_check(first17)

    def foreign_pr(self, nationality: str | None = None) -> str:
        """A 2023-format 外国人永久居留身份证 number: 9 + province + nationality + birth date + sequence + check."""
        numeric = dict(NATIONALITIES).get(nationality or "") or self.random.choice(NATIONALITIES)[1]
        born = self.birth_date((1950, 2006))
        first17 = (f"9{self.random.choice(PR_PROVINCES)}{numeric}{born:%Y%m%d}"
                   f"{self.random.randrange(1000):03d}")
        return first17 + _gb11643_check(first17)

    def passport(self, nationality: str | None = None) -> str:
        """A passport number: Chinese E/G format for CHN, a generic 9-character one otherwise."""
        if nationality == "CHN":
            if self.random.random() < 0.8:
                return "E" + "".join(self.random.choices("0123456789", k=8))
            return "G" + "".join(self.random.choices("0123456789", k=8))
        letters = "".join(self.random.choices("ABCDEFGHJKLMNPRSTUVWXYZ", k=self.random.choice((1, 2))))
        return letters + "".join(self.random.choices("0123456789", k=9 - len(letters)))

    def uscc(self, region_code: str | None = None, individual: bool = False) -> str:
        """A 统一社会信用代码 with valid GB 11714 (organisation code) and GB 32100 check characters."""
        region = region_code or self.region_code()
        entity = "92" if individual else "91"  # 9 = market regulator; 1 company, 2 个体工商户
        # Codes issued since 2015 carry "MA" plus a serial in the organisation-code part.
        body = "MA" + "".join(self.random.choices(_USCC_ALPHABET, k=6))
        first17 = f"{entity}{region}{body}{_gb11714_check(body)}"
        return first17 + _uscc.calc_check_digit(first17)

    def mobile(self) -> str:
        """An 11-digit mobile number in the unallotted 154 segment (valid format, nobody's phone)."""
        return "154" + "".join(self.random.choices("0123456789", k=8))

    # -- names -----------------------------------------------------------------------------------

    def name(self, sex: str | None = None) -> str:
        """A Chinese name: a common surname and one or two given-name characters."""
        pool = GIVEN_MALE if (sex or self.sex()) == "M" else GIVEN_FEMALE
        given_length = 1 if self.random.random() < 0.3 else 2
        return self.random.choice(SURNAMES) + "".join(self.random.choices(pool, k=given_length))

    def company_name(self) -> str:
        """A plausible company name, e.g. 厦门鹭岛物流有限公司."""
        return (self.random.choice(COMPANY_CITIES) + self.random.choice(COMPANY_WORDS)
                + self.random.choice(COMPANY_TRADES) + self.random.choice(COMPANY_FORMS))

    def foreign_name(self, sex: str | None = None) -> str:
        """A foreign name in Latin letters, given name first, e.g. "John Smith"."""
        pool = FOREIGN_GIVEN_MALE if (sex or self.sex()) == "M" else FOREIGN_GIVEN_FEMALE
        return f"{self.random.choice(pool)} {self.random.choice(FOREIGN_FAMILY)}"

    # -- whole people ----------------------------------------------------------------------------

    def person(self, document_type: str = "resident_id") -> dict:
        """The fields of a fake Person (plain values, not a model): name, sex, document, birth date, phone."""
        sex = self.sex()
        nationality = "CHN"
        if document_type == "resident_id":
            number = self.resident_id(sex=sex)
        elif document_type == "hmt_permit":
            number = self.hmt_permit(sex=sex)
        elif document_type == "foreign_pr":
            nationality = self.nationality()
            number = self.foreign_pr(nationality)
        elif document_type == "passport":
            nationality = self.nationality()
            number = self.passport(nationality)
        else:
            number = "QT" + "".join(self.random.choices("0123456789", k=10))
        name = self.name(sex) if nationality == "CHN" else self.foreign_name(sex)
        if document_type in ("resident_id", "hmt_permit", "foreign_pr"):
            # These numbers carry the birth date at the same place; keep the person consistent.
            born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        else:
            born = self.birth_date((1960, 2004))
        return {
            "name": name, "sex": sex, "document_type": document_type, "document_number": number,
            "birth_date": born, "nationality": nationality, "phone": self.mobile(),
            "age": age_on(born, self.today),
        }
