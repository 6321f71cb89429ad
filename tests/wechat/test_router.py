"""What the account answers, end to end through the real callback in safe mode."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import House, PushMessage, WeChatUser
from tests.factories import make_address, make_jurisdiction
from tests.wechat import wx


@pytest.fixture()
def plate(db):
    address = make_address(make_jurisdiction()["community"], full_text="鲤城区开元路18号3幢2单元502室")
    db.session.commit()
    return address


def _user(db, openid: str) -> WeChatUser:
    db.session.expire_all()
    return db.session.execute(select(WeChatUser).where(WeChatUser.openid == openid)).scalar_one()


def test_subscribe_welcomes_and_explains_how_to_declare(client, db):
    openid = wx.new_openid()
    reply = wx.read_reply(wx.deliver(client, wx.event_xml(openid, "subscribe", "")))
    assert "欢迎关注安居" in reply.content and "申报" in reply.content
    user = _user(db, openid)
    assert user.subscribed and user.subscribed_at is not None


def test_subscribe_by_scanning_a_door_plate_replies_with_that_address_page(app, client, db, plate):
    openid = wx.new_openid()
    xml = wx.event_xml(openid, "subscribe", f"qrscene_{plate.qr_token}", Ticket="<![CDATA[t]]>")
    reply = wx.read_reply(wx.deliver(client, xml))
    [article] = wx.articles(reply)
    assert plate.full_text in article["Title"]
    assert article["Url"] == app.config["PUBLIC_BASE_URL"].rstrip("/") + f"/h5/a/{plate.qr_token}"
    assert _user(db, openid).subscribed


def test_scan_by_a_follower_replies_with_the_address_page(app, client, db, plate):
    reply = wx.read_reply(wx.deliver(client, wx.event_xml(wx.new_openid(), "SCAN", plate.qr_token)))
    assert wx.articles(reply)[0]["Url"].endswith(f"/h5/a/{plate.qr_token}")


@pytest.mark.parametrize("key", ["no-such-plate", "qrscene_", "x" * 200])
def test_scan_of_an_unknown_or_retired_plate_says_so(client, db, key):
    reply = wx.read_reply(wx.deliver(client, wx.event_xml(wx.new_openid(), "SCAN", key)))
    assert reply.type == "text" and "没有找到这个门牌" in reply.content


def test_scan_of_a_retired_plate_says_so(client, db, plate):
    plate.status = "retired"
    db.session.commit()
    reply = wx.read_reply(wx.deliver(client, wx.event_xml(wx.new_openid(), "SCAN", plate.qr_token)))
    assert "没有找到这个门牌" in reply.content


@pytest.mark.parametrize("text,expected", [
    ("申报", "门牌"), ("我要申报", "门牌"), (" 申 報 ", "门牌"), ("怎么登记租客？", "门牌"),
    ("退租", "退租"), ("租客搬走了怎么办", "退租"), ("退租申报", "申报租客退租"),
    ("居住证", "6 个月"), ("怎么办居住證", "6 个月"), ("签注", "签注"),
    ("帮助", "回复「申报」"), ("HELP", "回复「申报」"), ("?", "回复「申报」"),
    ("今天天气不错", "回复「申报」"), ("", "回复「申报」"),
])
def test_text_commands_and_close_variants_get_useful_replies(client, db, text, expected):
    reply = wx.read_reply(wx.deliver(client, wx.text_xml(wx.new_openid(), text)))
    assert expected in reply.content


def test_my_houses_lists_the_houses_this_user_registered(client, db, plate):
    openid = wx.new_openid()
    wx.deliver(client, wx.text_xml(openid, "帮助"))
    user = _user(db, openid)
    db.session.add(House(address_id=plate.id, station_id=plate.station_id,
                         police_area_id=plate.police_area_id, owner_wechat_user_id=user.id,
                         is_rental=True, rooms=2))
    db.session.commit()
    reply = wx.read_reply(wx.deliver(client, wx.text_xml(openid, "我的房屋")))
    assert "1 套" in reply.content and plate.full_text in reply.content and "/h5/houses" in reply.content


def test_my_houses_without_houses_explains_how_to_register(client, db):
    reply = wx.read_reply(wx.deliver(client, wx.text_xml(wx.new_openid(), "我的房子")))
    assert "还没有登记房屋" in reply.content


@pytest.mark.parametrize("key,expected", [("RESIDENCE_PERMIT", "6 个月"), ("DECLARE", "门牌"),
                                          ("HELP", "回复「申报」"), ("UNKNOWN_KEY", "回复「申报」")])
def test_menu_clicks_answer_like_the_text_commands(client, db, key, expected):
    reply = wx.read_reply(wx.deliver(client, wx.event_xml(wx.new_openid(), "CLICK", key)))
    assert expected in reply.content


def test_menu_view_is_acknowledged_without_a_reply_and_touches_the_user(client, db):
    openid = wx.new_openid()
    response = wx.deliver(client, wx.event_xml(openid, "VIEW", "http://127.0.0.1:5000/h5/houses"))
    assert response.get_data(as_text=True) == "success"
    assert _user(db, openid).last_seen_at is not None


def test_unsubscribe_marks_the_user_unsubscribed_and_unreachable(client, db):
    openid = wx.new_openid()
    wx.deliver(client, wx.event_xml(openid, "subscribe", ""))
    response = wx.deliver(client, wx.event_xml(openid, "unsubscribe", "", create_time=2_000_000_000 - 1))
    assert response.get_data(as_text=True) == "success"
    user = _user(db, openid)
    assert not user.subscribed and user.unsubscribed_at is not None and user.unreachable_at is not None
    # Following again makes the user reachable again.
    wx.deliver(client, wx.event_xml(openid, "subscribe", "", create_time=2_000_000_000 - 2))
    user = _user(db, openid)
    assert user.subscribed and user.unreachable_at is None


def test_template_send_job_finish_records_the_delivery_result(client, db, run_jobs):
    user = WeChatUser(openid=wx.new_openid(), subscribed=True)
    db.session.add(user)
    db.session.flush()
    push = PushMessage(channel="template", wechat_user_id=user.id, openid=user.openid,
                       template_id="t", payload={}, dedupe_key="finish-test", status="sent",
                       msgid=2_000_000_123)
    db.session.add(push)
    db.session.commit()
    xml = wx.event_xml(user.openid, "TEMPLATESENDJOBFINISH", None, MsgID="2000000123",
                       Status="<![CDATA[failed:user block]]>")
    assert wx.deliver(client, xml).get_data(as_text=True) == "success"
    run_jobs()
    db.session.expire_all()
    push = db.session.get(PushMessage, push.id)
    assert push.delivery_status == "failed:user block" and push.delivered_at is not None
    assert db.session.get(WeChatUser, user.id).unreachable_at is not None


def test_two_delivery_results_of_one_user_in_the_same_second_are_both_recorded(client, db,
                                                                                run_jobs):
    user = WeChatUser(openid=wx.new_openid(), subscribed=True)
    db.session.add(user)
    db.session.flush()
    pushes = [PushMessage(channel="template", wechat_user_id=user.id, openid=user.openid,
                          template_id="t", payload={}, dedupe_key=f"same-second-{n}",
                          status="sent", msgid=2_000_000_200 + n) for n in (1, 2)]
    db.session.add_all(pushes)
    db.session.commit()
    same_second = 1_800_000_000
    for push in pushes:
        xml = wx.event_xml(user.openid, "TEMPLATESENDJOBFINISH", None, create_time=same_second,
                           MsgID=str(push.msgid), Status="<![CDATA[success]]>")
        assert wx.deliver(client, xml).get_data(as_text=True) == "success"
    run_jobs()
    db.session.expire_all()
    assert [db.session.get(PushMessage, p.id).delivery_status for p in pushes] == ["success"] * 2


def test_a_delivery_result_sent_again_is_recorded_once(client, db, run_jobs, monkeypatch):
    from wechat import push

    calls = []
    real = push.record_delivery
    monkeypatch.setattr(push, "record_delivery", lambda *a, **k: calls.append(a) or real(*a, **k))
    xml = wx.event_xml(wx.new_openid(), "TEMPLATESENDJOBFINISH", None, create_time=1_800_000_000,
                       MsgID="2000000301", Status="<![CDATA[success]]>")
    for _ in range(2):  # WeChat's retry: the same event under a new nonce
        assert wx.deliver(client, xml).get_data(as_text=True) == "success"
    run_jobs()
    assert calls == [(2000000301, "success")]


def test_other_message_kinds_get_help(client, db):
    openid = wx.new_openid()
    xml = (f"<xml><ToUserName><![CDATA[{wx.OFFICIAL_ID}]]></ToUserName><FromUserName><![CDATA[{openid}]]>"
           f"</FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[image]]></MsgType>"
           f"<PicUrl><![CDATA[http://example.invalid/a.jpg]]></PicUrl><MediaId><![CDATA[m]]></MediaId>"
           f"<MsgId>6000000000000000999</MsgId></xml>")
    reply = wx.read_reply(wx.deliver(client, xml))
    assert "回复「申报」" in reply.content


def test_a_chatty_user_costs_one_upsert_a_minute_not_a_query_per_message(app, client, db):
    from sqlalchemy import event

    openid = wx.new_openid()
    wx.deliver(client, wx.text_xml(openid, "帮助"))
    first_seen = _user(db, openid).last_seen_at
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        reply = wx.read_reply(wx.deliver(client, wx.text_xml(openid, "居住证")))
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert "6 个月" in reply.content
    assert statements == []
    assert _user(db, openid).last_seen_at == first_seen


def test_first_messages_of_a_new_user_arriving_together_create_one_row(app, db):
    import threading

    openid = wx.new_openid()
    statuses = []

    def deliver(text):
        with app.app_context():
            statuses.append(wx.deliver(app.test_client(), wx.text_xml(openid, text)).status_code)

    threads = [threading.Thread(target=deliver, args=(text,)) for text in ("申报", "退租", "帮助", "居住证")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [200] * 4
    assert len(db.session.execute(select(WeChatUser).where(WeChatUser.openid == openid)).scalars().all()) == 1
