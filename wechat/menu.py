"""The official account's custom menu, declared as data and published through the API client."""
from __future__ import annotations

from flask import current_app

from wechat.client import get_client


def menu_definition() -> dict:
    """The menu: declare by door plate, my houses and declarations, residence permit, help."""
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return {"button": [
        {"type": "click", "name": "我要申报", "key": "DECLARE"},
        {"name": "我的", "sub_button": [
            {"type": "view", "name": "我的房屋", "url": f"{base}/h5/houses"},
            {"type": "view", "name": "我的申报", "url": f"{base}/h5/declarations"},
            {"type": "view", "name": "我的居住登记", "url": f"{base}/h5/me"},
            {"type": "click", "name": "居住证", "key": "RESIDENCE_PERMIT"},
        ]},
        {"type": "click", "name": "帮助", "key": "HELP"},
    ]}


def publish_menu() -> dict:
    """Publish the menu (to the sandbox in development); returns WeChat's answer."""
    return get_client().menu.create(menu_definition())
