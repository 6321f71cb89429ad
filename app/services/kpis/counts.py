"""The six KPIs defined once (DESIGN §6, docs/KPIS.md) and counted from the models.

Each count is one GROUP BY on the finest area a row can be attributed to (station, police area,
community — some rows lack the finer ones), returning {(station, police area, community): [num,
den]}; `roll_up` adds them up to the level asked for."""
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import (
    Address, Alert, CaseCheck, ControlTask, House, Residence, SpotCheck, SpotCheckPerson, Station,
    utcnow,
)
from app.models.address import ADDRESS_LEVELS
from app.services.kpis.periods import Period


KPIS = ("address_labelling", "house_collection", "spot_check_registration",
        "pre_case_registration", "control_timeliness", "alert_handling")
KPI_LABELS = {
    "address_labelling": "地址标注率",
    "house_collection": "房屋采集率",
    "spot_check_registration": "抽查登记率",
    "pre_case_registration": "案前管控登记率",
    "control_timeliness": "五见四知",
    "alert_handling": "预警处置率",
}
TARGETS = {  # percent (DESIGN §6)
    "address_labelling": 100, "house_collection": 100, "spot_check_registration": 80,
    "pre_case_registration": 80, "control_timeliness": 100, "alert_handling": 100,
}
LEVELS = ("community", "police_area", "station", "branch")
LEVEL_LABELS = {"community": "社区", "police_area": "警务区", "station": "派出所", "branch": "分局"}
COLOUR_LABELS = {"green": "绿", "yellow": "黄", "red": "红", "none": "无数据"}
DEFAULT_PLATE_LEVELS = ("building", "room")
# The plan's 约谈 rule: spot-check registration under 80 %, monthly pre-case under 60 %.
CALL_IN_SPOT_CHECK_BELOW = Fraction(80, 100)
CALL_IN_PRE_CASE_BELOW = Fraction(60, 100)


def plate_levels_from(text: str | None) -> tuple[str, ...]:
    """"building,room" → ("building", "room"): the KPI_PLATE_LEVELS setting, unknown levels
    dropped, the default when nothing valid is left."""


    levels = tuple(sorted({p.strip() for p in (text or "").split(",")} & set(ADDRESS_LEVELS)))
    return levels or DEFAULT_PLATE_LEVELS


@dataclass(frozen=True)
class Figure:
    """One KPI for one area: numerator ÷ denominator; no denominator means no data."""

    numerator: int
    denominator: int

    @property
    def rate(self) -> Fraction | None:
        return Fraction(self.numerator, self.denominator) if self.denominator else None


def _rows_to_counts(rows) -> dict:
    counts: dict = defaultdict(lambda: [0, 0])
    for station_id, area_id, community_id, num, den in rows:
        slot = counts[(station_id, area_id, community_id)]
        slot[0] += int(num or 0)
        slot[1] += int(den or 0)
    return counts


def count_address_labelling(period: Period, plate_levels=DEFAULT_PLATE_LEVELS, communities=None,
                            **_) -> dict:
    """Active addresses of the plate-carrying levels existing by the period's end, and how many
    of them had a plate issued by then."""
    end = period.utc_end
    plated = case((and_(Address.plate_issued_at.is_not(None), Address.plate_issued_at < end), 1),
                  else_=0)
    stmt = (select(Address.station_id, Address.police_area_id, Address.community_id,
                   func.sum(plated), func.count())
            .where(Address.status == "active", Address.level.in_(tuple(plate_levels)),
                   Address.created_at < end)
            .group_by(Address.station_id, Address.police_area_id, Address.community_id))
    if communities is not None:
        stmt = stmt.where(Address.community_id.in_(sorted(communities)))
    return _rows_to_counts(db.session.execute(stmt))


def leaf_address_clause(end):
    """Active addresses existing by `end` with no active child existing by then."""
    child = aliased(Address)
    has_child = exists().where(child.parent_id == Address.id, child.status == "active",
                               child.created_at < end)
    return and_(Address.status == "active", Address.created_at < end, ~has_child)


def house_collected_clause(end):
    """The address has an active house record collected before `end`."""
    return exists().where(House.address_id == Address.id, House.status == "active",
                          House.collected_at < end)


def count_house_collection(period: Period, communities=None, **_) -> dict:
    """Active leaf addresses, and how many carry a house record collected by the period's end."""
    end = period.utc_end
    collected = case((house_collected_clause(end), 1), else_=0)
    stmt = (select(Address.station_id, Address.police_area_id, Address.community_id,
                   func.sum(collected), func.count())
            .where(leaf_address_clause(end))
            .group_by(Address.station_id, Address.police_area_id, Address.community_id))
    if communities is not None:
        stmt = stmt.where(Address.community_id.in_(sorted(communities)))
    return _rows_to_counts(db.session.execute(stmt))


def count_spot_check_registration(period: Period, **_) -> dict:
    """Persons found in spot checks done in the period, and how many were registered there
    before the check (SpotCheckPerson.was_registered as recorded at the check); by the house's
    address."""
    registered = case((SpotCheckPerson.was_registered.is_(True), 1), else_=0)
    stmt = (select(Address.station_id, Address.police_area_id, Address.community_id,
                   func.sum(registered), func.count(SpotCheckPerson.id))
            .join(SpotCheck, SpotCheck.id == SpotCheckPerson.spot_check_id)
            .join(House, House.id == SpotCheck.house_id)
            .join(Address, Address.id == House.address_id)
            .where(SpotCheck.checked_at >= period.utc_start, SpotCheck.checked_at < period.utc_end)
            .group_by(Address.station_id, Address.police_area_id, Address.community_id))
    return _rows_to_counts(db.session.execute(stmt))


def case_rows_clause(period):
    """Floating case-involved persons whose (local) case date lies in the period."""
    return and_(CaseCheck.is_floating.is_(True), CaseCheck.case_date >= period.start_date,
                CaseCheck.case_date < period.end_date)


def count_pre_case_registration(period: Period, fine: bool = True, **_) -> dict:
    """Floating case persons with a case date in the period, and how many were registered
    before the case; by the case's station, and below it by the residence covering the case
    date when that residence lies in the same station (else station and branch only)."""
    registered = case((CaseCheck.registered_before_case.is_(True), 1), else_=0)
    if not fine:
        stmt = (select(CaseCheck.station_id, func.sum(registered), func.count())
                .where(case_rows_clause(period)).group_by(CaseCheck.station_id))
        return _rows_to_counts((s, None, None, n, d) for s, n, d in db.session.execute(stmt))
    rows = db.session.execute(
        select(CaseCheck.station_id, CaseCheck.person_id, CaseCheck.case_date,
               CaseCheck.registered_before_case).where(case_rows_clause(period))).all()
    homes = residence_areas({(r.person_id, r.case_date) for r in rows if r.person_id})
    counts: dict = defaultdict(lambda: [0, 0])
    for row in rows:
        home = homes.get((row.person_id, row.case_date))
        key = (row.station_id, None, None)
        if home and home[0] == row.station_id:
            key = home
        counts[key][0] += 1 if row.registered_before_case else 0
        counts[key][1] += 1
    return counts


def residence_areas(person_days: set) -> dict:
    """(person id, day) → (station, police area, community) of the residence covering that day
    (the latest-starting one when several do)."""
    if not person_days:
        return {}
    person_ids = sorted({p for p, _ in person_days})
    found: dict = {}
    for i in range(0, len(person_ids), 1000):
        rows = db.session.execute(
            select(Residence.person_id, Residence.start_date, Residence.end_date,
                   Address.station_id, Address.police_area_id, Address.community_id)
            .join(House, House.id == Residence.house_id)
            .join(Address, Address.id == House.address_id)
            .where(Residence.person_id.in_(person_ids[i:i + 1000]))
            .order_by(Residence.start_date)).all()
        by_person = defaultdict(list)
        for r in rows:
            by_person[r.person_id].append(r)
        for person_id, day in person_days:
            for r in by_person.get(person_id, ()):
                if r.start_date <= day and (r.end_date is None or r.end_date >= day):
                    found[(person_id, day)] = (r.station_id, r.police_area_id, r.community_id)
    return found


def control_due_clause(period, as_of):
    """Control tasks due in the period: deadline in it, not cancelled, and either past their
    deadline at `as_of` or already done (an open task not yet due is not counted yet)."""
    return and_(ControlTask.deadline >= period.utc_start, ControlTask.deadline < period.utc_end,
                ControlTask.status != "cancelled",
                or_(ControlTask.deadline <= as_of, ControlTask.status == "done"))


def control_on_time_clause():
    return and_(ControlTask.status == "done", ControlTask.completed_at.is_not(None),
                ControlTask.completed_at <= ControlTask.deadline)


def count_control_timeliness(period: Period, as_of=None, **_) -> dict:
    """Control tasks due in the period, and how many were completed by their deadline; by the
    task's station and police area, and by the community of its house when it has one."""
    as_of = as_of or utcnow()
    on_time = case((control_on_time_clause(), 1), else_=0)
    stmt = (select(ControlTask.station_id, ControlTask.police_area_id, Address.community_id,
                   func.sum(on_time), func.count())
            .select_from(ControlTask)
            .outerjoin(House, House.id == ControlTask.house_id)
            .outerjoin(Address, Address.id == House.address_id)
            .where(control_due_clause(period, as_of))
            .group_by(ControlTask.station_id, ControlTask.police_area_id, Address.community_id))
    return _rows_to_counts(db.session.execute(stmt))


def count_alert_handling(period: Period, **_) -> dict:
    """Alerts raised in the period, and how many are closed; by station and police area (alerts
    carry no community)."""
    closed = case((Alert.status == "closed", 1), else_=0)
    stmt = (select(Alert.station_id, Alert.police_area_id, func.sum(closed), func.count())
            .where(Alert.raised_at >= period.utc_start, Alert.raised_at < period.utc_end)
            .group_by(Alert.station_id, Alert.police_area_id))
    return _rows_to_counts((s, a, None, n, d) for s, a, n, d in db.session.execute(stmt))


COUNTERS = {
    "address_labelling": count_address_labelling,
    "house_collection": count_house_collection,
    "spot_check_registration": count_spot_check_registration,
    "pre_case_registration": count_pre_case_registration,
    "control_timeliness": count_control_timeliness,
    "alert_handling": count_alert_handling,
}


def _station_branches() -> dict:
    return dict(db.session.execute(select(Station.id, Station.branch_id)).all())


def roll_up(counts: dict, level: str, station_branch: dict) -> dict:
    """{area id at `level`: Figure} from the finest-grain counts."""
    totals: dict = defaultdict(lambda: [0, 0])
    for (station_id, area_id, community_id), (num, den) in counts.items():
        key = {"station": station_id, "police_area": area_id, "community": community_id,
               "branch": station_branch.get(station_id)}[level]
        if key is None:
            continue
        totals[key][0] += num
        totals[key][1] += den
    return {k: Figure(n, d) for k, (n, d) in totals.items()}
