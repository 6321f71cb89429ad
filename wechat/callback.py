"""The official account's callback, /wechat/callback: verify, decrypt, de-duplicate, route, reply.

Refusals are cheap and explicit: 403 for a wrong or stale signature, 400 for a body that is not
a WeChat message (too big, not UTF-8, entity declarations, malformed XML); never 500 for input.
Every message is handled once per MsgId, every event that carries its own MsgID (delivery results:
TEMPLATESENDJOBFINISH) once per that id, other events once per FromUserName + CreateTime + Event,
through an atomic Redis SET NX; a retry gets the reply the first delivery computed.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time

import xmltodict
from flask import Blueprint, Response, current_app, has_app_context, request
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.events import EVENT_TYPES
from wechatpy.exceptions import InvalidAppIdException
from wechatpy.messages import MESSAGE_TYPES, UnknownMessage
from wechatpy.replies import create_reply
from werkzeug.wrappers import Request

from app.errors import MESSAGES, RETRY_AFTER_SECONDS, _forget_session, _unavailable_errors
from app.extensions import db
from app.metrics import count_callback, observe_request
from app.redis_conn import get_redis
from wechat import router
from wechat.users import forget_seen, note_seen_marker, seen_key, seen_markers_to_set

bp = Blueprint("wechat_callback", __name__, url_prefix="/wechat")

MAX_BODY_BYTES = 64 * 1024
DEDUPE_PREFIX = "anju:wechat:msg:"
# While the first delivery is being handled; long enough for any handler, short enough that a
# crashed worker does not block WeChat's retries for long.
PROCESSING_TTL = 30
# WeChat retries within about 15 s; keep the answer well beyond that.
DONE_TTL = 3600
# A retry that arrives while the first delivery is still running waits this long for its reply
# (under WeChat's 5 s) and otherwise answers "success", so the user never gets two replies.
RETRY_WAIT_SECONDS = 3.0
PROCESSING = b"processing"
DONE = b"done:"
_DIGITS = re.compile(r"^[0-9]{1,20}$")
_HOSTILE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class Refused(Exception):
    """An inbound request that is not a genuine, well-formed WeChat message."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def sign(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the sorted parts concatenated."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def _same(expected: str, given: str | None) -> bool:
    # Constant time: the comparison must not reveal how many leading characters matched.
    return hmac.compare_digest(expected.encode(), (given or "").encode("utf-8", "replace"))


def check_request_signature(token: str, args) -> None:
    """The query's signature and timestamp window (replays are refused)."""
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    if not _DIGITS.match(timestamp) or len(nonce) > 64:
        raise Refused(403, "missing or malformed timestamp/nonce")
    window = int(current_app.config["WECHAT_REPLAY_WINDOW_SECONDS"])
    if abs(time.time() - int(timestamp)) > window:
        raise Refused(403, "timestamp outside the replay window")
    if not _same(sign(token, timestamp, nonce), args.get("signature")):
        raise Refused(403, "bad signature")


def read_body(req) -> bytes:
    """The request body, refused if over 64 KiB (without reading more than that)."""
    if (req.content_length or 0) > MAX_BODY_BYTES:
        raise Refused(400, "body too large")
    body = req.stream.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise Refused(400, "body too large")
    return body


def parse_xml(raw: bytes | str) -> dict:
    """A WeChat XML document as a flat dict; refuses DTDs/entities, non-UTF-8 and anything odd."""
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8")
    if _HOSTILE.search(data):
        raise Refused(400, "DTD or entity declaration")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "body is not UTF-8") from None
    try:
        doc = xmltodict.parse(text, disable_entities=True)
    except Exception:  # noqa: BLE001 - expat errors, forbidden entities: all mean "not a message"
        raise Refused(400, "malformed XML") from None
    root = doc.get("xml") if isinstance(doc, dict) else None
    if not isinstance(root, dict):
        raise Refused(400, "no <xml> root")
    return root


def _check_message(fields: dict) -> None:
    for name in ("ToUserName", "FromUserName", "MsgType", "Event", "EventKey", "Content"):
        if name in fields and not (fields[name] is None or isinstance(fields[name], str)):
            raise Refused(400, f"{name} is not text")
    if not isinstance(fields.get("MsgType"), str) or not fields["MsgType"]:
        raise Refused(400, "no MsgType")
    if not _DIGITS.match(fields.get("CreateTime") or ""):
        raise Refused(400, "bad CreateTime")
    for name in ("MsgId", "MsgID"):
        if fields.get(name) is not None and not _DIGITS.match(str(fields[name])):
            raise Refused(400, f"bad {name}")


def _aes_key() -> bytes:
    return base64.b64decode(current_app.config["WECHAT_ENCODING_AES_KEY"] + "=")


def decrypt(envelope: dict, token: str, args) -> str:
    """The plaintext XML inside a safe-mode envelope, after checking msg_signature."""
    encrypted = envelope.get("Encrypt")
    if not isinstance(encrypted, str) or not encrypted:
        raise Refused(400, "no Encrypt element")
    expected = sign(token, args.get("timestamp", ""), args.get("nonce", ""), encrypted)
    if not _same(expected, args.get("msg_signature")):
        raise Refused(403, "bad msg_signature")
    try:
        plain = PrpCrypto(_aes_key()).decrypt(encrypted, current_app.config["WECHAT_APP_ID"])
    except InvalidAppIdException:
        raise Refused(403, "encrypted for another app id") from None
    except Exception:  # noqa: BLE001 - bad base64, block size, padding, length: all "not for us"
        raise Refused(400, "cannot decrypt") from None
    return plain if isinstance(plain, str) else plain.decode("utf-8")


def dedupe_key(fields: dict) -> str:
    """The message's own id when it has one (MsgId, or MsgID on events such as delivery results),
    else FromUserName + CreateTime + Event, as WeChat advises."""
    event = (fields.get("Event") or "").lower() if fields.get("MsgType") == "event" else ""
    msg_id = fields.get("MsgId") or fields.get("MsgID")
    if msg_id and event:
        # Events number their ids apart from messages: two delivery results of one user in the
        # same second are two events, and must not collide with a message's MsgId either.
        return f"{DEDUPE_PREFIX}evid:{event}:{msg_id}"
    if msg_id:
        return f"{DEDUPE_PREFIX}id:{msg_id}"
    return (f"{DEDUPE_PREFIX}ev:{fields.get('FromUserName') or ''}:{fields.get('CreateTime')}:"
            f"{(fields.get('Event') or '').lower()}")


def handle_once(fields: dict) -> str:
    """The plaintext reply XML ("" for none), computed once per message however often it arrives.

    Two Redis round trips for a new message: one pipeline claims the message (SET NX), reads
    whatever an earlier delivery left there and whether the sender was upserted within the last
    minute; one pipeline, after the commit, stores the reply and the sender's seen-marker.
    """
    redis = get_redis()
    key = dedupe_key(fields)
    claimed, earlier = _claim(redis, key, fields.get("FromUserName"))
    if not claimed:
        count_callback("duplicate")
        return _earlier_reply(redis, key, earlier)
    try:
        reply = _handle(fields)
        if db.session.registry.has() and db.session().in_transaction():
            db.session.commit()  # most messages read and write nothing: no session, no commit
    except BaseException:
        count_callback("error")
        db.session.rollback()
        forget_seen()
        redis.delete(key)  # let WeChat's retry handle it afresh
        raise
    done = DONE + reply.encode("utf-8")
    markers = seen_markers_to_set()
    if markers:
        pipe = redis.pipeline(transaction=False)
        for marker, ttl in markers:
            pipe.set(marker, 1, ex=ttl)
        pipe.set(key, done, ex=DONE_TTL).execute()
    else:
        redis.set(key, done, ex=DONE_TTL)
    count_callback("handled")
    return reply


def _claim(redis, key: str, openid: str | None) -> tuple[bool, bytes | None]:
    """Claim the message in one round trip: (claimed, what an earlier delivery stored)."""
    pipe = redis.pipeline(transaction=False)
    pipe.set(key, PROCESSING, nx=True, ex=PROCESSING_TTL)
    pipe.get(key)
    if openid:
        pipe.exists(seen_key(openid))
    claimed, value, *seen = pipe.execute()
    if claimed and openid:
        note_seen_marker(openid, bool(seen[0]))
    return bool(claimed), value


def _earlier_reply(redis, key: str, value: bytes | None) -> str:
    deadline = time.monotonic() + RETRY_WAIT_SECONDS
    while True:
        if value is not None and value.startswith(DONE):
            return value[len(DONE):].decode("utf-8")
        if value is None or time.monotonic() > deadline:
            return ""  # the first delivery failed or is still running: do not answer twice
        time.sleep(0.05)
        value = redis.get(key)


def _handle(fields: dict) -> str:
    message = message_of(fields)
    reply = router.route(message)
    return create_reply(reply, message=message, render=True) if reply is not None else ""


def message_of(fields: dict):
    """wechatpy's message or event object for fields already parsed by parse_xml.

    The same choice of class as wechatpy's parse_message, without parsing the XML a third time.
    """
    message = dict(fields)  # wechatpy rewrites Event/EventKey of a scan-to-follow in place
    kind = message["MsgType"].lower()
    if kind != "event" and not kind.startswith("device_"):
        return MESSAGE_TYPES.get(kind, UnknownMessage)(message)
    event = message["Event"].lower() if message.get("Event") else None
    if event is None and kind.startswith("device_"):
        event = kind
    elif kind.startswith("device_"):
        event = f"device_{event}"
    key = message.get("EventKey") or ""
    if event == "subscribe" and key.startswith(("scanbarcode|", "scanimage|")):
        event = message["Event"] = "subscribe_scan_product"
    elif event == "subscribe" and key.startswith("qrscene_"):
        event = message["Event"] = "subscribe_scan"
        message["EventKey"] = key[len("qrscene_"):]
    return EVENT_TYPES.get(event, UnknownMessage)(message)


def _text(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/plain")


@bp.route("/callback", methods=["GET", "POST"])
def callback():
    """WeChat's server URL: echostr verification (GET) and every message and event (POST)."""
    return respond(request)


def respond(req) -> Response:
    """The answer to one request from WeChat's servers (a werkzeug Request), in an app context."""
    config = current_app.config
    token = config.get("WECHAT_TOKEN")
    if not token:
        return _text("not configured", 503)
    try:
        check_request_signature(token, req.args)
        if req.method == "GET":
            return _text(req.args.get("echostr", ""))
        return _answer(req, token)
    except Refused as refused:
        if req.method == "POST":
            count_callback("refused")
        current_app.logger.info("wechat callback refused (%s): %s", refused.status, refused.reason)
        return _text(refused.reason, refused.status)


def _answer(req, token: str) -> Response:
    config = current_app.config
    mode = config.get("WECHAT_MESSAGE_MODE") or "safe"
    encrypted = req.args.get("encrypt_type") == "aes"
    if mode == "safe" and not encrypted:
        raise Refused(400, "safe mode accepts only encrypted messages")
    if mode == "plain" and encrypted:
        raise Refused(400, "plaintext mode is configured")
    body = read_body(req)
    fields = parse_xml(body)
    if encrypted:
        fields = parse_xml(decrypt(fields, token, req.args))
    _check_message(fields)
    reply = handle_once(fields)
    if not reply:
        return _text("success")
    if encrypted:
        crypto = WeChatCrypto(token, config["WECHAT_ENCODING_AES_KEY"], config["WECHAT_APP_ID"])
        reply = crypto.encrypt_message(reply, req.args.get("nonce", ""), str(int(time.time())))
    return Response(reply, mimetype="application/xml")


# -- the fast path -------------------------------------------------------------------------------

PATH = "/wechat/callback"
ENDPOINT = "wechat_callback.callback"


class FastCallback:
    """WSGI middleware: POST /wechat/callback straight to respond(), around Flask's request cycle.

    WeChat's servers post every message of every follower here, and none of the per-request
    work of the pages applies to them: no cookie session, no signed-in officer, no rate limit
    (the callback is exempt), no CSRF, no page headers, no request log line (refusals and errors
    are still logged; every answer is counted in /metrics). Only an app context is pushed — the
    caller's when one for this app is active, as Flask does — for config, database and Redis.
    Errors are answered as the app's error handlers answer the callback: 503 "success" while
    the database or Redis is away (the message's claim was dropped, so WeChat's retry is new),
    else 500. Everything else (GET verification included) goes through Flask as before.
    """

    def __init__(self, app, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST":
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        context = None
        if not (has_app_context() and current_app._get_current_object() is self.app):
            context = self.app.app_context()
            context.push()
        try:
            response = self._respond(Request(environ))
            observe_request(ENDPOINT, "POST", response.status_code, time.perf_counter() - started)
        finally:
            if context is not None:
                context.pop()
        return response(environ, start_response)

    def _respond(self, req) -> Response:
        try:
            return respond(req)
        except _unavailable_errors() as exc:
            _forget_session()
            self.app.logger.warning("backing server unavailable on %s: %s", PATH, type(exc).__name__)
            return Response("success", status=503, mimetype="text/plain",
                            headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        except Exception:  # noqa: BLE001 - never a traceback to WeChat; the log has it
            db.session.rollback()
            self.app.logger.exception("unhandled error on %s", PATH)
            return _text(MESSAGES[500], 500)


def install_fast_path(app) -> None:
    """Serve the callback's POSTs through FastCallback (outermost, so nothing else runs first)."""
    app.wsgi_app = FastCallback(app, app.wsgi_app)
