"""Colour thresholds per KPI (green ≥ 80 %, yellow 60–80 %, red < 60 % by default), versioned."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from sqlalchemy import func, select

from app.extensions import db
from app.models import KpiThreshold
from app.services.errors import RuleError
from app.services.kpis.counts import KPIS

DEFAULT_GREEN = Decimal("80")
DEFAULT_YELLOW = Decimal("60")


@dataclass
class Thresholds:
    """{kpi: (green_min, yellow_min, version id or None)} in percent."""

    by_kpi: dict = field(default_factory=dict)

    def bounds(self, kpi: str) -> tuple[Decimal, Decimal]:
        green, yellow, _ = self.by_kpi.get(kpi, (DEFAULT_GREEN, DEFAULT_YELLOW, None))
        return green, yellow

    def colour(self, kpi: str, rate: Fraction | None) -> str:
        """green / yellow / red by the exact rate; "none" when there is no data."""
        if rate is None:
            return "none"
        green, yellow = self.bounds(kpi)
        percent = rate * 100
        if percent >= Fraction(green):
            return "green"
        if percent >= Fraction(yellow):
            return "yellow"
        return "red"

    def as_json(self) -> dict:
        out = {}
        for kpi in KPIS:
            green, yellow = self.bounds(kpi)
            version = self.by_kpi.get(kpi, (None, None, None))[2]
            out[kpi] = {"green_min": _plain(green), "yellow_min": _plain(yellow),
                        "version": version}
        return out

    @classmethod
    def from_json(cls, data: dict) -> "Thresholds":
        return cls({k: (Decimal(v["green_min"]), Decimal(v["yellow_min"]), v.get("version"))
                    for k, v in (data or {}).items()})


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def current_thresholds() -> Thresholds:
    """The newest version of each KPI's thresholds (defaults where none was ever set)."""
    newest = (select(KpiThreshold.kpi, func.max(KpiThreshold.id).label("id"))
              .group_by(KpiThreshold.kpi).subquery())
    rows = db.session.execute(select(KpiThreshold).join(newest, newest.c.id == KpiThreshold.id)
                              ).scalars()
    return Thresholds({r.kpi: (Decimal(r.green_min), Decimal(r.yellow_min), r.id) for r in rows})


def set_thresholds(kpi: str, green_min, yellow_min, officer) -> KpiThreshold:
    """Add a new version of one KPI's thresholds (branch admins only); earlier versions stay."""
    if officer.role not in ("branch_admin", "system_admin"):
        raise RuleError("kpi", "只有分局管理员可以修改预警阈值")
    if kpi not in KPIS:
        raise RuleError("kpi", "没有这个指标")
    try:
        green, yellow = Decimal(str(green_min).strip()), Decimal(str(yellow_min).strip())
    except (InvalidOperation, ValueError):
        raise RuleError("green_min", "阈值应为 0 到 100 之间的数字") from None
    if not (green.is_finite() and yellow.is_finite()):
        raise RuleError("green_min", "阈值应为 0 到 100 之间的数字")
    if not (Decimal(0) <= yellow <= green <= Decimal(100)):
        raise RuleError("green_min", "阈值应满足 0 ≤ 黄色下限 ≤ 绿色下限 ≤ 100")
    if green.as_tuple().exponent < -2 or yellow.as_tuple().exponent < -2:
        raise RuleError("green_min", "阈值最多保留两位小数")
    row = KpiThreshold(kpi=kpi, green_min=green, yellow_min=yellow,
                       created_by_officer_id=officer.id)
    db.session.add(row)
    db.session.flush()
    return row
