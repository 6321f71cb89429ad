"""The callback as WeChat's servers see it: signatures, replay window, modes, hostile bodies, retries."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from app.models import WeChatUser
from tests.wechat import wx


@pytest.fixture()
def mode(app, monkeypatch):
    def set_mode(value: str) -> None:
        monkeypatch.setitem(app.config, "WECHAT_MESSAGE_MODE", value)

    return set_mode


# -- verification and signatures ------------------------------------------------------------------

def test_get_with_a_valid_signature_echoes_echostr(client):
    query = {**wx.signed_query(), "echostr": "8273645"}
    response = client.get("/wechat/callback", query_string=query)
    assert response.status_code == 200 and response.get_data(as_text=True) == "8273645"


def test_get_with_a_forged_signature_is_refused(client):
    query = {**wx.signed_query(token="not-our-token"), "echostr": "8273645"}
    response = client.get("/wechat/callback", query_string=query)
    assert response.status_code == 403 and "8273645" not in response.get_data(as_text=True)


def test_post_without_signature_is_refused(client):
    openid = wx.new_openid()
    response = client.post("/wechat/callback", data=wx.text_xml(openid, "帮助"), content_type="text/xml")
    assert response.status_code == 403


def test_signature_check_uses_constant_time_comparison(client, monkeypatch):
    import hmac

    from wechat import callback

    seen = []
    real = hmac.compare_digest

    def spy(a, b):
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(callback.hmac, "compare_digest", spy)
    client.get("/wechat/callback", query_string={**wx.signed_query(), "echostr": "1"})
    assert seen, "signatures must be compared with hmac.compare_digest"


@pytest.mark.parametrize("age", [301, -301, 86400])
def test_timestamp_outside_the_window_is_refused_as_a_replay(client, age):
    query = {**wx.signed_query(timestamp=int(time.time()) - age), "echostr": "1"}
    assert client.get("/wechat/callback", query_string=query).status_code == 403


def test_replayed_encrypted_message_with_an_old_timestamp_is_refused(client, db):
    openid = wx.new_openid()
    query, body = wx.encrypted_request(wx.text_xml(openid, "帮助"), timestamp=int(time.time()) - 600)
    assert wx.post(client, query, body).status_code == 403
    assert db.session.execute(select(WeChatUser)).first() is None


def test_forged_msg_signature_is_refused(client, db):
    query, body = wx.encrypted_request(wx.text_xml(wx.new_openid(), "帮助"))
    query["msg_signature"] = "0" * 40
    assert wx.post(client, query, body).status_code == 403


def test_message_encrypted_for_another_app_id_is_refused(client, db):
    query, body = wx.encrypted_request(wx.text_xml(wx.new_openid(), "帮助"), app_id="wxsomeoneelse000")
    assert wx.post(client, query, body).status_code == 403


# -- modes -----------------------------------------------------------------------------------------

def test_safe_mode_decrypts_and_answers_encrypted(client, db):
    openid = wx.new_openid()
    response = wx.deliver(client, wx.text_xml(openid, "帮助"), mode="safe")
    assert "<Encrypt>" in response.get_data(as_text=True)
    reply = wx.read_reply(response)
    assert reply.type == "text" and "我的房屋" in reply.content
    assert reply.target == openid and reply.source == wx.OFFICIAL_ID


def test_safe_mode_refuses_a_plaintext_message(client, db):
    response = wx.post(client, wx.signed_query(), wx.text_xml(wx.new_openid(), "帮助"))
    assert response.status_code == 400


def test_plain_mode_answers_in_plaintext(client, db, mode):
    mode("plain")
    response = wx.deliver(client, wx.text_xml(wx.new_openid(), "申报"), mode="plain")
    assert "<Encrypt>" not in response.get_data(as_text=True)
    assert "门牌" in wx.read_reply(response).content


def test_compatible_mode_accepts_encrypted_and_plaintext(client, db, mode):
    mode("compatible")
    encrypted = wx.deliver(client, wx.text_xml(wx.new_openid(), "退租"), mode="compatible")
    assert "<Encrypt>" in encrypted.get_data(as_text=True)
    assert "退租" in wx.read_reply(encrypted).content
    plain = wx.post(client, wx.signed_query(), wx.text_xml(wx.new_openid(), "居住证"))
    assert "6 个月" in wx.read_reply(plain).content


# -- hostile and malformed bodies ----------------------------------------------------------------

BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
                  '<xml><ToUserName>a</ToUserName><FromUserName>&lol2;</FromUserName>'
                  '<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>x</Content></xml>')
XXE = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       '<xml><FromUserName>&xxe;</FromUserName><MsgType>text</MsgType></xml>')


@pytest.mark.parametrize("body", [
    BILLION_LAUGHS, XXE, "<xml><MsgType>text</MsgType>", "not xml at all", "",
    "<notxml><a>1</a></notxml>", "<xml>just text</xml>",
    "<xml><MsgType>text</MsgType><CreateTime>yesterday</CreateTime><FromUserName>o</FromUserName></xml>",
    "<xml><MsgType><a>1</a></MsgType><CreateTime>1</CreateTime></xml>",
    "<xml><MsgType>text</MsgType><CreateTime>1</CreateTime><MsgId>12ab</MsgId></xml>",
])
def test_malformed_or_hostile_plaintext_bodies_get_400(client, db, mode, body):
    mode("plain")
    assert wx.post(client, wx.signed_query(), body).status_code == 400


def test_wrong_encoding_gets_400(client, db, mode):
    mode("plain")
    body = wx.text_xml(wx.new_openid(), "帮助").encode("gbk")
    assert wx.post(client, wx.signed_query(), body).status_code == 400


def test_oversized_body_gets_400(client, db, mode):
    mode("plain")
    body = wx.text_xml(wx.new_openid(), "申" * 30000)  # 90 KB in UTF-8
    assert wx.post(client, wx.signed_query(), body).status_code == 400


def test_hostile_xml_inside_the_encrypted_envelope_gets_400(client, db):
    query, body = wx.encrypted_request(BILLION_LAUGHS)
    assert wx.post(client, query, body).status_code == 400


def test_garbage_ciphertext_with_a_valid_signature_gets_400(client, db):
    token = wx.settings()[0]
    query = wx.signed_query()
    garbage = "QUJDRA=="
    query.update(encrypt_type="aes",
                 msg_signature=wx.signature(token, query["timestamp"], query["nonce"], garbage))
    body = f"<xml><ToUserName>x</ToUserName><Encrypt><![CDATA[{garbage}]]></Encrypt></xml>"
    assert wx.post(client, query, body).status_code == 400


# -- exactly once ------------------------------------------------------------------------------------

def test_a_retried_message_is_handled_once_and_gets_the_same_reply(client, db, monkeypatch):
    from wechat import router

    calls = []
    real_route = router.route
    monkeypatch.setattr(router, "route", lambda message: calls.append(message.id) or real_route(message))
    xml = wx.text_xml(wx.new_openid(), "帮助", msg_id=7_000_000_000_000_000_123)
    first = wx.read_reply(wx.deliver(client, xml))
    second = wx.read_reply(wx.deliver(client, xml))  # WeChat's retry: new nonce, same message
    third = wx.read_reply(wx.deliver(client, xml))
    assert calls == [7_000_000_000_000_000_123]
    assert first.content == second.content == third.content
    assert first.create_time == second.create_time


def test_a_retried_event_is_deduplicated_by_sender_and_create_time(client, db, monkeypatch):
    from wechat import router

    calls = []
    real_route = router.route
    monkeypatch.setattr(router, "route", lambda message: calls.append(message.event) or real_route(message))
    openid, created = wx.new_openid(), int(time.time())
    xml = wx.event_xml(openid, "subscribe", "", create_time=created)
    replies = [wx.read_reply(wx.deliver(client, xml)).content for _ in range(3)]
    assert calls == ["subscribe"] and len(set(replies)) == 1
    # A different event from the same user in the same second is its own message.
    wx.deliver(client, wx.event_xml(openid, "CLICK", "HELP", create_time=created))
    assert calls == ["subscribe", "click"]


def test_a_retry_during_the_first_delivery_waits_for_its_reply(app, client, db, monkeypatch):
    from wechat import router

    started, release = threading.Event(), threading.Event()
    real_route = router.route

    def slow_route(message):
        started.set()
        release.wait(5)
        return real_route(message)

    monkeypatch.setattr(router, "route", slow_route)
    xml = wx.text_xml(wx.new_openid(), "居住证")
    first = {}

    def first_delivery():
        with app.app_context():
            first["response"] = wx.deliver(app.test_client(), xml)

    thread = threading.Thread(target=first_delivery)
    thread.start()
    assert started.wait(5)
    threading.Timer(0.3, release.set).start()
    retry = wx.read_reply(wx.deliver(client, xml))
    thread.join(10)
    with app.app_context():
        original = wx.read_reply(first["response"])
    assert retry is not None and retry.content == original.content


def test_a_failed_first_delivery_lets_the_retry_handle_the_message(client, db, monkeypatch):
    from wechat import router

    real_route = router.route
    attempts = []

    def flaky(message):
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("database went away")
        return real_route(message)

    monkeypatch.setattr(router, "route", flaky)
    xml = wx.text_xml(wx.new_openid(), "帮助")
    assert wx.deliver(client, xml).status_code == 500
    assert "我的房屋" in wx.read_reply(wx.deliver(client, xml)).content
    assert len(attempts) == 2


def test_every_message_upserts_the_wechat_user_and_last_seen(client, db):
    openid = wx.new_openid()
    wx.deliver(client, wx.text_xml(openid, "你好"))
    user = db.session.execute(select(WeChatUser).where(WeChatUser.openid == openid)).scalar_one()
    assert user.last_seen_at is not None and user.source == "official_account"
    wx.deliver(client, wx.text_xml(openid, "你好"))
    assert db.session.execute(select(WeChatUser).where(WeChatUser.openid == openid)).scalars().all() == [user]


# -- odd but well-signed messages: an answer, never a 500 ---------------------------------------
HEAD = (f"<xml><ToUserName><![CDATA[{wx.OFFICIAL_ID}]]></ToUserName>"
        "<FromUserName><![CDATA[oEdgeCase000000000000000000]]></FromUserName><CreateTime>1700000001</CreateTime>")


@pytest.mark.parametrize("tail", [
    "<MsgType>event</MsgType></xml>",
    "<MsgType>event</MsgType><Event>SCAN</Event></xml>",
    "<MsgType>event</MsgType><Event>CLICK</Event></xml>",
    "<MsgType>event</MsgType><Event>TEMPLATESENDJOBFINISH</Event></xml>",
    "<MsgType>event</MsgType><Event>TEMPLATESENDJOBFINISH</Event><MsgID>12</MsgID></xml>",
    "<MsgType>event</MsgType><Event>subscribe</Event><EventKey>qrscene_</EventKey></xml>",
    "<MsgType>event</MsgType><Event>unknown_future_event</Event></xml>",
    "<MsgType>text</MsgType><MsgId>1</MsgId></xml>",
    "<MsgType>text</MsgType><Content></Content><MsgId>2</MsgId></xml>",
    "<MsgType>location</MsgType><Location_X>abc</Location_X><MsgId>3</MsgId></xml>",
    "<MsgType>device_event</MsgType><MsgId>4</MsgId></xml>",
    "<MsgType>MiniProgramPage</MsgType><MsgId>5</MsgId></xml>",
])
def test_odd_messages_get_an_answer_never_a_500(client, db, tail):
    response = wx.deliver(client, HEAD + tail)
    assert response.status_code == 200


def test_a_message_without_sender_is_acknowledged(client, db):
    xml = (f"<xml><ToUserName>{wx.OFFICIAL_ID}</ToUserName><CreateTime>1700000002</CreateTime>"
           "<MsgType>text</MsgType><Content>帮助</Content><MsgId>6</MsgId></xml>")
    assert wx.deliver(client, xml).status_code == 200
