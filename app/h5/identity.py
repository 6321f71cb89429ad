"""Who the H5 visitor is: the WeChat user identified by OAuth (wechat.oauth)."""
from __future__ import annotations

import functools

from app.models import WeChatUser
from wechat.oauth import current_wechat_user, h5_login_required


def current_user() -> WeChatUser | None:
    """The WeChat user of this H5 session, or None before OAuth."""
    return current_wechat_user()


def user_required(view):
    """Send the visitor through WeChat OAuth first; the view gets the WeChatUser first."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        def inner(*a, **kw):
            return view(current_user(), *a, **kw)

        return h5_login_required(inner)(*args, **kwargs)

    return wrapper
