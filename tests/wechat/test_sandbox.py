"""The WeChat sandbox: the fake API answers wechatpy like WeChat does; the simulator talks like WeChat's servers."""
from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from wechatpy import WeChatClient, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import WeChatClientException, WeChatOAuthException
from wechatpy.oauth import WeChatOAuth
from wechatpy.replies import ArticlesReply, TextReply
from wechatpy.utils import check_signature

from app.redis_conn import get_redis
from tests.factories import make_address, make_jurisdiction
from wechat.sandbox import inbound, store
from wechat.sandbox.account import setting
from wechat.sandbox.simulator import COOKIE
from wechat.sandbox.transport import SANDBOX_ORIGIN, mount_sandbox

API = SANDBOX_ORIGIN + "/wechat-sandbox/api/"
AUTHORIZE = "/wechat-sandbox/open/connect/oauth2/authorize"


class SandboxClient(WeChatClient):
    """wechatpy's own client, pointed at the fake API (only the base URLs differ)."""

    API_BASE_URL = API + "cgi-bin/"

    def fetch_access_token(self):
        return self._fetch_access_token(url=API + "cgi-bin/token", params={
            "grant_type": "client_credential", "appid": self.appid, "secret": self.secret})


def _session(app) -> requests.Session:
    session = requests.Session()
    mount_sandbox(session, app)
    return session


@pytest.fixture()
def http(app, db):
    return _session(app)


@pytest.fixture()
def oa_client(app, http):
    client = SandboxClient(setting("WECHAT_APP_ID"), setting("WECHAT_APP_SECRET"), timeout=(2, 5))
    client._http = http
    return client


@pytest.fixture()
def mini_client(app, http):
    client = SandboxClient(setting("WECHAT_MINIAPP_ID"), setting("WECHAT_MINIAPP_SECRET"), timeout=(2, 5))
    client._http = http
    client.wxa.API_BASE_URL = API
    return client


def _oauth(http, redirect_uri="http://localhost/h5/oauth/callback") -> WeChatOAuth:
    oauth = WeChatOAuth(setting("WECHAT_APP_ID"), setting("WECHAT_APP_SECRET"), redirect_uri)
    oauth.API_BASE_URL = API
    oauth._http = http
    return oauth


# --- access tokens -----------------------------------------------------------------------------------

def test_token_call_is_served_in_process_as_a_real_requests_response(http):
    response = http.get(API + "cgi-bin/token", params={
        "grant_type": "client_credential", "appid": setting("WECHAT_APP_ID"), "secret": setting("WECHAT_APP_SECRET")})
    assert isinstance(response, requests.Response)
    assert response.status_code == 200
    body = response.json()
    assert body["expires_in"] == 7200 and len(body["access_token"]) > 60
    assert store.token_appid(body["access_token"]) == setting("WECHAT_APP_ID")
    assert store.token_calls() == 1


def test_token_with_wrong_secret_is_refused_but_still_counted(http):
    body = http.get(API + "cgi-bin/token", params={
        "grant_type": "client_credential", "appid": setting("WECHAT_APP_ID"), "secret": "wrong"}).json()
    assert body["errcode"] == 40125
    body = http.get(API + "cgi-bin/token", params={
        "grant_type": "client_credential", "appid": "wxunknown", "secret": "x"}).json()
    assert body["errcode"] == 40013
    assert store.token_calls() == 2


def test_token_calls_beyond_the_daily_limit_answer_45009(http, monkeypatch):
    from wechat.sandbox import api

    monkeypatch.setattr(api, "TOKEN_DAILY_LIMIT", 1)
    params = {"grant_type": "client_credential", "appid": setting("WECHAT_APP_ID"), "secret": setting("WECHAT_APP_SECRET")}
    assert "access_token" in http.get(API + "cgi-bin/token", params=params).json()
    assert http.get(API + "cgi-bin/token", params=params).json()["errcode"] == 45009


def test_new_token_leaves_previous_one_valid_for_five_minutes_only(http):
    params = {"grant_type": "client_credential", "appid": setting("WECHAT_APP_ID"), "secret": setting("WECHAT_APP_SECRET")}
    first = http.get(API + "cgi-bin/token", params=params).json()["access_token"]
    second = http.get(API + "cgi-bin/token", params=params).json()["access_token"]
    assert first != second
    assert 0 < get_redis().ttl(store.PREFIX + "access_token:" + first) <= 300
    assert get_redis().ttl(store.PREFIX + "access_token:" + second) > 7000


def test_stable_token_is_reused_until_forced_to_refresh(http):
    body = {"grant_type": "client_credential", "appid": setting("WECHAT_APP_ID"), "secret": setting("WECHAT_APP_SECRET")}
    first = http.post(API + "cgi-bin/stable_token", json=body).json()
    again = http.post(API + "cgi-bin/stable_token", json=body).json()
    forced = http.post(API + "cgi-bin/stable_token", json={**body, "force_refresh": True}).json()
    assert first["access_token"] == again["access_token"] != forced["access_token"]
    assert store.token_calls() == 3


def test_missing_or_unknown_access_token_is_refused_with_wechat_errcodes(http):
    assert http.post(API + "cgi-bin/menu/create", data=b"{}").json()["errcode"] == 41001
    body = http.post(API + "cgi-bin/menu/create?access_token=forged", data=b"{}").json()
    assert body["errcode"] == 40001 and "rid:" in body["errmsg"]


def test_expired_token_is_refreshed_once_by_wechatpy_retry(oa_client):
    user = store.create_user("小王", subscribed=True)
    oa_client.message.send_template(user["openid"], "TPL", {"first": {"value": "一"}})
    store.expire_access_tokens()
    result = oa_client.message.send_template(user["openid"], "TPL", {"first": {"value": "二"}})
    assert result["errcode"] == 0
    assert store.token_calls() == 2
    assert [c["errcode"] for c in store.calls("cgi-bin/message/template/send")] == [0, 40001, 0]


# --- template and subscribe messages ------------------------------------------------------------------

def test_template_message_reaches_subscribed_user_and_is_recorded(oa_client):
    user = store.create_user("小李", subscribed=True)
    result = oa_client.message.send_template(user["openid"], "TPL_REMIND", {"first": {"value": "请确认租客"}},
                                             url="http://127.0.0.1:5000/h5/")
    assert result["errcode"] == 0 and result["errmsg"] == "ok" and result["msgid"] > 0
    [message] = store.sent_messages(user["openid"])
    assert message["kind"] == "template" and message["msgid"] == result["msgid"]
    assert message["data"] == {"first": {"value": "请确认租客"}} and message["url"] == "http://127.0.0.1:5000/h5/"
    assert store.sent_messages(store.create_user("别人")["openid"]) == []


def test_template_message_to_unsubscribed_user_answers_43004(oa_client):
    user = store.create_user("未关注")
    with pytest.raises(WeChatClientException) as info:
        oa_client.message.send_template(user["openid"], "TPL", {"first": {"value": "x"}})
    assert info.value.errcode == 43004
    assert store.sent_messages() == []


def test_template_message_to_malformed_or_mini_program_openid_answers_40003(oa_client):
    user = store.create_user("双号")
    for touser in ("", "o<script>", "x" * 65, user["miniapp_openid"]):
        with pytest.raises(WeChatClientException) as info:
            oa_client.message.send_template(touser, "TPL", {"first": {"value": "x"}})
        assert info.value.errcode == 40003


def test_openid_the_sandbox_never_issued_is_adopted_as_a_follower(oa_client):
    # Demo data and tests create WeChatUser rows directly; their pushes must arrive in the sandbox.
    result = oa_client.message.send_template("demo-openid-0001", "TPL", {"first": {"value": "x"}})
    assert result["errcode"] == 0
    adopted = store.get_user("demo-openid-0001")
    assert adopted["subscribed"] and adopted["adopted"]
    assert [m["msgid"] for m in store.sent_messages("demo-openid-0001")] == [result["msgid"]]


def test_template_message_beyond_daily_quota_answers_45009(app, oa_client, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_TEMPLATE_DAILY_QUOTA", 2)
    user = store.create_user("配额", subscribed=True)
    for _ in range(2):
        oa_client.message.send_template(user["openid"], "TPL", {"first": {"value": "x"}})
    with pytest.raises(WeChatClientException) as info:
        oa_client.message.send_template(user["openid"], "TPL", {"first": {"value": "x"}})
    assert info.value.errcode == 45009
    assert len(store.sent_messages(user["openid"])) == 2


def test_template_message_with_malformed_body_answers_47001_not_500(http, oa_client):
    token = oa_client.access_token
    response = http.post(API + f"cgi-bin/message/template/send?access_token={token}", data=b"<xml>not json")
    assert response.status_code == 200 and response.json()["errcode"] == 47001
    response = http.get(API + f"cgi-bin/message/template/send?access_token={token}")
    assert response.json()["errcode"] == 43002


def test_subscribe_message_goes_to_miniapp_openid_with_miniapp_token(mini_client, oa_client):
    user = store.create_user("小程序用户")
    session = mini_client.wxa.code_to_session(store.issue_js_code(user["openid"]))
    result = mini_client.wxa.send_subscribe_message(session["openid"], "SUB_TPL", {"thing1": {"value": "已受理"}},
                                                    page="pages/declarations/index")
    assert result["errcode"] == 0
    [message] = store.sent_messages(user["openid"])
    assert message["kind"] == "subscribe" and message["touser"] == user["miniapp_openid"]
    assert message["page"] == "pages/declarations/index"
    # The official account's token does not open the mini-program's API, as in WeChat.
    oa_client.wxa.API_BASE_URL = API
    with pytest.raises(WeChatClientException) as info:
        oa_client.wxa.send_subscribe_message(session["openid"], "SUB_TPL", {"thing1": {"value": "x"}})
    assert info.value.errcode == 48001


def test_subscribe_message_refused_by_user_answers_43101(mini_client):
    user = store.create_user("拒收")
    store.set_accepts_subscribe_messages(user["openid"], False)
    with pytest.raises(WeChatClientException) as info:
        mini_client.wxa.send_subscribe_message(user["miniapp_openid"], "SUB_TPL", {"thing1": {"value": "x"}})
    assert info.value.errcode == 43101


def test_customer_service_message_lands_in_the_conversation(client, oa_client):
    user = store.create_user("客服", subscribed=True)
    oa_client.message.send_text(user["openid"], "您的申报已通过")
    oa_client.message.send_articles(user["openid"], [{"title": "查看回执", "description": "点击查看",
                                                      "url": "http://localhost/h5/", "image": ""}])
    assert [e["reply"]["type"] for e in store.chat(user["openid"])] == ["text", "news"]
    html = client.get(f"/wechat-sandbox/users/{user['openid']}").get_data(as_text=True)
    assert "您的申报已通过" in html and "客服消息" in html and "查看回执" in html
    store.set_subscribed(user["openid"], False)
    with pytest.raises(WeChatClientException) as info:
        oa_client.message.send_text(user["openid"], "再见")
    assert info.value.errcode == 43004


def test_user_info_tells_whether_and_how_the_user_follows(oa_client):
    user = store.create_user("扫码关注")
    assert oa_client.user.get(user["openid"])["subscribe"] == 0
    store.set_subscribed(user["openid"], True, qr_scene="plate-token")
    info = oa_client.user.get(user["openid"])
    assert info["subscribe"] == 1 and info["subscribe_scene"] == "ADD_SCENE_QR_CODE"
    assert info["qr_scene_str"] == "plate-token" and "nickname" not in info


# --- mini-program login ---------------------------------------------------------------------------------

def test_jscode2session_gives_miniapp_identity_and_code_is_single_use(mini_client):
    user = store.create_user("登录")
    code = store.issue_js_code(user["openid"])
    session = mini_client.wxa.code_to_session(code)
    assert session["openid"] == user["miniapp_openid"] != user["openid"]
    assert session["unionid"] == user["unionid"] and session["session_key"]
    with pytest.raises(WeChatClientException) as info:
        mini_client.wxa.code_to_session(code)
    assert info.value.errcode == 40029
    assert 0 < get_redis().ttl(store.PREFIX + "js_code:" + store.issue_js_code(user["openid"])) <= 300


def test_jscode2session_refuses_the_official_account_appid(http):
    user = store.create_user("登录")
    body = http.get(API + "sns/jscode2session", params={
        "appid": setting("WECHAT_APP_ID"), "secret": setting("WECHAT_APP_SECRET"),
        "js_code": store.issue_js_code(user["openid"]), "grant_type": "authorization_code"}).json()
    assert body["errcode"] == 40013


# --- QR codes, menu, anything else ------------------------------------------------------------------

def test_qrcode_create_answers_like_wechat_for_temporary_and_permanent_codes(oa_client):
    temporary = oa_client.qrcode.create({"expire_seconds": 600, "action_name": "QR_STR_SCENE",
                                         "action_info": {"scene": {"scene_str": "plate-token"}}})
    assert temporary["expire_seconds"] == 600 and temporary["url"].startswith("http://weixin.qq.com/q/")
    assert store.qrcode(temporary["ticket"])["scene"] == "plate-token"
    permanent = oa_client.qrcode.create({"action_name": "QR_LIMIT_STR_SCENE",
                                         "action_info": {"scene": {"scene_str": "plate-token"}}})
    assert set(permanent) == {"ticket", "url"}
    with pytest.raises(WeChatClientException) as info:
        oa_client.qrcode.create({"action_name": "QR_BOGUS"})
    assert info.value.errcode == 40053


def test_menu_create_checks_buttons_and_keeps_the_published_menu(oa_client):
    menu = {"button": [{"type": "click", "name": "帮助", "key": "HELP"},
                       {"name": "申报", "sub_button": [{"type": "view", "name": "我的房屋", "url": "http://127.0.0.1:5000/h5/"}]}]}
    assert oa_client.menu.create(menu)["errcode"] == 0
    assert store.menu() == menu
    assert oa_client.menu.get()["menu"] == menu
    with pytest.raises(WeChatClientException) as info:
        oa_client.menu.create({"button": [{"type": "click", "name": str(i), "key": "K"} for i in range(4)]})
    assert info.value.errcode == 40016
    with pytest.raises(WeChatClientException) as info:
        oa_client.menu.create({"button": [{"type": "click", "name": "缺少 key"}]})
    assert info.value.errcode == 40019


def test_apis_the_sandbox_does_not_fake_answer_an_errcode_not_a_crash(http):
    response = http.get(API + "cgi-bin/tags/get?access_token=x")
    assert response.status_code == 200 and response.json()["errcode"] == 48001


def test_every_call_is_recorded_with_the_secret_masked(http):
    http.get(API + "cgi-bin/token", params={
        "grant_type": "client_credential", "appid": setting("WECHAT_APP_ID"), "secret": setting("WECHAT_APP_SECRET")})
    http.post(API + "cgi-bin/stable_token", json={"grant_type": "client_credential",
                                                  "appid": setting("WECHAT_APP_ID"), "secret": setting("WECHAT_APP_SECRET")})
    recorded = json.dumps(store.calls(), ensure_ascii=False)
    assert setting("WECHAT_APP_SECRET") not in recorded
    assert [c["path"] for c in store.calls()] == ["cgi-bin/stable_token", "cgi-bin/token"]
    store.reset()
    assert store.calls() == [] and store.token_calls() == 0


# --- web OAuth: authorize page and code exchange --------------------------------------------------------

def _authorize_url(redirect_uri="http://localhost/h5/oauth/callback", scope="snsapi_base", state="st4te", **extra):
    params = {"appid": setting("WECHAT_APP_ID"), "redirect_uri": redirect_uri, "response_type": "code",
              "scope": scope, "state": state, **extra}
    return AUTHORIZE + "?" + urlencode(params)


def test_authorize_without_a_chosen_user_asks_who_is_holding_the_phone(client):
    store.create_user("已有用户")
    page = client.get(_authorize_url())
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "选择以哪个微信用户的身份继续" in html and "已有用户" in html


def test_authorize_redirects_with_single_use_code_and_state_for_the_cookie_user(client, http):
    user = store.create_user("房东")
    client.set_cookie(COOKIE, user["openid"])
    answer = client.get(_authorize_url(redirect_uri="http://localhost/h5/oauth/callback?next=%2Fh5%2F"))
    assert answer.status_code == 302
    target = urlsplit(answer.headers["Location"])
    query = parse_qs(target.query)
    assert (target.netloc, target.path) == ("localhost", "/h5/oauth/callback")
    assert query["state"] == ["st4te"] and query["next"] == ["/h5/"]
    oauth = _oauth(http)
    assert oauth.fetch_access_token(query["code"][0])["openid"] == user["openid"]
    with pytest.raises(WeChatOAuthException) as info:
        _oauth(http).fetch_access_token(query["code"][0])
    assert info.value.errcode == 40029


def test_oauth_code_lives_300_seconds_and_is_bound_to_its_app(http):
    user = store.create_user("房东")
    code = store.issue_oauth_code(user["openid"], setting("WECHAT_APP_ID"))
    assert 0 < get_redis().ttl(store.PREFIX + "oauth_code:" + code) <= 300
    body = http.get(API + "sns/oauth2/access_token", params={
        "appid": setting("WECHAT_MINIAPP_ID"), "secret": setting("WECHAT_MINIAPP_SECRET"),
        "code": code, "grant_type": "authorization_code"}).json()
    assert body["errcode"] == 40029


def test_authorize_refuses_a_redirect_to_a_foreign_host_or_wrong_appid(client):
    user = store.create_user("房东")
    client.set_cookie(COOKIE, user["openid"])
    page = client.get(_authorize_url(redirect_uri="https://evil.example/steal"))
    assert page.status_code == 200 and "redirect_uri 域名与后台配置不一致" in page.get_data(as_text=True)
    page = client.get(_authorize_url(appid="wxsomeoneelse"))
    assert "appid 与沙箱公众号不一致" in page.get_data(as_text=True)
    page = client.get(_authorize_url(scope="snsapi_everything"))
    assert "scope" in page.get_data(as_text=True)


def test_userinfo_scope_asks_consent_then_the_profile_is_available(client, http):
    user = store.create_user("昵称甲")
    client.set_cookie(COOKIE, user["openid"])
    page = client.get(_authorize_url(scope="snsapi_userinfo"))
    assert page.status_code == 200 and "允许" in page.get_data(as_text=True)
    answer = client.post(AUTHORIZE, data={"appid": setting("WECHAT_APP_ID"), "redirect_uri": "http://localhost/cb",
                                          "response_type": "code", "scope": "snsapi_userinfo", "state": "s",
                                          "consent": "allow"})
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    oauth = _oauth(http)
    oauth.fetch_access_token(code)
    assert oauth.get_user_info()["nickname"] == "昵称甲"


def test_base_scope_token_cannot_read_the_profile(http):
    user = store.create_user("静默")
    oauth = _oauth(http)
    oauth.fetch_access_token(store.issue_oauth_code(user["openid"], setting("WECHAT_APP_ID")))
    with pytest.raises(WeChatOAuthException) as info:
        oauth.get_user_info()
    assert info.value.errcode == 48001


# --- simulator: what it sends is what WeChat sends ----------------------------------------------------

def _unwrap(app, query: dict, body: str) -> str:
    """Check a simulated delivery the way a WeChat server SDK would; returns the plaintext XML."""
    with app.app_context():
        token, aes_key, app_id = setting("WECHAT_TOKEN"), setting("WECHAT_ENCODING_AES_KEY"), setting("WECHAT_APP_ID")
    check_signature(token, query["signature"], query["timestamp"], query["nonce"])
    if query.get("encrypt_type") != "aes":
        return body
    return WeChatCrypto(token, aes_key, app_id).decrypt_message(body, query["msg_signature"], query["timestamp"], query["nonce"])


@pytest.mark.parametrize("mode", ["safe", "compatible", "plain"])
def test_simulated_scan_of_a_new_user_is_a_signed_subscribe_event_wechatpy_parses(app, db, monkeypatch, mode):
    monkeypatch.setitem(app.config, "WECHAT_MESSAGE_MODE", mode)
    openid = store.new_openid()
    xml = inbound.event_message(openid, "subscribe", "qrscene_AbC-123_x", ticket=inbound.scan_ticket("AbC-123_x"))
    query, body = inbound.signed_request(xml, openid)
    assert query["openid"] == openid
    assert ("encrypt_type" in query) is (mode != "plain")
    if mode == "safe":
        assert "FromUserName" not in body and "<Encrypt>" in body
    message = parse_message(_unwrap(app, query, body))
    assert message.type == "event" and message.event == "subscribe_scan"
    assert message.scene_id == "AbC-123_x" and message.source == openid and message.ticket


def test_simulated_text_survives_cdata_breakers_and_has_a_msgid(app, db):
    openid = store.new_openid()
    content = "我的房屋 ]]> <b>&amp;"
    query, body = inbound.signed_request(inbound.text_message(openid, content), openid)
    message = parse_message(_unwrap(app, query, body))
    assert message.type == "text" and message.content == content and message.id > 0


def test_encrypted_replies_built_with_wechatpy_are_read_back(app, db):
    openid = store.new_openid()
    crypto = WeChatCrypto(setting("WECHAT_TOKEN"), setting("WECHAT_ENCODING_AES_KEY"), setting("WECHAT_APP_ID"))
    news = ArticlesReply(source="gh_x", target=openid, articles=[
        {"title": "测试路1号", "description": "点击登记", "image": "", "url": "http://127.0.0.1:5000/h5/a/tok"}])
    view = inbound._read_reply(crypto.encrypt_message(news.render(), "123", str(int(time.time()))))
    assert view == {"type": "news", "articles": [{"title": "测试路1号", "description": "点击登记", "picurl": "",
                                                   "url": "http://127.0.0.1:5000/h5/a/tok"}]}
    text = TextReply(source="gh_x", target=openid, content="你好").render()
    assert inbound._read_reply(crypto.encrypt_message(text, "1", "2")) == {"type": "text", "content": "你好"}
    assert inbound._read_reply("success") is None
    with pytest.raises(ValueError, match="必须加密"):
        inbound._read_reply(text)  # safe mode: a plaintext reply is an error
    tampered = crypto.encrypt_message(text, "1", "2").replace("<Nonce><![CDATA[1]]>", "<Nonce><![CDATA[9]]>")
    with pytest.raises(ValueError, match="签名"):
        inbound._read_reply(tampered)


# --- simulator pages ---------------------------------------------------------------------------------

@pytest.fixture()
def stub_callback(app, db, monkeypatch):
    """The simulator pointed at a stand-in callback written with wechatpy (the real one is C1's)."""
    received = []
    from flask import current_app, request

    def stand_in():
        plain = _unwrap(current_app, request.args.to_dict(), request.get_data(as_text=True))
        message = parse_message(plain)
        received.append(message)
        if message.type == "event" and message.event in ("subscribe_scan", "scan"):
            reply = ArticlesReply(message=message, articles=[{
                "title": "门牌地址", "description": "点击登记", "image": "",
                "url": f"http://localhost/h5/a/{message.scene_id}"}])
        elif message.type == "text":
            reply = TextReply(message=message, content=f"收到：{message.content}")
        else:
            return "success"
        crypto = WeChatCrypto(setting("WECHAT_TOKEN"), setting("WECHAT_ENCODING_AES_KEY"), setting("WECHAT_APP_ID"))
        return crypto.encrypt_message(reply.render(), request.args["nonce"], request.args["timestamp"])

    # Routes cannot be added through the API once the shared app has served requests; the rule is
    # added once and its view dispatches to this test's stand-in.
    view = "_sandbox_test_stand_in_callback"
    if view not in app.view_functions:
        app.view_functions[view] = lambda: app.view_functions[view + "_impl"]()
        app.url_map.add(app.url_rule_class("/_sandbox_test/callback", methods=["POST"], endpoint=view))
    app.view_functions[view + "_impl"] = stand_in
    monkeypatch.setattr(inbound, "CALLBACK_PATH", "/_sandbox_test/callback")
    return received


def test_home_page_lists_users_and_creating_one_acts_as_them(client):
    answer = client.post("/wechat-sandbox/users", data={"nickname": "新用户甲"})
    assert answer.status_code == 302
    [user] = store.list_users()
    assert user["nickname"] == "新用户甲" and not user["subscribed"]
    assert client.get_cookie(COOKIE).value == user["openid"]
    html = client.get("/wechat-sandbox/").get_data(as_text=True)
    assert "新建微信用户" in html and "新用户甲" in html and "当前" in html


def test_too_long_nickname_is_refused_with_a_message(client):
    answer = client.post("/wechat-sandbox/users", data={"nickname": "长" * 40}, follow_redirects=True)
    assert "昵称最多 32 个字" in answer.get_data(as_text=True)
    assert store.list_users() == []


def test_user_page_lists_active_addresses_matching_the_search(client, db):
    places = make_jurisdiction()
    wanted = make_address(places["community"], full_text="鹭江道100号3幢")
    make_address(places["community"], full_text="鹭江道200号", status="retired")
    make_address(places["community"], full_text="湖滨南路1号")
    db.session.commit()
    user = store.create_user("扫码人")
    html = client.get(f"/wechat-sandbox/users/{user['openid']}?q=鹭江道").get_data(as_text=True)
    assert "鹭江道100号3幢" in html and wanted.qr_token in html
    assert "鹭江道200号" not in html and "湖滨南路1号" not in html
    assert "没有找到包含「%_」的地址" in client.get(f"/wechat-sandbox/users/{user['openid']}?q=%25_").get_data(as_text=True)


def test_unknown_user_page_is_a_chinese_404(client):
    page = client.get("/wechat-sandbox/users/onobody")
    assert page.status_code == 404 and "页面不存在" in page.get_data(as_text=True)


def test_scanning_a_plate_as_new_user_subscribes_and_shows_the_news_link(client, stub_callback):
    user = store.create_user("扫码人")
    client.post(f"/wechat-sandbox/users/{user['openid']}/scan", data={"qr_token": "Tok_123"})
    [event] = stub_callback
    assert event.event == "subscribe_scan" and event.scene_id == "Tok_123" and event.source == user["openid"]
    assert store.get_user(user["openid"])["subscribed"]
    html = client.get(f"/wechat-sandbox/users/{user['openid']}").get_data(as_text=True)
    assert "以该用户身份打开" in html and 'href="http://localhost/h5/a/Tok_123"' in html

    client.post(f"/wechat-sandbox/users/{user['openid']}/scan", data={"qr_token": "Tok_123"})
    assert stub_callback[-1].event == "scan" and stub_callback[-1].scene_id == "Tok_123"


def test_chat_text_goes_through_the_callback_and_the_reply_is_shown(client, stub_callback):
    user = store.create_user("聊天")
    client.post(f"/wechat-sandbox/users/{user['openid']}/text", data={"content": "帮助"})
    assert stub_callback[0].content == "帮助"
    assert [e["direction"] for e in store.chat(user["openid"])] == ["in", "out"]
    assert "收到：帮助" in client.get(f"/wechat-sandbox/users/{user['openid']}").get_data(as_text=True)


def test_resend_repeats_the_same_message_like_a_wechat_retry(client, stub_callback):
    user = store.create_user("重试")
    client.post(f"/wechat-sandbox/users/{user['openid']}/text", data={"content": "退租"})
    client.post(f"/wechat-sandbox/users/{user['openid']}/resend", data={"index": "0"})
    first, retry = stub_callback
    assert (first.id, first.time, first.content) == (retry.id, retry.time, retry.content)
    assert client.post(f"/wechat-sandbox/users/{user['openid']}/resend", data={"index": "x"}).status_code == 302


def test_follow_and_unfollow_send_events_and_track_the_state(client, stub_callback):
    user = store.create_user("关注")
    client.post(f"/wechat-sandbox/users/{user['openid']}/subscribe")
    client.post(f"/wechat-sandbox/users/{user['openid']}/unsubscribe")
    assert [m.event for m in stub_callback] == ["subscribe", "unsubscribe"]
    assert not store.get_user(user["openid"])["subscribed"]


def test_bad_scan_token_and_empty_text_are_refused_without_calling_back(client, stub_callback):
    user = store.create_user("输入")
    page = client.post(f"/wechat-sandbox/users/{user['openid']}/scan", data={"qr_token": "<script>"},
                       follow_redirects=True)
    assert "门牌码格式不正确" in page.get_data(as_text=True)
    page = client.post(f"/wechat-sandbox/users/{user['openid']}/text", data={"content": "  "}, follow_redirects=True)
    assert "请输入" in page.get_data(as_text=True)
    assert stub_callback == []


def test_callback_failure_is_shown_as_a_clear_error_not_a_crash(client, monkeypatch):
    monkeypatch.setattr(inbound, "CALLBACK_PATH", "/_sandbox_test/no-such-callback")
    user = store.create_user("出错")
    page = client.post(f"/wechat-sandbox/users/{user['openid']}/text", data={"content": "你好"}, follow_redirects=True)
    assert page.status_code == 200
    assert "公众号服务器返回 HTTP 404" in page.get_data(as_text=True)


def test_pushes_received_are_listed_on_the_user_page(client, oa_client):
    user = store.create_user("收推送", subscribed=True)
    oa_client.message.send_template(user["openid"], "TPL_REMIND", {"keyword1": {"value": "请在3天内申报租客"}},
                                    url="http://localhost/h5/")
    html = client.get(f"/wechat-sandbox/users/{user['openid']}").get_data(as_text=True)
    assert "收到的推送" in html and "请在3天内申报租客" in html and "模板消息" in html


def test_mini_program_login_code_is_handed_out_for_the_user(client, http):
    user = store.create_user("小程序")
    page = client.post(f"/wechat-sandbox/users/{user['openid']}/js-code", follow_redirects=True)
    html = page.get_data(as_text=True)
    code = html.split("只能用一次）：", 1)[1].split("<", 1)[0].strip()
    body = http.get(API + "sns/jscode2session", params={
        "appid": setting("WECHAT_MINIAPP_ID"), "secret": setting("WECHAT_MINIAPP_SECRET"),
        "js_code": code, "grant_type": "authorization_code"}).json()
    assert body["openid"] == user["miniapp_openid"]


def test_choosing_a_user_from_the_authorize_page_returns_to_it(client):
    user = store.create_user("回来")
    next_url = _authorize_url()
    answer = client.post(f"/wechat-sandbox/users/{user['openid']}/select", data={"next": next_url})
    assert answer.headers["Location"] == next_url
    assert client.get(next_url).status_code == 302
    answer = client.post(f"/wechat-sandbox/users/{user['openid']}/select", data={"next": "//evil.example/"})
    assert answer.headers["Location"].endswith(f"/wechat-sandbox/users/{user['openid']}")


def test_sandbox_refuses_to_start_in_production(app_config, tmp_path):
    from app import create_app

    with pytest.raises(RuntimeError):
        create_app({**app_config, "APP_ENV": "production", "WECHAT_SANDBOX": True,
                    "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/prod.sqlite3"})
