"""Console escalations: the area officer sees their own area's escalation tasks, each with the
landlord's reminder history, and closes them with an outcome."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.extensions import db as _db
from app.models import Alert, AuditLog, Reminder
from tests.console.helpers import login


def _escalate(area, summary: str) -> Alert:
    house = area.house
    for n, status in enumerate(("sent", "sent", "sent")):
        _db.session.add(Reminder(rule="house_undeclared", target_type="house", target_id=house.id,
                                 period_key=f"20261101-{n}", station_id=house.station_id,
                                 link=f"/h5/houses/{house.id}", status=status,
                                 sent_at=datetime(2026, 11, 1 + 7 * n, 4, 0),
                                 due_at=datetime(2026, 11, 1 + 7 * n, 4, 0)))
    alert = Alert(kind="reminder_unanswered", station_id=house.station_id,
                  police_area_id=house.police_area_id, object_type="house", object_id=house.id,
                  summary=summary)
    _db.session.add(alert)
    _db.session.commit()
    return alert


def test_officer_sees_own_area_escalations_with_the_landlords_reminder_history(as_officer, world):
    mine = _escalate(world.a, "出租房屋租客登记提醒已连续3次未处理（甲）")
    theirs = _escalate(world.b, "出租房屋租客登记提醒已连续3次未处理（乙）")

    page = as_officer.get("/console/escalations").get_data(as_text=True)
    assert "（甲）" in page and "（乙）" not in page and "提醒多次未处理" in page

    detail = as_officer.get(f"/console/escalations/{mine.id}")
    html = detail.get_data(as_text=True)
    assert detail.status_code == 200
    assert world.a.house.address.full_text in html
    assert html.count("data-reminder=") == 3 and "已送达" in html and "20261101-2" in html
    assert as_officer.get(f"/console/escalations/{theirs.id}").status_code == 404
    assert as_officer.get("/console/escalations?page=abc&status=x").status_code == 200


def test_officer_closes_an_escalation_with_an_outcome_and_it_is_audited(as_officer, world):
    alert = _escalate(world.a, "房东已取消关注公众号")
    assert as_officer.post(f"/console/escalations/{alert.id}/close",
                           data={"outcome": ""}).status_code == 400
    resp = as_officer.post(f"/console/escalations/{alert.id}/close",
                           data={"outcome": "已电话联系房东，当日补登租客"})
    assert resp.status_code == 302
    _db.session.expire_all()
    closed = _db.session.get(Alert, alert.id)
    assert closed.status == "closed" and closed.outcome == "已电话联系房东，当日补登租客"
    assert closed.closed_by_officer_id == world.officers["officer_a"].id
    assert _db.session.execute(select(AuditLog.action).where(
        AuditLog.object_type == "alert")).scalar_one() == "alert.close"
    assert "房东已取消关注公众号" not in as_officer.get("/console/escalations").get_data(as_text=True)


def test_other_area_officer_cannot_close_an_escalation(client, world):
    alert = _escalate(world.a, "房东已取消关注公众号")
    login(client, "officer_b")
    assert client.post(f"/console/escalations/{alert.id}/close",
                       data={"outcome": "越权"}).status_code == 404
    _db.session.expire_all()
    assert _db.session.get(Alert, alert.id).status == "open"
