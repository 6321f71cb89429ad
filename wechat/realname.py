"""Real-name checks (实名核验) for the service layer's `RealNameCheck` port.

WeChat's identity verification for government services is 微信人脸核身 (face verification
against the authoritative source): the server calls `cityservice/face/identify/getverifyid` with
the claimed name and resident ID and the user's openid, the *mini-program* front end runs
`wx.requestFacialVerify(verifyId)`, and the server confirms with
`cityservice/face/identify/queryverifyinfo` (`verify_ret == 10000`, checked against the same
openid and a hash of the claim). It is granted only to mini-programs of approved
government categories (政务民生) and cannot run inside an official-account H5 page, so until the
mini-program front end is built and the capability is granted, production uses
`WeChatRealNameNotOpened`: it reports "未开通", and only an officer can link a user to a person.
"""
from __future__ import annotations

from app.models import WeChatUser
from app.services.people.linking import RealNameClaim, RealNameStart

NOT_OPENED = ("微信实名核验暂未开通。请携带本人身份证到社区警务室，"
              "出示「我的居住登记」页面上的关联码，由民警核实后为您关联。")


class WeChatRealNameNotOpened:
    """Production until 微信人脸核身 is granted: no check is available, so nothing is verified."""

    label = "微信实名核验（未开通）"

    def start(self, user: WeChatUser, claim: RealNameClaim, return_url: str) -> RealNameStart:
        return RealNameStart(url=None, message=NOT_OPENED)

    def verified(self, user: WeChatUser, claim: RealNameClaim, ticket: str) -> bool | None:
        return False
