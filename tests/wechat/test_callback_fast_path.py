"""The callback's lean path: what a message costs (Redis round trips, SQL) and that exactly-once,
the follower upsert and routing are what they were (the real endpoint, real crypto)."""
from __future__ import annotations

import logging
from urllib.parse import urlencode

import pytest
from redis.client import Pipeline, Redis
from sqlalchemy import event, select
from wechatpy import parse_message
from werkzeug.test import Client

from app.models import WeChatUser
from tests.factories import make_address, make_jurisdiction
from tests.wechat import wx


@pytest.fixture()
def costs(app, db, monkeypatch):
    """Counts Redis round trips (a pipeline is one) and SQL statements while a test runs."""
    counted = {"redis": 0, "sql": 0}
    real_command, real_pipeline = Redis.execute_command, Pipeline.execute

    def command(self, *args, **kwargs):
        counted["redis"] += 1
        return real_command(self, *args, **kwargs)

    def pipeline(self, *args, **kwargs):
        counted["redis"] += 1
        return real_pipeline(self, *args, **kwargs)

    def statement(*_):
        counted["sql"] += 1

    monkeypatch.setattr(Redis, "execute_command", command)
    monkeypatch.setattr(Pipeline, "execute", pipeline)
    event.listen(db.engine, "before_cursor_execute", statement)

    def reset():
        counted.update(redis=0, sql=0)
        return counted

    yield reset
    event.remove(db.engine, "before_cursor_execute", statement)


def _routes(monkeypatch) -> list:
    from wechat import router

    calls = []
    real_route = router.route
    monkeypatch.setattr(router, "route", lambda message: calls.append(message.id) or real_route(message))
    return calls


def test_a_known_followers_text_message_costs_two_redis_round_trips_and_no_sql(client, db, costs):
    openid = wx.new_openid()
    wx.deliver(client, wx.text_xml(openid, "你好"))  # first message: the row is upserted
    requests = [wx.encrypted_request(wx.text_xml(openid, "帮助")) for _ in range(3)]
    counted = costs()
    for query, body in requests:
        assert "我的房屋" in wx.read_reply(wx.post(client, query, body)).content
    assert counted == {"redis": 6, "sql": 0}  # claim + stored reply, per message


def test_a_duplicate_delivery_answers_the_stored_reply_once_in_one_round_trip(client, db, costs,
                                                                              monkeypatch):
    calls = _routes(monkeypatch)
    xml = wx.text_xml(wx.new_openid(), "居住证", msg_id=7_000_000_000_000_000_777)
    first = wx.read_reply(wx.deliver(client, xml))
    retry = wx.encrypted_request(xml)
    counted = costs()
    again = wx.read_reply(wx.post(client, *retry))
    assert counted == {"redis": 1, "sql": 0}
    assert calls == [7_000_000_000_000_000_777]
    assert again.content == first.content and again.create_time == first.create_time


def test_the_follower_row_is_upserted_then_marked_seen_in_the_reply_round_trip(client, db, costs):
    from app.redis_conn import get_redis
    from wechat.users import seen_key

    openid = wx.new_openid()
    request = wx.encrypted_request(wx.text_xml(openid, "你好"))
    counted = costs()
    wx.post(client, *request)
    assert counted["redis"] == 2 and counted["sql"] > 0  # the marker joined the reply's pipeline
    user = db.session.execute(select(WeChatUser).where(WeChatUser.openid == openid)).scalar_one()
    assert user.last_seen_at is not None
    assert 60 <= get_redis().ttl(seen_key(openid)) <= 90
    get_redis().delete(seen_key(openid))  # the minute is over: the next message upserts again
    wx.deliver(client, wx.text_xml(openid, "你好"))
    assert get_redis().exists(seen_key(openid))  # set again only after an upsert
    assert len(db.session.execute(select(WeChatUser).where(WeChatUser.openid == openid)).all()) == 1


def test_a_failed_delivery_sets_no_seen_marker_and_the_retry_upserts(client, db, monkeypatch):
    from app.redis_conn import get_redis
    from wechat import router
    from wechat.users import seen_key

    real_route = router.route
    attempts = []

    def flaky(message):
        attempts.append(1)
        reply = real_route(message)  # the upsert happens, then the handler fails
        if len(attempts) == 1:
            raise RuntimeError("worker died")
        return reply

    monkeypatch.setattr(router, "route", flaky)
    openid = wx.new_openid()
    xml = wx.text_xml(openid, "帮助")
    assert wx.deliver(client, xml).status_code == 500
    assert not get_redis().exists(seen_key(openid))
    assert "我的房屋" in wx.read_reply(wx.deliver(client, xml)).content
    assert get_redis().exists(seen_key(openid))
    assert db.session.execute(select(WeChatUser).where(WeChatUser.openid == openid)).scalar_one()


def test_a_crash_after_the_commit_never_answers_the_retry_twice(client, db, monkeypatch):
    from wechat import callback

    calls = _routes(monkeypatch)
    monkeypatch.setattr(callback, "RETRY_WAIT_SECONDS", 0.2)
    real_set = Redis.set

    def lost(self, name, value, *args, **kwargs):
        if isinstance(value, bytes) and value.startswith(callback.DONE):
            raise ConnectionError("Redis went away before the reply was stored")
        return real_set(self, name, value, *args, **kwargs)

    monkeypatch.setattr(Redis, "set", lost)
    xml = wx.text_xml(wx.new_openid(), "帮助")
    assert wx.deliver(client, xml).status_code == 500
    monkeypatch.setattr(Redis, "set", real_set)
    # The claim stands (it expires after PROCESSING_TTL): the retry answers "success", no reply.
    assert wx.read_reply(wx.deliver(client, xml)) is None
    assert len(calls) == 1


def test_routing_still_reads_the_door_plate(app, client, db):
    address = make_address(make_jurisdiction()["community"], full_text="鲤城区开元路18号3幢2单元502室")
    db.session.commit()
    reply = wx.read_reply(wx.deliver(client, wx.event_xml(wx.new_openid(), "SCAN", address.qr_token)))
    [article] = wx.articles(reply)
    assert address.full_text in article["Title"]
    assert article["Url"].endswith(f"/h5/a/{address.qr_token}")


def test_the_callback_post_skips_the_pages_request_hooks_but_is_counted(client, db, caplog):
    from tests.test_observability import scrape, value

    before = value(scrape(client), "anju_http_requests_total", endpoint="wechat_callback.callback",
                   method="POST", status="200")
    caplog.set_level(logging.INFO, logger="anju.request")
    caplog.clear()  # the metrics scrape above logged its own request line
    response = wx.deliver(client, wx.text_xml(wx.new_openid(), "帮助"))
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert not [r for r in caplog.records if r.name == "anju.request"]  # no line per message
    after = value(scrape(client), "anju_http_requests_total", endpoint="wechat_callback.callback",
                  method="POST", status="200")
    assert after - before == 1
    # The echostr verification still goes through Flask and its request log.
    client.get("/wechat/callback", query_string={**wx.signed_query(), "echostr": "42"})
    assert [r for r in caplog.records if r.name == "anju.request"]


def test_the_flask_route_answers_a_post_as_the_fast_path_does(app, client, db):
    # Without the middleware (an app that wraps wsgi_app differently), the blueprint's view
    # serves the same POST with the same code.
    flask_only = Client(app.wsgi_app.wsgi_app)
    openid = wx.new_openid()
    query, body = wx.encrypted_request(wx.text_xml(openid, "退租"))
    response = flask_only.post(f"/wechat/callback?{urlencode(query)}", data=body.encode(),
                               content_type="text/xml")
    assert "退租" in wx.read_reply(response).content


EDGE = [
    wx.text_xml("oA", "你好"),
    wx.event_xml("oA", "SCAN", "token123", Ticket="t"),
    wx.event_xml("oA", "subscribe", "qrscene_token123", Ticket="t"),
    wx.event_xml("oA", "subscribe", "scanbarcode|EAN_13|123"),
    wx.event_xml("oA", "subscribe", ""),
    wx.event_xml("oA", "CLICK", "HELP"),
    wx.event_xml("oA", "TEMPLATESENDJOBFINISH", None, MsgID="12", Status="success"),
    "<xml><FromUserName>oA</FromUserName><CreateTime>1</CreateTime><MsgType>device_event</MsgType>"
    "<Event>bind</Event></xml>",
    "<xml><FromUserName>oA</FromUserName><CreateTime>1</CreateTime><MsgType>device_text</MsgType></xml>",
    "<xml><FromUserName>oA</FromUserName><CreateTime>1</CreateTime><MsgType>event</MsgType></xml>",
    "<xml><FromUserName>oA</FromUserName><CreateTime>1</CreateTime><MsgType>MiniProgramPage</MsgType>"
    "<MsgId>5</MsgId></xml>",
]


@pytest.mark.parametrize("xml", EDGE)
def test_message_of_builds_what_wechatpys_parse_message_builds(xml):
    from wechat.callback import message_of, parse_xml

    ours, theirs = message_of(parse_xml(xml)), parse_message(xml)
    assert type(ours) is type(theirs) and ours._data == theirs._data
    assert (ours.type, getattr(ours, "event", None)) == (theirs.type, getattr(theirs, "event", None))


def test_my_houses_in_one_query_finds_what_houses_of_finds(db):
    from app.models import House
    from app.services.declarations.ownership import house_addresses_of_follower, houses_of
    from tests.factories import make_person

    community = make_jurisdiction()["community"]
    owner, linked, agent, stranger = (WeChatUser(openid=wx.new_openid()) for _ in range(4))
    linked.person_id = make_person("350303199001011236").id
    agent.person_id = make_person("350303199001011252", name="李四").id
    db.session.add_all([owner, linked, agent, stranger])
    db.session.flush()

    def house(**owners):
        address = make_address(community)
        row = House(address_id=address.id, station_id=address.station_id,
                    police_area_id=address.police_area_id, rooms=1, **owners)
        db.session.add(row)
        return row

    house(owner_wechat_user_id=owner.id)
    house(owner_wechat_user_id=owner.id, agent_person_id=agent.person_id)
    house(owner_person_id=linked.person_id)
    house(owner_person_id=agent.person_id)
    db.session.commit()
    for user in (owner, linked, agent, stranger):
        expected = [h.address.full_text for h in houses_of(user)]
        assert house_addresses_of_follower(user.openid) == expected
    assert [len(house_addresses_of_follower(u.openid))
            for u in (owner, linked, agent, stranger)] == [2, 1, 2, 0]
    assert house_addresses_of_follower("o-nobody") == []
