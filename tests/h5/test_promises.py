"""What the pages promise happens: the old landlord is asked at once, every rejected declaration
can be corrected, a vacant house can be marked, a typed address reaches a station (issue 14)."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.fakedata import FakeData
from app.models import Declaration, House, Reminder, WeChatUser
from tests.factories import make_address, make_jurisdiction
from tests.h5.test_pages import get, house_form, sign_in
from wechat.sandbox import store

fake = FakeData(1414)


@pytest.fixture()
def no_quiet_hours(app):
    """Pushes go out whatever the wall clock says (quiet hours are tested in test_reminders)."""
    saved = app.config["REMINDER_QUIET_START"], app.config["REMINDER_QUIET_END"]
    app.config["REMINDER_QUIET_START"] = app.config["REMINDER_QUIET_END"] = "00:00"
    yield
    app.config["REMINDER_QUIET_START"], app.config["REMINDER_QUIET_END"] = saved


@pytest.fixture()
def place(db):
    place = make_jurisdiction()
    place["addresses"] = [make_address(place["community"]) for _ in range(3)]
    db.session.commit()
    return place


def register(client, db, address) -> House:
    client.post(f"/h5/a/{address.qr_token}/house", data=house_form(address))
    return db.session.execute(select(House).where(House.address_id == address.id)).scalar_one()


def move_in_form(person: dict, start: str | None = None) -> dict:
    return {"rows": "1", "tenants-0-name": person["name"], "tenants-0-document_type": "resident_id",
            "tenants-0-document_number": person["document_number"],
            "tenants-0-start_date": start or date.today().isoformat()}


def test_move_in_of_a_tenant_live_elsewhere_pushes_the_old_landlord_at_once(
        app, db, place, run_jobs, no_quiet_hours):
    old_client, new_client = app.test_client(), app.test_client()
    old_openid = sign_in(old_client, "原房东")
    sign_in(new_client, "新房东")
    old_house = register(old_client, db, place["addresses"][0])
    new_house = register(new_client, db, place["addresses"][1])
    person = {"name": fake.name(), "document_number": fake.resident_id()}
    old_client.post(f"/h5/houses/{old_house.id}/move-in", data=move_in_form(person))
    run_jobs()
    before = len(store.sent_messages(old_openid))

    receipt = new_client.post(f"/h5/houses/{new_house.id}/move-in", data=move_in_form(person),
                              follow_redirects=True)
    run_jobs()  # the validation job, then the push it queued after its commit: no sweep runs
    db.session.expire_all()
    declaration = db.session.execute(select(Declaration).where(
        Declaration.house_id == new_house.id, Declaration.kind == "move_in")).scalar_one()
    reminder = db.session.execute(select(Reminder).where(
        Reminder.rule == "move_out_confirm")).scalar_one()
    assert reminder.status == "sent" and reminder.sent_at is not None
    pushed = store.sent_messages(old_openid)  # newest first
    assert len(pushed) == before + 1 and "租客退租确认提醒" in str(pushed[0])
    # And the new landlord's page tells the truth, and an officer must look at it.
    page = get(new_client, f"/h5/declarations/{declaration.id}").get_data(as_text=True)
    assert "已请原房东确认退租" in page
    assert declaration.status == "needs_review"
    assert receipt.status_code == 200
