"""H5 views: the landing page and the door-plate page a scan opens."""
from urllib.parse import urlsplit

from flask import abort, redirect, render_template, request, url_for
from werkzeug.routing import BuildError

from app.h5 import bp
from app.h5.identity import user_required
from app.services.declarations import ownership
from app.urls import same_site_path


@bp.app_context_processor
def _navigation():
    return {"back_url": back_url}


def back_url() -> str:
    """Where 返回 leads: the page this one was opened from on this site, else the landing page."""
    previous = same_site_path(_referrer_path())
    if previous and previous != request.full_path.rstrip("?"):
        return previous
    return url_for("h5.index")


def _referrer_path() -> str | None:
    ref = request.referrer
    if not ref:
        return None
    parts = urlsplit(ref)
    if parts.netloc and parts.netloc != request.host:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


@bp.get("/")
def index():
    """Landing page: what Anju is and how to declare."""
    return render_template("h5/index.html")


def _link(endpoint: str, **values) -> str | None:
    # Pages built by later issues may not exist yet: the action is then shown as 即将开放.
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


@bp.get("/h5/a/<qr_token>")
@user_required
def address(user, qr_token: str):
    """The door-plate page: the scanned address and what can be declared at it."""
    found = ownership.plate_address(qr_token)
    if found is None:
        abort(404, description="没有找到这个门牌，可能已经停用。请重新扫描门牌上的二维码，或联系社区民警。")
    house = ownership.house_at_address(found)
    return render_template("h5/address.html", address=found, house=house,
                           actions=_actions(user, house, qr_token), user=user)


def _actions(user, house, qr_token: str) -> list[tuple]:
    """What can be declared at a scanned door plate, for this user."""
    # Only the owner or agent is taken to the house; anyone else may only file a claim.
    mine = house is not None and ownership.owns(user, house)
    taken = house is not None and not mine
    return [
        ("申请变更房主", "这套房屋已由他人登记；如您是房主，可提出申请，由民警核实",
         _link("h5.register_house", token=qr_token)) if taken else
        ("登记房屋", "我是房东，登记这套房屋并签署治安责任保证书",
         _link("h5.house", house_id=house.id) if mine
         else _link("h5.register_house", token=qr_token)),
        *([] if house is not None and not mine else [
            ("申报租客", "我是房东，申报租客入住或退租",
             _link("h5.move_in", house_id=house.id) if mine else None)]),
        ("我是租客", "自行申报在这里居住，或确认房东的申报", _link("h5.self_declare", token=qr_token)),
        ("用工单位", "登记单位并申报员工入职、离职", _link("h5.register_employer", token=qr_token)),
    ]


@bp.get("/h5/employers")
@user_required
def employers(user):
    """单位申报 from the landing page: the user's unit, or how to register one."""
    if user.employer_id:
        return redirect(url_for("h5.employer", employer_id=user.employer_id))
    return render_template("h5/employers.html", user=user)
