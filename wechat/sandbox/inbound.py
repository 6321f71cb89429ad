"""What WeChat's servers would send to our callback: real XML, real signatures, real encryption.

The simulator builds each inbound message here, signs it (and in safe/compatible mode encrypts it
with wechatpy's WeChatCrypto), posts it through the app's real /wechat/callback, and reads the reply
back the way WeChat would (decrypting and checking its signature).
"""
from __future__ import annotations

import base64
import hashlib
import secrets
import time
from urllib.parse import urlencode

import xmltodict
from flask import current_app
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException

from wechat.sandbox import store
from wechat.sandbox.account import ORIGINAL_ID, setting

CALLBACK_PATH = "/wechat/callback"
# WeChat gives up waiting after 5 s and retries.
WECHAT_WAIT_SECONDS = 5.0


def _cdata(value) -> str:
    # "]]>" cannot appear inside CDATA: split it across two sections, as XML writers do.
    return "<![CDATA[" + str(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def build_xml(fields: list[tuple[str, object]]) -> str:
    """Render a WeChat message: strings in CDATA, integers bare, in the given order."""
    parts = ["<xml>"]
    for name, value in fields:
        parts.append(f"<{name}>{value}</{name}>" if isinstance(value, int) else f"<{name}>{_cdata(value)}</{name}>")
    parts.append("</xml>")
    return "".join(parts)


def _head(openid: str, msg_type: str) -> list[tuple[str, object]]:
    return [("ToUserName", ORIGINAL_ID), ("FromUserName", openid),
            ("CreateTime", int(time.time())), ("MsgType", msg_type)]


def text_message(openid: str, content: str) -> str:
    """A text message from the user."""
    msg_id = 24_000_000_000_000_000 + secrets.randbelow(10**15)
    return build_xml(_head(openid, "text") + [("Content", content), ("MsgId", msg_id)])


def event_message(openid: str, event: str, event_key: str | None = None,
                  ticket: str | None = None, menu_id: int | None = None) -> str:
    """An event: subscribe / unsubscribe / SCAN (with EventKey and Ticket) / CLICK / VIEW."""
    fields = _head(openid, "event") + [("Event", event)]
    if event_key is not None or event in ("subscribe", "unsubscribe"):
        fields.append(("EventKey", event_key or ""))
    if ticket:
        fields.append(("Ticket", ticket))
    if menu_id is not None:
        fields.append(("MenuId", menu_id))
    return build_xml(fields)


def scan_ticket(scene: str) -> str:
    """A ticket for a door-plate QR scene, shaped like those qrcode/create returns."""
    return base64.b64encode(b"\x00\x00http://weixin.qq.com/q/" + scene.encode()[:32]).decode()


def _signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def _crypto() -> WeChatCrypto:
    return WeChatCrypto(setting("WECHAT_TOKEN"), setting("WECHAT_ENCODING_AES_KEY"), setting("WECHAT_APP_ID"))


def signed_request(xml: str, openid: str) -> tuple[dict, str]:
    """(query parameters, body) exactly as WeChat posts this message in the configured mode."""
    mode = setting("WECHAT_MESSAGE_MODE")
    token = setting("WECHAT_TOKEN")
    timestamp = str(int(time.time()))
    nonce = str(secrets.randbelow(10**10))
    query = {"signature": _signature(token, timestamp, nonce), "timestamp": timestamp,
             "nonce": nonce, "openid": openid}
    if mode not in ("safe", "compatible"):
        return query, xml
    envelope = xmltodict.parse(_crypto().encrypt_message(xml, nonce, timestamp))["xml"]
    query.update(encrypt_type="aes", msg_signature=envelope["MsgSignature"])
    if mode == "safe":
        body = build_xml([("ToUserName", ORIGINAL_ID), ("Encrypt", envelope["Encrypt"])])
    else:
        # Compatible mode: the plaintext fields and the ciphertext side by side.
        body = xml.replace("</xml>", f"<Encrypt>{_cdata(envelope['Encrypt'])}</Encrypt></xml>")
    return query, body


def _read_reply(text: str) -> dict | None:
    """Decode the callback's answer the way WeChat does; raises ValueError with a Chinese reason."""
    text = text.strip()
    if text in ("", "success"):
        return None
    try:
        doc = xmltodict.parse(text)["xml"]
    except Exception:
        raise ValueError("回复既不是 success 也不是合法的 XML") from None
    if "Encrypt" in doc:
        try:
            plain = _crypto().decrypt_message(doc, doc.get("MsgSignature"), doc.get("TimeStamp"), doc.get("Nonce"))
            doc = xmltodict.parse(plain)["xml"]
        except InvalidSignatureException:
            raise ValueError("回复的签名校验失败") from None
        except InvalidAppIdException:
            raise ValueError("回复加密所用的 AppID 不一致") from None
        except Exception:
            raise ValueError("回复无法解密") from None
    elif setting("WECHAT_MESSAGE_MODE") == "safe":
        raise ValueError("安全模式下回复必须加密，收到的是明文")
    return _reply_view(doc)


def _reply_view(doc: dict) -> dict:
    kind = doc.get("MsgType")
    if kind == "text":
        return {"type": "text", "content": doc.get("Content") or ""}
    if kind == "news":
        items = (doc.get("Articles") or {}).get("item") or []
        if isinstance(items, dict):
            items = [items]
        return {"type": "news", "articles": [
            {"title": i.get("Title") or "", "description": i.get("Description") or "",
             "picurl": i.get("PicUrl") or "", "url": i.get("Url") or ""} for i in items]}
    return {"type": kind or "unknown", "content": f"（{kind or '未知'} 类型的回复，模拟器只显示文字和图文）"}


def deliver(xml: str, openid: str) -> dict:
    """Post one message to the real callback; returns {ok, status, reply, error, elapsed_ms}."""
    query, body = signed_request(xml, openid)
    started = time.perf_counter()
    response = current_app.test_client().post(
        f"{CALLBACK_PATH}?{urlencode(query)}", data=body.encode("utf-8"),
        content_type="text/xml; charset=utf-8")
    elapsed = time.perf_counter() - started
    result = {"ok": False, "status": response.status_code, "reply": None, "error": None,
              "elapsed_ms": round(elapsed * 1000)}
    if response.status_code != 200:
        result["error"] = f"公众号服务器返回 HTTP {response.status_code}，消息未被处理"
        if response.status_code == 404:
            result["error"] += "（回调地址 /wechat/callback 不存在）"
        return result
    try:
        result["reply"] = _read_reply(response.get_data(as_text=True))
    except ValueError as exc:
        result["error"] = str(exc)
        return result
    result["ok"] = True
    if elapsed > WECHAT_WAIT_SECONDS:
        result["error"] = f"回复用时 {elapsed:.1f} 秒，超过 5 秒，真实微信会放弃并重试"
    return result


def send_and_log(openid: str, xml: str, shown_as: str) -> dict:
    """Deliver a message and keep both sides of the exchange in the user's conversation."""
    store.append_chat(openid, {"direction": "in", "text": shown_as, "xml": xml})
    result = deliver(xml, openid)
    if result["reply"] is not None:
        store.append_chat(openid, {"direction": "out", "reply": result["reply"]})
    if result["error"]:
        store.append_chat(openid, {"direction": "error", "text": result["error"]})
    return result
