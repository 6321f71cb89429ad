"""What a WeChat user may see and act on: their own houses, declarations and employer."""
from __future__ import annotations

from sqlalchemy import or_, select

from app.extensions import db
from app.models import Address, Declaration, Employer, Employment, House, Residence, WeChatUser
from app.services.declarations.declare import find_by_receipt_code
from app.services.declarations.declare import residence_permit_date
from app.services.errors import NotFound, RuleError


class NotYours(NotFound):
    """The object does not exist or belongs to someone else (answered as 404, never 403)."""

    def __init__(self, message: str = "未找到，或您无权查看"):
        super().__init__(message)


def address_by_token(token: str, field: str | None = None) -> Address:
    """The active address behind a door-plate token; a 404 (path) or field error (body) if none."""
    address = db.session.execute(
        select(Address).where(Address.qr_token == (token or "").strip())).scalar_one_or_none()
    if address is None or address.status != "active":
        if field is None:
            raise NotFound()
        raise RuleError(field, "门牌码无效或地址已停用，请重新扫描门牌")
    return address


def house_at_token(token: str, field: str = "qr_token") -> House:
    """The registered house at a door plate, for tenants declaring themselves."""
    house = house_at_address(address_by_token(token, field=field))
    if house is None:
        raise RuleError(field, "该地址尚未登记出租房屋，请联系房东先登记房屋")
    return house



def houses_of(user: WeChatUser) -> list[House]:
    """Houses the user registered or owns (as the owner or the agent)."""
    conditions = [House.owner_wechat_user_id == user.id]
    if user.person_id:
        conditions += [House.owner_person_id == user.person_id,
                       House.agent_person_id == user.person_id]
    return list(db.session.execute(
        select(House).where(or_(*conditions)).order_by(House.id)).scalars())



def house_addresses_of_follower(openid: str) -> list[str]:
    """The addresses (full text) of houses_of() the WeChat user with this openid, in one query
    of one column (the official account's 「我的房屋」 answer, inside WeChat's 5-second budget)."""
    user = select(WeChatUser.id).where(WeChatUser.openid == openid)
    user_id = user.scalar_subquery()
    person_id = user.with_only_columns(WeChatUser.person_id).scalar_subquery()
    # A user without a person has person_id NULL, which equals nothing: as houses_of().
    return list(db.session.execute(
        select(Address.full_text).join(House, House.address_id == Address.id)
        .where(or_(House.owner_wechat_user_id == user_id, House.owner_person_id == person_id,
                   House.agent_person_id == person_id)).order_by(House.id)).scalars())

def owns(user: WeChatUser, house: House) -> bool:
    """Whether the user registered or owns the house (as the owner or the agent)."""
    return house.owner_wechat_user_id == user.id or (
        user.person_id is not None
        and user.person_id in (house.owner_person_id, house.agent_person_id))


def is_owner(user: WeChatUser, house: House) -> bool:
    """The owner proper, not the agent: the owner WeChat user or the proof-linked owner person."""
    return house.owner_wechat_user_id == user.id or (
        user.person_id is not None and user.person_id == house.owner_person_id)


def owned_house(user: WeChatUser, house_id: int) -> House:
    """A house of which the user is the owner proper (agents get NotYours, as strangers do)."""
    house = db.session.get(House, house_id)
    if house is None or not is_owner(user, house):
        raise NotYours()
    return house


def my_house(user: WeChatUser, house_id: int) -> House:
    house = db.session.get(House, house_id)
    if house is None or not owns(user, house):
        raise NotYours()
    return house


def live_residences(house: House) -> list[Residence]:
    return list(db.session.execute(
        select(Residence).where(Residence.house_id == house.id,
                                Residence.active_slot.is_not(None))
        .order_by(Residence.start_date)).scalars())


def my_declaration(user: WeChatUser, declaration_id: int) -> Declaration:
    declaration = db.session.get(Declaration, declaration_id)
    if declaration is None or declaration.submitter_wechat_user_id != user.id:
        raise NotYours()
    return declaration


class NeedsRealName(RuleError):
    """The user must first be proven to be a person (实名核验 or an officer) to do this."""

    def __init__(self):
        super().__init__("real_name", "请先完成实名核验，再确认房东为您办理的申报")


def confirmable(user: WeChatUser, receipt_code: str) -> tuple[Declaration, str]:
    """A declaration this user may confirm, and the role they confirm it in.

    The landlord confirms a tenant's self-declaration at their house; a tenant confirms a
    landlord's move-in naming them only once the WeChat user is proven to be that person —
    typing a document number proves nothing (raises NeedsRealName for an unlinked user).
    """
    declaration = find_by_receipt_code(receipt_code)
    if declaration is None or declaration.kind not in ("move_in", "self"):
        raise NotYours()
    house = db.session.get(House, declaration.house_id) if declaration.house_id else None
    if declaration.kind == "self" and house is not None and owns(user, house):
        return declaration, "landlord"
    if declaration.kind == "move_in":
        if not user.person_id:
            raise NeedsRealName()
        tenant_ids = {t.get("person_id") for t in declaration.payload.get("tenants", [])}
        if user.person_id in tenant_ids:
            return declaration, "tenant"
    raise NotYours()


def self_declaration_at(user: WeChatUser, house_id: int, declaration_id: int) -> Declaration:
    """A tenant's self-declaration at one of the user's houses, for the landlord to answer."""
    house = my_house(user, house_id)
    declaration = db.session.get(Declaration, declaration_id)
    if declaration is None or declaration.kind != "self" or declaration.house_id != house.id:
        raise NotYours()
    return declaration


def my_residences(user: WeChatUser) -> list[Residence]:
    """The residences of the person this user is proven to be; none before linking."""
    if not user.person_id:
        return []
    return list(db.session.execute(
        select(Residence).where(Residence.person_id == user.person_id)
        .order_by(Residence.start_date.desc())).scalars())


def my_employer(user: WeChatUser, employer_id: int) -> Employer:
    employer = db.session.get(Employer, employer_id)
    if employer is None or user.employer_id != employer.id:
        raise NotYours()
    return employer


def house_at_address(address: Address) -> House | None:
    """The house registered at an address, if any."""
    return db.session.execute(select(House).where(House.address_id == address.id)).scalar()


def recent_declarations_at(house: House, limit: int = 20) -> list[Declaration]:
    """The house's latest declarations, newest first, for the landlord's house page."""
    return list(db.session.execute(
        select(Declaration).where(Declaration.house_id == house.id)
        .order_by(Declaration.id.desc()).limit(limit)).scalars())


def my_declarations(user: WeChatUser, limit: int) -> list[Declaration]:
    """The declarations this user submitted, newest first (H5 and API alike)."""
    return list(db.session.execute(
        select(Declaration).where(Declaration.submitter_wechat_user_id == user.id)
        .order_by(Declaration.id.desc()).limit(limit)).scalars())


def declaration_people(declaration: Declaration) -> tuple[list[Residence], list[Employment]]:
    """The residences and employments a declaration made, for its detail page."""
    residences = db.session.execute(select(Residence).where(
        Residence.declaration_id == declaration.id)).scalars().all()
    employments = db.session.execute(select(Employment).where(
        Employment.declaration_id == declaration.id)).scalars().all()
    return list(residences), list(employments)


def current_workers(employer: Employer) -> list[Employment]:
    """The employer's workers still employed, in hiring order (H5 and API alike)."""
    return list(db.session.execute(select(Employment).where(
        Employment.employer_id == employer.id, Employment.active_slot.is_not(None))
        .order_by(Employment.id)).scalars())


def my_registrations(user: WeChatUser) -> list[dict]:
    """A tenant's own registrations with their address and the date a 居住证 may be applied for
    (H5 and API alike); none before the user is proven to be a person."""
    return [{"residence": r, "address": db.session.get(House, r.house_id).address.full_text,
             "permit_from": residence_permit_date(r.start_date)} for r in my_residences(user)]


def declaration_by_code(receipt_code: str) -> Declaration:
    """The declaration behind a receipt code; NotYours (404) when there is none."""
    declaration = find_by_receipt_code(receipt_code)
    if declaration is None:
        raise NotYours()
    return declaration


def plate_address(qr_token: str) -> Address | None:
    """The active address a scanned door-plate token names, or None (the door-plate page)."""
    if len(qr_token) > 64:
        return None
    address = db.session.execute(select(Address).where(Address.qr_token == qr_token)).scalar()
    return address if address is not None and address.status == "active" else None
