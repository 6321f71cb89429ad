"""What the official account answers: one handler per message or event kind, replies in Chinese.

Handlers run inside WeChat's 5-second budget: they read a row or two and flush; anything slower
is enqueued as a job (wechat/jobs.py) to run after the callback commits.
"""
from __future__ import annotations

import re
import unicodedata

from flask import current_app
from sqlalchemy import select
from wechatpy.replies import ArticlesReply, BaseReply, TextReply

from app.extensions import db
from app.models import Address
from app.services.declarations.ownership import house_addresses_of_follower
from wechat import jobs, users
from workers.queues import enqueue_after_commit

# Text commands and their close variants (traditional characters, synonyms). The first command
# whose word occurs in the message wins, so the more specific ones come first ("退租申报" → 退租).
COMMANDS: list[tuple[str, tuple[str, ...]]] = [
    ("move_out", ("退租", "退房", "搬走", "搬离", "搬出", "停租", "租客走了", "注销")),
    ("permit", ("居住证", "居住證", "签注", "簽注", "暂住证", "暫住證")),
    ("my_houses", ("我的房屋", "我的房子", "我的出租屋", "我的房產", "我的房产", "我的房",
                   "房屋列表", "我的租客")),
    ("declare", ("申报", "申報", "登记", "登記", "报备", "報備", "入住", "备案")),
    ("help", ("帮助", "幫助", "help", "菜单", "選單", "说明", "說明", "怎么用", "怎麼用", "?", "？")),
]
# Menu CLICK keys (see wechat/menu.py) → the same answers as the text commands.
CLICK_KEYS = {"DECLARE": "declare", "MY_HOUSES": "my_houses", "MOVE_OUT": "move_out",
              "RESIDENCE_PERMIT": "permit", "HELP": "help"}
_NOISE = re.compile(r"[\s\u3000,.;:!~'\"，。；：！～、·…（）()【】\[\]<>《》「」『』]+")
QRSCENE_PREFIX = "qrscene_"


def public_url(path: str) -> str:
    """An absolute link for a WeChat reply (PUBLIC_BASE_URL + path)."""
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + path


def normalise(text: str) -> str:
    """Full-width to half-width, lower case, without spaces and punctuation."""
    return _NOISE.sub("", unicodedata.normalize("NFKC", text or "").lower())


def command_of(text: str) -> str | None:
    """The command a text message asks for, or None."""
    words = normalise(text)
    if not words:
        return None
    for command, variants in COMMANDS:
        if any(variant in words for variant in variants):
            return command
    return None


# -- answers -------------------------------------------------------------------------------------

def welcome_text() -> str:
    """What a new follower reads first."""
    return ("欢迎关注安居！\n"
            "房东扫描门牌上的二维码，就能在微信里登记出租房屋、申报租客入住和退租；"
            "租客也可以扫码自行申报。人来即登，人走即销。\n"
            "回复「申报」了解如何申报，回复「帮助」查看全部功能。")


def help_text() -> str:
    """The list of things the account understands."""
    return ("安居可以帮您：\n"
            "· 回复「申报」：如何登记房屋、申报租客\n"
            "· 回复「我的房屋」：查看您登记的房屋\n"
            "· 回复「退租」：租客搬走后如何申报退租\n"
            "· 回复「居住证」：何时可以申请居住证\n"
            "也可以直接扫描房屋门牌上的二维码开始申报。")


def declare_text() -> str:
    return ("申报方法：请扫描房屋门牌上的二维码，在打开的页面中登记房屋、申报租客，"
            "或以租客身份自行申报。租客入住后请在 3 天内申报（境外人员 24 小时内）。\n"
            f"已登记的房屋可在这里申报租客：{public_url('/h5/houses')}")


def my_houses_text(openid: str) -> str:
    addresses = house_addresses_of_follower(openid)
    if not addresses:
        return "您还没有登记房屋。请扫描房屋门牌上的二维码，按页面提示登记。"
    lines = [f"您登记了 {len(addresses)} 套房屋："]
    lines += [f"{i}. {text}" for i, text in enumerate(addresses[:10], start=1)]
    if len(addresses) > 10:
        lines.append(f"……共 {len(addresses)} 套")
    lines.append(f"查看租客、申报入住或退租：{public_url('/h5/houses')}")
    return "\n".join(lines)


def move_out_text() -> str:
    return ("租客搬走后请在 3 天内申报退租：打开「我的房屋」，选择房屋，点「申报租客退租」。\n"
            f"{public_url('/h5/houses')}")


def permit_text() -> str:
    return ("在本地登记居住满 6 个月后，可以到派出所申请居住证；之后每年需要签注一次，"
            "到期前我们会提醒您。\n"
            f"查看我的居住登记和可申请日期：{public_url('/h5/me')}")


def unknown_plate_text() -> str:
    return "没有找到这个门牌，可能已经停用。请联系社区民警，或回复「帮助」。"


def plate_articles(address) -> list[dict]:
    """The news reply to a door-plate scan: one article opening that address's H5 page."""
    return [{
        "title": f"门牌：{address.full_text}",
        "description": "点击进入：登记房屋、申报租客，或以租客身份自行申报",
        "image": "",
        "url": public_url(f"/h5/a/{address.qr_token}"),
    }]


def command_text(command: str, openid: str) -> str:
    """The answer to a text command or menu click."""
    if command == "declare":
        return declare_text()
    if command == "my_houses":
        return my_houses_text(openid)  # route() has upserted the user (users.seen)
    if command == "move_out":
        return move_out_text()
    if command == "permit":
        return permit_text()
    return help_text()


# -- routing -------------------------------------------------------------------------------------

def plate_reply(message, scene: str | None) -> BaseReply:
    """A door-plate scan: the address's H5 link, or a clear answer when the token is unknown."""
    token = (scene or "").strip()
    if token.startswith(QRSCENE_PREFIX):
        token = token[len(QRSCENE_PREFIX):]
    address = None
    if token and len(token) <= 64:
        # Only the three columns the reply needs: a scan is 15 % of all messages.
        address = db.session.execute(select(Address.qr_token, Address.full_text, Address.status)
                                     .where(Address.qr_token == token)).first()
    if address is None or address.status != "active":
        return TextReply(message=message, content=unknown_plate_text())
    return ArticlesReply(message=message, articles=plate_articles(address))


def route(message) -> BaseReply | None:
    """The reply to one parsed inbound message (None: answer "success", i.e. no reply)."""
    openid = message.source
    kind = message.type
    event = getattr(message, "event", None) if kind == "event" else None
    if event == "templatesendjobfinish":
        # Delivery results arrive in bulk; recording them is work for a job, not for the callback.
        enqueue_after_commit(jobs.record_template_delivery, int(message.id or 0),
                             str(message.status or ""))
        return None
    if not openid:
        return None
    if event in ("subscribe", "subscribe_scan", "unsubscribe"):
        user = users.upsert(openid)
        if event == "unsubscribe":
            users.mark_unsubscribed(user)
            return None
        users.mark_subscribed(user)
        scene = getattr(message, "scene_id", None) if event == "subscribe_scan" else None
        if scene:
            return plate_reply(message, scene)
        return TextReply(message=message, content=welcome_text())
    users.seen(openid)
    if event == "scan":
        return plate_reply(message, message.scene_id)
    if event == "click":
        command = CLICK_KEYS.get((message.key or "").strip().upper(), "help")
        return TextReply(message=message, content=command_text(command, openid))
    if event == "view":
        return None  # WeChat opens the link itself and shows no reply to a VIEW
    if kind == "text":
        command = command_of(message.content) or "help"
        return TextReply(message=message, content=command_text(command, openid))
    if kind == "event" and event in ("location", "view_miniprogram"):
        return None
    return TextReply(message=message, content=help_text())
