"""The WeChat side of the conversation, built on wechatpy's own crypto and parser.

Inbound XML is written the way WeChat's documentation shows it; encryption, signatures and
reading the replies use wechatpy (WeChatCrypto, parse_message), independent of wechat/callback.py.
"""
from __future__ import annotations

import hashlib
import itertools
import secrets
import time
from urllib.parse import urlencode

import xmltodict
from flask import current_app
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto

OFFICIAL_ID = "gh_0123456789ab"
_msg_ids = itertools.count(6_000_000_000_000_000_001)


def new_openid() -> str:
    return "o" + secrets.token_urlsafe(21)[:27]


def text_xml(openid: str, content: str, msg_id: int | None = None, create_time: int | None = None) -> str:
    return (f"<xml><ToUserName><![CDATA[{OFFICIAL_ID}]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{create_time or int(time.time())}</CreateTime>"
            f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
            f"<MsgId>{msg_id or next(_msg_ids)}</MsgId></xml>")


def event_xml(openid: str, event: str, key: str | None = None, create_time: int | None = None,
              **extra) -> str:
    parts = [f"<xml><ToUserName><![CDATA[{OFFICIAL_ID}]]></ToUserName>",
             f"<FromUserName><![CDATA[{openid}]]></FromUserName>",
             f"<CreateTime>{create_time or int(time.time())}</CreateTime>",
             "<MsgType><![CDATA[event]]></MsgType>", f"<Event><![CDATA[{event}]]></Event>"]
    if key is not None:
        parts.append(f"<EventKey><![CDATA[{key}]]></EventKey>")
    for name, value in extra.items():
        parts.append(f"<{name}>{value}</{name}>")
    parts.append("</xml>")
    return "".join(parts)


def settings() -> tuple[str, str, str]:
    config = current_app.config
    return config["WECHAT_TOKEN"], config["WECHAT_ENCODING_AES_KEY"], config["WECHAT_APP_ID"]


def signature(*parts: str) -> str:
    """WeChat's SHA-1 over the sorted parts (token, timestamp, nonce[, encrypt])."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def signed_query(timestamp: int | None = None, nonce: str | None = None, token: str | None = None,
                 openid: str = "") -> dict:
    token = token or settings()[0]
    ts = str(timestamp if timestamp is not None else int(time.time()))
    nonce = nonce or str(secrets.randbelow(10**9))
    return {"signature": signature(token, ts, nonce), "timestamp": ts, "nonce": nonce, "openid": openid}


def encrypted_request(xml: str, *, compatible: bool = False, timestamp: int | None = None,
                      app_id: str | None = None) -> tuple[dict, str]:
    """(query, body) as WeChat posts in safe (or compatible) mode, encrypted by wechatpy."""
    token, aes_key, configured_app_id = settings()
    query = signed_query(timestamp)
    envelope = xmltodict.parse(WeChatCrypto(token, aes_key, app_id or configured_app_id)
                               .encrypt_message(xml, query["nonce"], query["timestamp"]))["xml"]
    query.update(encrypt_type="aes", msg_signature=envelope["MsgSignature"])
    if compatible:
        body = xml.replace("</xml>", f"<Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>")
    else:
        body = (f"<xml><ToUserName><![CDATA[{OFFICIAL_ID}]]></ToUserName>"
                f"<Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>")
    return query, body


def post(client, query: dict, body: str | bytes):
    data = body.encode("utf-8") if isinstance(body, str) else body
    return client.post(f"/wechat/callback?{urlencode(query)}", data=data, content_type="text/xml")


def deliver(client, xml: str, mode: str | None = None):
    """Post a message the way WeChat does in the configured mode; returns the response."""
    mode = mode or current_app.config["WECHAT_MESSAGE_MODE"]
    if mode == "plain":
        return post(client, signed_query(), xml)
    return post(client, *encrypted_request(xml, compatible=mode == "compatible"))


def read_reply(response):
    """The reply as wechatpy parses it (None for "success"), decrypting when it is encrypted."""
    assert response.status_code == 200, response.get_data(as_text=True)
    text = response.get_data(as_text=True)
    if text == "success":
        return None
    doc = xmltodict.parse(text)["xml"]
    if "Encrypt" in doc:
        token, aes_key, app_id = settings()
        text = WeChatCrypto(token, aes_key, app_id).decrypt_message(
            doc, doc["MsgSignature"], doc["TimeStamp"], doc["Nonce"])
    return parse_message(text)


def articles(reply_xml_message) -> list[dict]:
    items = reply_xml_message._data["Articles"]["item"]
    return items if isinstance(items, list) else [items]
