"""The words people read for the codes the system stores: channels, roles, field paths, next steps.

Pages and push texts use these so that no page shows `wechat_h5`, `tenants.0` or `True`.
"""
from __future__ import annotations

CHANNEL_LABELS = {
    "wechat_h5": "微信公众号", "h5": "微信公众号", "wechat": "微信公众号", "official_account": "微信公众号",
    "miniapp": "小程序", "mini_program": "小程序",
    "field": "警务通", "mobile": "警务通", "police_mobile": "警务通", "officer_api": "警务通",
    "console": "民警录入", "officer": "民警录入", "import": "批量导入", "demo": "演示数据",
}

ROLE_LABELS = {"landlord": "房东", "agent": "托管人", "tenant": "租客本人", "employer": "用工单位",
               "officer": "民警", "system": "系统", "import": "批量导入"}

SEX_LABELS = {"M": "男", "F": "女"}

# The next step a submitter reads on the receipt, by status.
NEXT_STEPS = {
    "received": "系统正在核验，一般几分钟内完成，结果会通过微信通知您。",
    "validating": "系统正在核验，一般几分钟内完成，结果会通过微信通知您。",
    "verified": "核验已通过，无需再办理。人员有变化时请及时申报。",
    "needs_review": "需要民警审核，审核结果会通过微信通知您，请留意。",
    "approved": "民警已审核通过，无需再办理。",
    "flagged": "民警需要上门核实，会与您联系，请保持电话畅通。",
    "rejected": "申报被退回，请按退回原因更正后重新申报。",
}

# The Chinese name of each payload/form field, as a person says it.
FIELD_NAMES = {
    "document_number": "证件号码", "document_type": "证件类型", "name": "姓名", "phone": "手机号码",
    "start_date": "入住日期", "end_date": "离开日期", "room": "房间", "address_text": "地址",
    "nationality": "国籍", "relation": "与房东关系", "relation_to_landlord": "与房东关系",
    "rental_type": "出租类型", "rooms": "房间数", "job": "岗位", "qr_token": "门牌",
    "dormitory_qr_token": "宿舍门牌", "dormitory_address": "宿舍地址", "uscc": "统一社会信用代码",
    "contact_name": "联系人", "contact_phone": "联系电话", "area_m2": "面积", "monthly_rent": "月租金",
    "residence_ids": "退租租客", "employment_ids": "离职员工", "signer_name": "签名",
    "agree": "同意保证书", "address": "地址", "is_rental": "是否出租", "house_id": "房屋",
    "person_id": "人员", "employer_id": "单位", "residence_id": "租客", "address_id": "地址",
}

# Lists in a payload and what one item of each is called ("第1位租客").
LIST_ITEMS = {"tenants": "租客", "workers": "员工"}
# Nested objects ("owner.name" → "房主的姓名").
OBJECT_NAMES = {"owner": "房主", "agent": "托管人", "me": "本人", "employer": "单位",
                "before": "更正前", "after": "更正后"}


def field_sentence(path: str | None) -> str:
    """"tenants.0.document_number" → "第1位租客的证件号码"; "owner.phone" → "房主的手机号码"."""
    if not path:
        return ""
    parts = [p for p in str(path).replace("-", ".").split(".") if p != ""]
    words: list[str] = []
    i = 0
    while i < len(parts):
        part = parts[i]
        if part in LIST_ITEMS and i + 1 < len(parts) and parts[i + 1].isdigit():
            words.append(f"第{int(parts[i + 1]) + 1}位{LIST_ITEMS[part]}")
            i += 2
            continue
        if part in LIST_ITEMS:
            words.append(LIST_ITEMS[part])
        elif part.isdigit():
            words.append(f"第{int(part) + 1}项")
        elif part in OBJECT_NAMES:
            words.append(OBJECT_NAMES[part])
        else:
            words.append(FIELD_NAMES.get(part, "其他信息"))
        i += 1
    return "的".join(words)


def reason_sentence(field: str | None, message: str) -> str:
    """A validation reason as one sentence: "第1位租客的证件号码：身份证号码有误，请核对最后一位"."""
    where = field_sentence(field)
    message = (message or "").strip()
    if not where or where in message:
        return message
    return f"{where}：{message}"


def yes_no(value) -> str:
    """True/False as 是/否 ("" for None)."""
    if value is None:
        return ""
    return "是" if value else "否"
