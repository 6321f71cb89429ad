"""The peer for bench/callback.py: wechatpy's own documented Flask echo handler, in safe mode.

It follows wechatpy's example `examples/echo/app.py` (the "encryption mode" branch) step by step:
`check_signature` on the query, `WeChatCrypto.decrypt_message` (msg_signature, AES),
`parse_message`, `create_reply` (the text echoed back, or a fixed sentence for anything else) and
`encrypt_message`. Like the example it has no de-duplication, no database and no Redis: it is
what the protocol work alone costs. Token, AES key and app id come from the same environment
variables the app reads, so both servers accept the very same encrypted requests.

    gunicorn 'bench.wechatpy_echo:create_peer_app()'
"""
from __future__ import annotations

import os


def create_peer_app():
    """The documented handler at /wechat, plus /healthz for the bench's readiness probe."""
    from flask import Flask, abort, request
    from wechatpy import create_reply, parse_message
    from wechatpy.crypto import WeChatCrypto
    from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
    from wechatpy.utils import check_signature

    token = os.environ["WECHAT_TOKEN"]
    aes_key = os.environ["WECHAT_ENCODING_AES_KEY"]
    app_id = os.environ["WECHAT_APP_ID"]
    peer = Flask("wechatpy_echo")

    @peer.route("/wechat", methods=["GET", "POST"])
    def wechat():
        signature = request.args.get("signature", "")
        timestamp = request.args.get("timestamp", "")
        nonce = request.args.get("nonce", "")
        encrypt_type = request.args.get("encrypt_type", "raw")
        msg_signature = request.args.get("msg_signature", "")
        try:
            check_signature(token, signature, timestamp, nonce)
        except InvalidSignatureException:
            abort(403)
        if request.method == "GET":
            return request.args.get("echostr", "")
        if encrypt_type == "raw":  # plaintext mode (the bench sends safe mode only)
            msg = parse_message(request.data)
            text = msg.content if msg.type == "text" else "Sorry, can not handle this for now"
            return create_reply(text, msg).render()
        crypto = WeChatCrypto(token, aes_key, app_id)
        try:
            xml = crypto.decrypt_message(request.data, msg_signature, timestamp, nonce)
        except (InvalidSignatureException, InvalidAppIdException):
            abort(403)
        msg = parse_message(xml)
        if msg.type == "text":
            reply = create_reply(msg.content, msg)
        else:
            reply = create_reply("Sorry, can not handle this for now", msg)
        return crypto.encrypt_message(reply.render(), nonce, timestamp)

    @peer.get("/healthz")
    def healthz():
        return "ok"

    return peer
