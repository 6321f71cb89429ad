"""The legal basis of a penalty (处罚依据), chosen by the offence date from a dated table of laws.

The table is data (app/data/legal_bases.json), not code: the row with the latest
`effective_from` on or before the offence date applies, so a future revision is one more row.
Each row names the article, quotes its text (or only its penalty clause, as `text_scope` says)
and gives the fine range, and for a revision that has one, what minor circumstances (情节较轻)
allow: a warning (警告) or a fine up to a lower maximum. Bounds include the number itself
(以上、以下包括本数).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache

from app.services.errors import RuleError

TABLE_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
                          "data", "legal_bases.json")
KIND_LABELS = {"fine": "罚款", "warning": "警告"}


@dataclass(frozen=True)
class AmountRange:
    low: Decimal
    high: Decimal

    def label(self) -> str:
        """"500元以上1,000元以下"; a range from the smallest amount reads "500元以下"."""
        if self.low <= Decimal("0.01"):
            return f"{yuan(self.high)}元以下"
        return f"{yuan(self.low)}元以上{yuan(self.high)}元以下"


@dataclass(frozen=True)
class LegalBasis:
    key: str
    law: str
    edition: str
    article: str
    short: str
    effective_from: date
    text_scope: str
    text: str
    fine: AmountRange
    minor_fine: AmountRange | None  # None: the article knows no minor-circumstances clause
    minor_warning: bool

    @property
    def citation(self) -> str:
        """《中华人民共和国治安管理处罚法》（2025年修订）第六十八条"""
        return f"《{self.law}》（{self.edition}）{self.article}"

    def penalty_rule(self) -> str:
        """What the article allows, in one Chinese sentence (shown on the form and the record)."""
        rule = f"处{self.fine.label()}罚款"
        if self.minor_fine is not None or self.minor_warning:
            options = (["警告"] if self.minor_warning else []) + (
                [f"{self.minor_fine.label()}罚款"] if self.minor_fine else [])
            rule += f"；情节较轻的，处{'或者'.join(options)}"
        return rule


def yuan(amount: Decimal) -> str:
    """500 → "500", 200.50 → "200.50"."""
    return f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"


def _range(raw: dict) -> AmountRange:
    low, high = Decimal(raw["min"]), Decimal(raw["max"])
    if not 0 <= low <= high:
        raise ValueError(f"bad amount range {raw}")
    return AmountRange(low, high)


def parse_table(raw: dict) -> tuple[LegalBasis, ...]:
    """The rows of a table file, oldest first; a malformed table raises ValueError."""
    try:
        return _parse_rows(raw["bases"])
    except (KeyError, TypeError, ArithmeticError) as exc:
        raise ValueError(f"malformed legal-basis table: {exc!r}") from exc


def _parse_rows(items: list) -> tuple[LegalBasis, ...]:
    rows = []
    for item in items:
        minor = item.get("minor") or None
        rows.append(LegalBasis(
            key=item["key"], law=item["law"], edition=item["edition"], article=item["article"],
            short=item["short"], effective_from=date.fromisoformat(item["effective_from"]),
            text_scope=item["text_scope"], text=item["text"], fine=_range(item["fine"]),
            minor_fine=_range(minor) if minor and "max" in minor else None,
            minor_warning=bool(minor and minor.get("warning"))))
        if len(rows[-1].short) > 64 or len(rows[-1].key) > 32:
            raise ValueError(f"legal basis {item['key']}: key or short name too long")
    rows.sort(key=lambda b: b.effective_from)
    if not rows or len({b.effective_from for b in rows}) != len(rows):
        raise ValueError("the legal-basis table needs rows with distinct effective dates")
    return tuple(rows)


@cache
def table() -> tuple[LegalBasis, ...]:
    """The table of laws, read once per process (the factory reads it at start-up, so a broken
    file stops the app from starting instead of failing a penalty later)."""
    with open(TABLE_FILE, encoding="utf-8") as fh:
        return parse_table(json.load(fh))


def by_key(key: str) -> LegalBasis | None:
    """The row with this key (a recorded penalty names its row)."""
    return next((b for b in table() if b.key == key), None)


def basis_for(offence_date: date, rows: tuple[LegalBasis, ...] | None = None) -> LegalBasis:
    """The law in force on the offence date: the latest row effective on or before it."""
    applicable = [b for b in (rows or table()) if b.effective_from <= offence_date]
    if not applicable:
        first = (rows or table())[0].effective_from
        raise RuleError("offence_date", f"违法行为发生日期早于{first.year}年{first.month}月"
                                        f"{first.day}日，本系统没有可适用的处罚依据")
    return applicable[-1]


def parse_amount(value) -> Decimal | None:
    """A yuan amount from a form or JSON (None when empty); bad text is a Chinese error."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise RuleError("amount_yuan", "罚款金额应为数字（元），如 500") from None
    if not amount.is_finite():
        raise RuleError("amount_yuan", "罚款金额应为数字（元），如 500")
    if amount != amount.quantize(Decimal("0.01")):
        raise RuleError("amount_yuan", "罚款金额最多保留两位小数")
    return amount.quantize(Decimal("0.01"))


def check_sanction(basis: LegalBasis, kind: str, amount: Decimal | None,
                   minor: bool) -> Decimal | None:
    """Refuse a sanction the article does not allow, naming the field; the amount to record."""
    if kind not in KIND_LABELS:
        raise RuleError("kind", "处罚种类应为：罚款、警告")
    if minor and basis.minor_fine is None and not basis.minor_warning:
        raise RuleError("minor", f"{basis.citation}没有“情节较轻”的规定，请按{basis.fine.label()}"
                                 "罚款处罚")
    if kind == "warning":
        if not (minor and basis.minor_warning):
            raise RuleError("kind", f"依{basis.citation}，只有情节较轻的才可以处警告")
        if amount is not None:
            raise RuleError("amount_yuan", "处警告时不填写罚款金额")
        return None
    allowed = basis.minor_fine if minor and basis.minor_fine is not None else basis.fine
    if amount is None:
        raise RuleError("amount_yuan", f"请填写罚款金额（{allowed.label()}）")
    if not allowed.low <= amount <= allowed.high:
        when = "情节较轻的，" if allowed is not basis.fine else ""
        raise RuleError("amount_yuan", f"罚款金额超出法定幅度：依{basis.citation}，{when}"
                                       f"应为{allowed.label()}")
    return amount
