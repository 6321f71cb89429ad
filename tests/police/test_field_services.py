"""Police field-work rules: control tasks on a watch hit (on listing and on a declaration),
deadlines, on-time, moved-away closing, overdue → one alert, alert closing and the rate."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.fakedata import FakeData
from app.models import Alert, ControlTask, Residence, utcnow
from app.services.declarations import declare, rentals
from app.services.police.checklist import active_templates, save_version
from app.services.errors import RuleError
from app.services.police import alerts, tasks, watch
from app.services.declarations.validation import public_reasons
from tests.console.helpers import DOCUMENTS

NOW = datetime(2026, 11, 27, 2, 0)
NEW_NUMBER = FakeData(1101).resident_id()


def listed(world, **over):
    values = dict(document_type="居民身份证", document_number=DOCUMENTS["A"], name="A租客甲",
                  category="重点人员", source="市局下发", now=NOW)
    values.update(over)
    return watch.list_person(**values)


def test_listing_a_person_who_lives_here_opens_a_task_per_template_in_the_area(world):
    entry, created = listed(world)
    db.session.commit()
    assert [t.template.name for t in created] == ["五见", "四知"]
    for task in created:
        assert task.person_id == world.a.person.id and task.house_id == world.a.house.id
        assert task.police_area_id == world.a.jurisdiction["police_area"].id
    alert = db.session.execute(select(Alert)).scalar_one()
    assert alert.kind == "watch_hit" and alert.police_area_id == task.police_area_id
    assert alert.owner_officer_id == world.officers["officer_a"].id
    assert alert.due_at == NOW + timedelta(days=3)


def test_the_document_number_is_kept_only_as_a_blind_index(app, world):
    from tests.conftest import raw_dump

    entry, _ = listed(world)
    db.session.commit()
    assert entry.document_blind_index and DOCUMENTS["A"] not in raw_dump(app)


def test_listing_again_opens_nothing_new(world):
    listed(world)
    again, created = listed(world)
    assert created == []
    assert db.session.query(ControlTask).count() == 2


def test_deadlines_come_from_each_template_item(world):
    five = active_templates()[0]
    save_version(five, [{"key": "see_person", "label": "见人", "deadline_days": "2"},
                        {"key": "see_document", "label": "见证件", "deadline_days": "10"}])
    _, created = listed(world)
    task = created[0]
    assert [i["deadline"] for i in task.checklist] == [
        (NOW + timedelta(days=2)).isoformat(), (NOW + timedelta(days=10)).isoformat()]
    assert task.deadline == NOW + timedelta(days=10)
    assert task.template.version == 2


def test_editing_a_template_keeps_the_version_each_task_was_made_with(world):
    _, created = listed(world)
    old = created[0].template
    new = save_version(old, [{"label": "见人", "deadline_days": "3"}])
    db.session.commit()
    assert (old.version, new.version, old.is_active, new.is_active) == (1, 2, False, True)
    assert created[0].template_id == old.id and len(created[0].checklist) == 5


def test_template_items_need_a_label_and_a_deadline_in_days(world):
    five = active_templates()[0]
    with pytest.raises(RuleError) as exc:
        save_version(five, [{"label": "见人", "deadline_days": "0"}])
    assert exc.value.message == "时限应为 1 到 365 天"


def _complete_all(task, officer, when):
    for item in task.checklist:
        tasks.complete_item(task, item["key"], officer, lat=24.48, lng=118.09, now=when)


def test_a_task_done_before_every_deadline_is_on_time(world):
    _, created = listed(world)
    officer = world.officers["officer_a"]
    _complete_all(created[0], officer, NOW + timedelta(days=1))
    assert created[0].status == "done" and tasks.is_on_time(created[0])
    item = created[0].checklist[0]
    assert (item["officer_id"], item["lat"], item["lng"]) == (officer.id, 24.48, 118.09)


def test_one_item_after_its_deadline_makes_the_task_late(world):
    _, created = listed(world)
    task, officer = created[0], world.officers["officer_a"]
    first, *rest = task.checklist
    tasks.complete_item(task, first["key"], officer, no_gps_reason="室内无信号",
                        now=NOW + timedelta(days=8))
    for item in rest:
        tasks.complete_item(task, item["key"], officer, lat=1, lng=2, now=NOW + timedelta(days=1))
    assert task.status == "done" and not tasks.is_on_time(task)
    assert task.checklist[0]["no_gps_reason"] == "室内无信号"


def test_an_item_without_gps_needs_a_reason(world):
    _, created = listed(world)
    with pytest.raises(RuleError) as exc:
        tasks.complete_item(created[0], "see_person", world.officers["officer_a"], now=NOW)
    assert exc.value.field == "no_gps_reason"


def test_an_item_cannot_be_completed_twice(world):
    _, created = listed(world)
    officer = world.officers["officer_a"]
    tasks.complete_item(created[0], "see_person", officer, lat=1, lng=2, now=NOW)
    with pytest.raises(tasks.TaskConflict):
        tasks.complete_item(created[0], "see_person", officer, lat=1, lng=2, now=NOW)


def test_overdue_items_raise_one_alert_for_the_station_admin_once(world):
    _, created = listed(world)
    db.session.commit()
    late = NOW + timedelta(days=8)
    assert tasks.sweep_overdue(late) == 2
    assert tasks.sweep_overdue(late) == 0
    overdue = db.session.execute(select(Alert).where(Alert.kind == "control_overdue")).scalars()
    overdue = list(overdue)
    assert {a.owner_officer_id for a in overdue} == {world.officers["station_admin_a"].id}
    alerts.close_alert(overdue[0], world.officers["station_admin_a"], "handled", "已督促民警",
                       now=late)
    assert tasks.sweep_overdue(late + timedelta(days=1)) == 0  # closed is not raised again


def test_nothing_is_overdue_before_the_deadline(world):
    listed(world)
    assert tasks.sweep_overdue(NOW + timedelta(days=6)) == 0


def test_leaving_the_district_closes_open_tasks_as_moved_away(world, run_jobs):
    _, created = listed(world)
    db.session.commit()
    decl = rentals.declare_move_out(declare.Submitter(role="landlord"), world.a.house,
                                     [world.a.residence.id], date(2026, 11, 26),
                                     today=date(2026, 11, 27))
    db.session.commit()
    run_jobs()
    for task in created:
        db.session.refresh(task)
        assert task.status == "moved_away" and "已迁出辖区" in task.closed_reason
    assert decl.id


def test_moving_within_the_district_keeps_tasks_open(world):
    _, created = listed(world)
    db.session.add(Residence(person_id=world.a.person.id, house_id=world.b.house.id,
                             start_date=date(2026, 11, 1), declared_by="landlord",
                             status="active", active_slot=1))
    db.session.flush()
    assert tasks.close_moved_away(world.a.person.id) == []
    assert {t.status for t in created} == {"open"}


def test_moved_away_records_where_to_when_known(world):
    _, created = listed(world)
    world.a.residence.end(date(2026, 11, 26))
    tasks.close_moved_away(world.a.person.id, moved_to="福建省泉州市")
    assert created[0].closed_reason == "已迁出辖区，去向：福建省泉州市"


def test_delisting_needs_a_reason_and_cancels_open_tasks(world):
    entry, created = listed(world)
    with pytest.raises(RuleError):
        watch.delist(entry, "  ")
    assert watch.delist(entry, "已解除管控") == 2
    assert {t.status for t in created} == {"cancelled"}


def test_a_new_declaration_of_a_listed_person_waits_for_review_silently(world, run_jobs):
    listed(world, document_number=NEW_NUMBER, name="新租客")
    db.session.commit()
    decl = rentals.declare_move_in(
        declare.Submitter(role="landlord"), world.b.house,
        [{"name": "新租客", "document_type": "resident_id",
          "document_number": NEW_NUMBER, "start_date": date(2026, 11, 20)}],
        today=date(2026, 11, 27), now=NOW)
    db.session.commit()
    run_jobs()
    db.session.refresh(decl)
    assert decl.status == "needs_review" and public_reasons(decl) == []
    created = db.session.execute(select(ControlTask)).scalars().all()
    assert len(created) == 2 and {t.station_id for t in created} == {world.b.house.station_id}


def test_alert_close_needs_an_outcome_and_a_note(world):
    listed(world)
    alert = db.session.execute(select(Alert)).scalar_one()
    officer = world.officers["officer_a"]
    with pytest.raises(RuleError):
        alerts.close_alert(alert, officer, "nonsense", "x")
    with pytest.raises(RuleError):
        alerts.close_alert(alert, officer, "handled", "")
    alerts.close_alert(alert, officer, "verified_on_site", "已上门见到本人", now=NOW)
    assert (alert.status, alert.outcome, alert.close_note) == ("closed", "已上门核实", "已上门见到本人")
    with pytest.raises(alerts.AlertClosed):
        alerts.close_alert(alert, officer, "handled", "again")


def test_handling_rate_is_closed_over_raised_and_no_data_when_none(world):
    area = world.a.jurisdiction["police_area"].id
    start, end = NOW - timedelta(days=1), NOW + timedelta(days=1)
    assert alerts.handling_rate(start, end, police_area_id=area).rate is None
    listed(world)
    alerts.raise_alert("unreachable_landlord", "house", world.a.house.id,
                       station_id=world.a.house.station_id, summary="x", now=NOW)
    first = db.session.execute(select(Alert).order_by(Alert.id)).scalars().first()
    alerts.close_alert(first, world.officers["officer_a"], "handled", "ok", now=NOW)
    rate = alerts.handling_rate(start, end, police_area_id=area)
    assert (rate.raised, rate.closed, rate.rate) == (2, 1, 0.5)
    assert utcnow()


def test_the_periodic_sweep_job_is_scheduled_and_raises_once(world):
    from workers.police_jobs import sweep_control_tasks
    from workers.schedule import PERIODIC_JOBS

    assert sweep_control_tasks in [job for job, *_ in PERIODIC_JOBS]
    listed(world)
    db.session.commit()
    late = (NOW + timedelta(days=8)).isoformat()
    assert sweep_control_tasks(late) == 2
    assert sweep_control_tasks(late) == 0


def test_a_listed_owner_registering_a_house_gets_review_but_no_task(world, run_jobs):
    from tests.factories import make_address

    listed(world, document_number=NEW_NUMBER, name="房主乙")
    db.session.commit()
    address = make_address(world.b.jurisdiction["community"])
    decl = rentals.register_house(
        declare.Submitter(role="landlord"), address, rental_type="whole", rooms=2,
        owner={"name": "房主乙", "document_type": "resident_id", "document_number": NEW_NUMBER})
    db.session.commit()
    run_jobs()
    db.session.refresh(decl)
    assert decl.status == "needs_review" and public_reasons(decl) == []
    assert db.session.query(ControlTask).count() == 0
