"""Item 10: times are stored UTC and shown in Asia/Shanghai as 2026年12月1日 23:04 everywhere."""
from __future__ import annotations

from datetime import date, datetime

from app import formatting
from app.formatting import lateness, local_date, local_datetime, local_today
from app.models import WeChatUser
from app.services.reminders import notifications
from tests.console.helpers import login, make_declaration
from wechat.sandbox import store

LATE_EVENING_UTC = datetime(2026, 12, 1, 15, 30)  # 23:30 in Beijing, same day


def test_a_utc_time_is_shown_as_beijing_wall_clock_in_chinese_form():
    assert local_datetime(LATE_EVENING_UTC) == "2026年12月1日 23:30"
    # 16:04 UTC is already the next day in Beijing.
    assert local_datetime(datetime(2026, 12, 1, 16, 4)) == "2026年12月2日 00:04"
    assert local_date(datetime(2026, 12, 1, 16, 4)) == "2026年12月2日"
    assert local_date(date(2026, 3, 9)) == local_date("2026-03-09") == "2026年3月9日"
    assert local_datetime(None) == "" and local_date(None) == ""


def test_today_is_the_beijing_date_even_when_utc_is_still_yesterday(monkeypatch):
    monkeypatch.setattr(formatting, "local_now", lambda: formatting.to_local(
        datetime(2026, 12, 1, 16, 30)))
    assert local_today() == date(2026, 12, 2)


def test_lateness_is_said_in_days_and_hours():
    assert lateness(48) == "2天" and lateness(50) == "2天2小时" and lateness(5) == "5小时"
    assert lateness(None) == "" and lateness(0) == ""


def test_receipt_shows_the_submission_time_in_beijing_time(client, world):
    d = make_declaration(world.a.address, "verified", created_at=LATE_EVENING_UTC)
    d.receipt_code = "KQWT2345"  # the receipt page accepts codes of the receipt alphabet only
    world_db_commit()
    html = client.get(f"/r/{d.receipt_code}").get_data(as_text=True)
    assert "2026年12月1日 23:30" in html and "UTC" not in html and "15:30" not in html


def test_console_declaration_page_shows_beijing_time(client, world):
    d = make_declaration(world.a.address, "needs_review", created_at=LATE_EVENING_UTC)
    world_db_commit()
    login(client, "officer_a")
    html = client.get(f"/console/declarations/{d.id}").get_data(as_text=True)
    assert "2026年12月1日 23:30" in html and "15:30" not in html
    queue = client.get("/console/declarations").get_data(as_text=True)
    assert "2026年12月1日 23:30" in queue


def test_push_text_carries_the_beijing_time_and_opens_the_users_own_declaration(app, world):
    from app.extensions import db

    fake = store.create_user("房东", subscribed=True)
    user = WeChatUser(openid=fake["openid"], source="official_account", subscribed=True)
    db.session.add(user)
    db.session.flush()
    d = make_declaration(world.a.address, "rejected", created_at=LATE_EVENING_UTC,
                         submitter_wechat_user_id=user.id, decision_reason="照片不清楚")
    db.session.commit()
    assert notifications.notify_declaration_status(d.id, "rejected").status == "sent"
    [message] = store.sent_messages(user.openid)
    values = [v["value"] for k, v in message["data"].items() if k.startswith("keyword")]
    assert "提交时间：2026年12月1日 23:30" in values
    assert "退回原因：照片不清楚" in values
    assert any(v.startswith("办理方式：") and "更正" in v for v in values)
    assert message["url"].endswith(f"/h5/declarations/{d.id}")


def world_db_commit():
    from app.extensions import db

    db.session.commit()


def test_endorsement_reminder_text_names_the_date_in_chinese(world):
    from app.models import Reminder
    from app.services.reminders import delivery, rules

    reminder = Reminder(rule="permit_endorsement", target_type="residence",
                        target_id=world.a.residence.id, period_key="y2027-03-01")
    _title, lines = delivery._message(reminder, rules.settings())
    assert ("提醒事项", "您的居住证将于2027年3月1日满一年，请在此前办理签注") in lines
