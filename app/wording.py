"""The words people read for the codes the system stores: channels, roles, field paths, next steps.

Pages and push texts use these so that no page shows `wechat_h5`, `tenants.0` or `True`.
"""
from __future__ import annotations
from app.identity import region_name

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
    owner, _, last = where.rpartition("的")
    if owner and last and message.startswith(last):
        return f"{owner}的{message}"  # "第2位租客的" + "入住日期不能晚于今天"
    return f"{where}：{message}"


def yes_no(value) -> str:
    """True/False as 是/否 ("" for None)."""
    if value is None:
        return ""
    return "是" if value else "否"


# ISO 3166 alpha-3 codes of the nationalities a branch meets most, in Chinese.
NATIONALITY_LABELS = {
    "CHN": "中国", "HKG": "中国香港", "MAC": "中国澳门", "TWN": "中国台湾",
    "USA": "美国", "CAN": "加拿大", "MEX": "墨西哥", "BRA": "巴西", "ARG": "阿根廷",
    "GBR": "英国", "FRA": "法国", "DEU": "德国", "ITA": "意大利", "ESP": "西班牙",
    "PRT": "葡萄牙", "NLD": "荷兰", "BEL": "比利时", "CHE": "瑞士", "AUT": "奥地利",
    "SWE": "瑞典", "NOR": "挪威", "DNK": "丹麦", "FIN": "芬兰", "POL": "波兰", "IRL": "爱尔兰",
    "RUS": "俄罗斯", "UKR": "乌克兰", "BLR": "白俄罗斯", "KAZ": "哈萨克斯坦", "UZB": "乌兹别克斯坦",
    "KGZ": "吉尔吉斯斯坦", "TJK": "塔吉克斯坦", "MNG": "蒙古", "PRK": "朝鲜", "KOR": "韩国",
    "JPN": "日本", "VNM": "越南", "LAO": "老挝", "KHM": "柬埔寨", "THA": "泰国", "MMR": "缅甸",
    "MYS": "马来西亚", "SGP": "新加坡", "IDN": "印度尼西亚", "PHL": "菲律宾", "IND": "印度",
    "PAK": "巴基斯坦", "BGD": "孟加拉国", "NPL": "尼泊尔", "LKA": "斯里兰卡", "AFG": "阿富汗",
    "IRN": "伊朗", "IRQ": "伊拉克", "SAU": "沙特阿拉伯", "ARE": "阿联酋", "TUR": "土耳其",
    "ISR": "以色列", "EGY": "埃及", "NGA": "尼日利亚", "ETH": "埃塞俄比亚", "KEN": "肯尼亚",
    "ZAF": "南非", "MAR": "摩洛哥", "DZA": "阿尔及利亚", "AUS": "澳大利亚", "NZL": "新西兰",
}


def nationality_label(code: str | None) -> str:
    """"CHN" → "中国"; an unlisted code is named as a foreign nationality, never shown bare."""
    if not code:
        return ""
    code = str(code).strip().upper()
    return NATIONALITY_LABELS.get(code, f"外国（代码{code}）" if code else "")


AUDIT_ACTION_LABELS = {
    "officer.login": "登录", "officer.login_failed": "登录失败", "officer.locked": "登录失败过多被暂停",
    "officer.logout": "退出登录", "officer.password_change": "修改密码",
    "officer.reset_password": "重置密码", "officer.create": "新建账号", "officer.update": "修改账号",
    "officer.activate": "启用或停用账号",
    "declaration.approve": "审核通过申报", "declaration.flag": "申报需上门核实",
    "declaration.reject": "退回申报", "declaration.bulk_approve": "批量通过申报",
    "declaration.choose_address": "确定申报地址", "declaration.reveal": "查看申报中的完整号码",
    "person.reveal_document": "查看完整证件号码", "person.reveal_phone": "查看完整手机号码",
    "search.export": "导出查询结果（脱敏）", "search.export_full": "导出查询结果（完整号码）",
    "address.edit": "修改地址", "address.import": "导入地址", "plates.issue": "发放门牌",
    "alert.close": "办结预警", "claim.approve": "同意认领申请", "claim.refuse": "驳回认领申请",
    "claim.withdraw": "撤回认领申请", "claim.file_house": "申请认领房屋",
    "claim.file_employer": "申请认领单位",
    "house.agent_set": "设置托管人", "house.agent_removed": "取消托管人",
    "penalty.record": "记录处罚决定",
}

AUDIT_OBJECT_LABELS = {"declaration": "申报", "person": "人员", "address": "地址",
                       "officer": "账号", "house": "房屋", "employer": "单位",
                       "ownership_claim": "认领申请", "alert": "预警", "penalty": "处罚决定"}


def audit_action_label(action: str | None) -> str:
    """An audit action in Chinese ("declaration.reject" → "退回申报")."""
    return AUDIT_ACTION_LABELS.get(action or "", "其他操作")


def channel_label(channel: str | None) -> str:
    """A collection channel in Chinese (微信公众号 / 小程序 / 警务通 / 民警录入)."""
    return CHANNEL_LABELS.get(channel or "", "其他渠道")


def region_label(code: str | None) -> str:
    """A GB/T 2260 region code as its place name ("350203" → "福建省厦门市思明区")."""
    if not code:
        return ""
    try:
        return region_name(str(code)) or "未知地区"
    except Exception:  # noqa: BLE001 - a malformed stored code is shown as unknown, never a 500
        return "未知地区"
