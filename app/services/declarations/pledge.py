"""The 治安责任保证书 text, versioned: landlords sign a specific version."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app.extensions import db
from app.models import PledgeVersion

DEFAULT_VERSION = "2026.1"
DEFAULT_TITLE = "出租房屋治安责任保证书"
DEFAULT_TEXT = """本人作为出租房屋的出租人（或托管人），自愿作出如下保证：
一、不将房屋出租给无合法有效身份证件的人员，承租人入住时查验其身份证件，并如实登记姓名、证件种类和号码等信息。
二、承租人入住、退租之日起三日内（境外人员二十四小时内）通过微信向公安机关申报，信息变更时及时更正。
三、每三十日确认一次承租人是否仍在居住，做到人来即登、人走即销。
四、发现承租人有违法犯罪活动嫌疑的，及时向公安机关报告。
五、对出租房屋的消防、治安安全负责，不将房屋出租给他人从事违法犯罪活动。
六、配合公安机关和社区的检查、核查工作，如实提供情况。
本人已知悉：不按规定登记承租人信息的，由公安机关依照《中华人民共和国治安管理处罚法》的规定予以处罚。"""


def current_pledge() -> PledgeVersion:
    """The newest pledge version in force; the shipped default is created on first use."""
    today = date.today()
    version = db.session.execute(
        select(PledgeVersion)
        .where(PledgeVersion.effective_from <= today)
        .order_by(PledgeVersion.effective_from.desc(), PledgeVersion.id.desc())
        .limit(1)
    ).scalar()
    if version is None:
        version = PledgeVersion(version=DEFAULT_VERSION, title=DEFAULT_TITLE, text=DEFAULT_TEXT,
                                effective_from=date(2026, 1, 1))
        db.session.add(version)
        db.session.flush()
    return version
