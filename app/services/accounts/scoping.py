"""The one query layer that limits every console query to the officer's area (DESIGN §8).

officer → own police area; station_admin → own station; branch_admin and system_admin → every
station of their branch. Every console list, detail, search, export and action goes through
these functions, so a template can never show what the query did not allow.
"""
from __future__ import annotations

from sqlalchemy import Select, false, or_, select

from app.extensions import db
from app.models import (
    Address, Alert, AuditLog, CaseCheck, CaseImport, Community, ControlTask, Declaration,
    House, MissedRegistration, Officer, OwnershipClaim, Penalty, Person, PoliceArea, Residence,
    SpotCheck, SpotCheckPlan, SpotCheckPlanItem, Station, Watch,
)
from app.services.errors import NotFound

BRANCH_ROLES = ("branch_admin", "system_admin")
ADMIN_ROLES = ("station_admin", "branch_admin", "system_admin")


def branch_station_ids(officer: Officer) -> list[int]:
    """The ids of every station in the officer's branch, as a list of values.

    A list, not a subquery: MariaDB turns `station_id IN (SELECT …)` into a semi-join that
    starts from the station table and then sorts every row of the branch (a city's million
    declarations) for a page of 50; with the values it reads the index in page order instead
    (bench/console.py, docs/PERFORMANCE.md)."""
    return list(db.session.execute(
        select(Station.id).where(Station.branch_id == officer.branch_id)).scalars())


def area_clause(officer: Officer, station_col, area_col):
    """WHERE clause limiting rows that carry station_id/police_area_id columns to the area."""
    if officer.role == "officer":
        return area_col == officer.police_area_id if officer.police_area_id else false()
    if officer.role == "station_admin":
        return station_col == officer.station_id if officer.station_id else false()
    if officer.role in BRANCH_ROLES:
        return station_col.in_(branch_station_ids(officer))
    return false()


def station_clause(officer: Officer, station_col):
    """WHERE clause for rows that belong to a station only (penalties): officers and station
    admins see their station's, branch roles every station of their branch."""
    if officer.role in ("officer", "station_admin"):
        return station_col == officer.station_id if officer.station_id else false()
    if officer.role in BRANCH_ROLES:
        return station_col.in_(branch_station_ids(officer))
    return false()


def scope_declarations(stmt: Select, officer: Officer) -> Select:
    """Limit a select over Declaration to the officer's area."""
    return stmt.where(area_clause(officer, Declaration.station_id, Declaration.police_area_id))


def scope_addresses(stmt: Select, officer: Officer) -> Select:
    """Limit a select over Address to the officer's area."""
    return stmt.where(area_clause(officer, Address.station_id, Address.police_area_id))


def scope_houses(stmt: Select, officer: Officer) -> Select:
    """Limit a select over House to the officer's area."""
    return stmt.where(area_clause(officer, House.station_id, House.police_area_id))


def scope_claims(stmt: Select, officer: Officer) -> Select:
    """Limit a select over OwnershipClaim to claims on houses and employers in the area."""
    return stmt.where(area_clause(officer, OwnershipClaim.station_id,
                                  OwnershipClaim.police_area_id))


def scope_communities(stmt: Select, officer: Officer) -> Select:
    """Limit a select over Community to the officer's area."""
    return stmt.where(area_clause(officer, Community.station_id, Community.police_area_id))


def scoped_house_ids(officer: Officer) -> Select:
    """Subquery: ids of the houses in the officer's area."""
    return scope_houses(select(House.id), officer)


def scope_residences(stmt: Select, officer: Officer) -> Select:
    """Limit a select over Residence to residences at houses in the officer's area."""
    return stmt.where(Residence.house_id.in_(scoped_house_ids(officer)))


def scope_persons(stmt: Select, officer: Officer) -> Select:
    """Limit a select over Person to people who live or lived in, or own, a house in the area."""
    houses = scoped_house_ids(officer)
    resident = select(Residence.person_id).where(Residence.house_id.in_(houses))
    owner = scope_houses(select(House.owner_person_id), officer).where(
        House.owner_person_id.is_not(None))
    agent = scope_houses(select(House.agent_person_id), officer).where(
        House.agent_person_id.is_not(None))
    return stmt.where(or_(Person.id.in_(resident), Person.id.in_(owner), Person.id.in_(agent)))


def scope_officers(stmt: Select, officer: Officer) -> Select:
    """Officer accounts an administrator may see: system admins the whole branch, no one else."""
    if officer.role != "system_admin":
        return stmt.where(false())
    return stmt.where(Officer.branch_id == officer.branch_id)


def scope_audit(stmt: Select, officer: Officer) -> Select:
    """Audit rows an administrator may read: the branch for branch roles, the station's officers
    for a station admin; plain officers read none."""
    if officer.role in BRANCH_ROLES:
        actors = select(Officer.id).where(Officer.branch_id == officer.branch_id)
    elif officer.role == "station_admin" and officer.station_id:
        actors = select(Officer.id).where(Officer.station_id == officer.station_id)
    else:
        return stmt.where(false())
    return stmt.where(AuditLog.actor_type == "officer", AuditLog.actor_id.in_(actors))


def scope_stations(stmt: Select, officer: Officer) -> Select:
    """Limit a select over Station to those the officer works in."""
    if officer.role == "officer":
        area = select(PoliceArea.station_id).where(PoliceArea.id == officer.police_area_id)
        return stmt.where(Station.id.in_(area))
    if officer.role == "station_admin":
        return stmt.where(Station.id == officer.station_id)
    return stmt.where(Station.branch_id == officer.branch_id)


def scope_police_areas(stmt: Select, officer: Officer) -> Select:
    """Limit a select over PoliceArea to those the officer works in."""
    if officer.role == "officer":
        return stmt.where(PoliceArea.id == officer.police_area_id)
    if officer.role == "station_admin":
        return stmt.where(PoliceArea.station_id == officer.station_id)
    return stmt.where(PoliceArea.station_id.in_(branch_station_ids(officer)))


def scope_control_tasks(stmt: Select, officer: Officer) -> Select:
    """Limit a select over ControlTask to tasks in the officer's area (an officer: own area)."""
    return stmt.where(area_clause(officer, ControlTask.station_id, ControlTask.police_area_id))


def scope_alerts(stmt: Select, officer: Officer) -> Select:
    """Limit a select over Alert to alerts raised in the officer's area."""
    return stmt.where(area_clause(officer, Alert.station_id, Alert.police_area_id))


def scope_watches(stmt: Select, officer: Officer) -> Select:
    """The watch list (关注人员) is seen whole by station admins and above; a plain officer sees
    only the listed persons behind a control task in the officer's own area (docs/CONSOLE.md)."""
    if officer.role in ADMIN_ROLES:
        return stmt
    own = scope_control_tasks(select(ControlTask.watch_id), officer)
    return stmt.where(Watch.id.in_(own))


def scope_spot_checks(stmt: Select, officer: Officer) -> Select:
    """Limit a select over SpotCheck to checks at houses in the officer's area."""
    return stmt.where(SpotCheck.house_id.in_(scoped_house_ids(officer)))


def scope_spot_check_plans(stmt: Select, officer: Officer) -> Select:
    """Limit a select over SpotCheckPlan to plans of the officer's station (admins) or, for a
    plain officer, plans with a house assigned to that officer."""
    if officer.role == "officer":
        mine = select(SpotCheckPlanItem.plan_id).where(SpotCheckPlanItem.officer_id == officer.id)
        return stmt.where(SpotCheckPlan.id.in_(mine))
    return stmt.where(area_clause(officer, SpotCheckPlan.station_id, SpotCheckPlan.station_id))


def scope_spot_check_plan_items(stmt: Select, officer: Officer) -> Select:
    """Limit a select over SpotCheckPlanItem to sampled houses in the officer's area."""
    return stmt.where(area_clause(officer, SpotCheckPlanItem.station_id,
                                  SpotCheckPlanItem.police_area_id))


def scope_case_checks(stmt: Select, officer: Officer) -> Select:
    """Limit a select over CaseCheck to cases of the officer's station (an officer: the station
    of the officer's police area, as the KPI drill-down shows them)."""
    if officer.role == "officer":
        return stmt.where(CaseCheck.station_id == (officer.station_id or -1))
    return stmt.where(area_clause(officer, CaseCheck.station_id, CaseCheck.station_id))


def scope_penalties(stmt: Select, officer: Officer) -> Select:
    """Limit a select over Penalty to the penalties decided in the officer's station."""
    return stmt.where(station_clause(officer, Penalty.station_id))


def scope_missed(stmt: Select, officer: Officer) -> Select:
    """Limit a select over MissedRegistration (漏登) to the officer's area: the station for
    admins; for an officer, misses at a house of the own police area, or not yet placed at any
    house, in the own station."""
    if officer.role != "officer":
        return stmt.where(area_clause(officer, MissedRegistration.station_id,
                                      MissedRegistration.station_id))
    return stmt.where(or_(
        MissedRegistration.house_id.in_(scoped_house_ids(officer)),
        (MissedRegistration.house_id.is_(None))
        & (MissedRegistration.station_id == (officer.station_id or -1))))


def scope_case_imports(stmt: Select, officer: Officer) -> Select:
    """Case imports (案前比对导入) an administrator may follow: the own uploads for a station
    admin, every upload of the branch's officers (and the CLI's) for branch roles."""
    if officer.role in BRANCH_ROLES:
        branch = select(Officer.id).where(Officer.branch_id == officer.branch_id)
        return stmt.where(or_(CaseImport.officer_id.in_(branch), CaseImport.officer_id.is_(None)))
    if officer.role == "station_admin":
        return stmt.where(CaseImport.officer_id == officer.id)
    return stmt.where(false())


_SCOPES = {
    CaseImport: scope_case_imports,
    CaseCheck: scope_case_checks,
    Penalty: scope_penalties,
    MissedRegistration: scope_missed,
    SpotCheck: scope_spot_checks,
    SpotCheckPlan: scope_spot_check_plans,
    SpotCheckPlanItem: scope_spot_check_plan_items,
    ControlTask: scope_control_tasks,
    Alert: scope_alerts,
    Watch: scope_watches,
    Declaration: scope_declarations,
    Address: scope_addresses,
    House: scope_houses,
    OwnershipClaim: scope_claims,
    Community: scope_communities,
    Person: scope_persons,
    Residence: scope_residences,
    Officer: scope_officers,
    Station: scope_stations,
    PoliceArea: scope_police_areas,
}


def scope(model, stmt: Select, officer: Officer) -> Select:
    """Apply the scope belonging to model; models without one are refused outright."""
    try:
        return _SCOPES[model](stmt, officer)
    except KeyError:
        raise LookupError(f"no console scope for {model.__name__}") from None


def scoped_get(model, object_id, officer: Officer, *, for_update: bool = False):
    """The object with this id if it lies in the officer's area; 404 (never 403) otherwise,
    so another area's ids cannot even be probed."""
    try:
        object_id = int(object_id)
    except (TypeError, ValueError):
        raise NotFound() from None
    stmt = scope(model, select(model).where(model.id == object_id), officer)
    if for_update:
        stmt = stmt.with_for_update()
    found = db.session.execute(stmt).scalar_one_or_none()
    if found is None:
        raise NotFound()
    return found


def scoped_ids(model, ids, officer: Officer) -> list[int]:
    """Those of the given ids whose objects lie in the officer's area."""
    clean = {int(i) for i in ids if str(i).isdigit()}
    if not clean:
        return []
    stmt = scope(model, select(model.id).where(model.id.in_(clean)), officer)
    return sorted(db.session.execute(stmt).scalars())


def all_scoped_ids(model, ids, officer: Officer) -> list[int]:
    """The given ids when every one lies in the officer's area; 404 for the whole request when
    any does not (as scoped_get)."""
    scoped = scoped_ids(model, ids, officer)
    if len(scoped) != len({i for i in ids if str(i).isdigit()}):
        raise NotFound()
    return scoped
