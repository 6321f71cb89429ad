"""OpenAPI 3 document for /api/v1, generated from the marshmallow schemas and the view docstrings."""
from __future__ import annotations

from decimal import Decimal

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app

from app.schemas import cases as cs
from app.schemas import claims as c
from app.schemas import declarations as s
from app.schemas import officer as o
from app.schemas import penalties as pn
from app.schemas import spot_checks as sc

# (method, path, view endpoint, request schema, response schema, response is a list)
OPERATIONS = [
    ("get", "/addresses/match", "api.match_addresses", None, s.AddressMatchOutSchema, False),
    ("get", "/communities", "api.communities", None, s.CommunityOutSchema, True),
    ("get", "/addresses/{token}", "api.address", None, s.AddressOutSchema, False),
    ("post", "/houses", "api.register_house", s.HouseInSchema, s.DeclarationOutSchema, False),
    ("get", "/houses", "api.my_houses", None, s.HouseOutSchema, True),
    ("get", "/houses/{house_id}", "api.house_detail", None, s.HouseDetailOutSchema, False),
    ("post", "/houses/{house_id}/pledge", "api.sign_pledge", s.PledgeInSchema,
     s.HouseOutSchema, False),
    ("post", "/houses/{house_id}/move-ins", "api.move_in", s.MoveInSchema,
     s.DeclarationOutSchema, False),
    ("post", "/houses/{house_id}/move-outs", "api.move_out", s.MoveOutSchema,
     s.DeclarationOutSchema, False),
    ("post", "/houses/{house_id}/confirm", "api.confirm_unchanged", None, s.HouseOutSchema,
     False),
    ("put", "/houses/{house_id}/vacancy", "api.set_vacancy", s.VacancySchema, s.HouseOutSchema,
     False),
    ("put", "/houses/{house_id}/agent", "api.set_agent", c.AgentInSchema, s.HouseOutSchema, False),
    ("delete", "/houses/{house_id}/agent", "api.remove_agent", None, s.HouseOutSchema, False),
    ("get", "/claims/{claim_id}", "api.claim_detail", None, c.ClaimOutSchema, False),
    ("post", "/claims/{claim_id}/withdraw", "api.withdraw_claim", None, c.ClaimOutSchema, False),
    ("get", "/declarations", "api.my_declarations", None, s.DeclarationOutSchema, True),
    ("get", "/declarations/{declaration_id}", "api.declaration_detail", None,
     s.DeclarationOutSchema, False),
    ("post", "/declarations/{declaration_id}/corrections", "api.correct", s.CorrectionSchema,
     s.DeclarationOutSchema, False),
    ("post", "/self-declarations", "api.self_declare", s.SelfDeclarationSchema,
     s.DeclarationOutSchema, False),
    ("post", "/declarations/{code}/confirm", "api.confirm", None, s.DeclarationOutSchema, False),
    ("get", "/me/registrations", "api.my_registrations", None, s.ResidenceOutSchema, True),
    ("post", "/employers", "api.register_employer", s.EmployerInSchema, s.DeclarationOutSchema,
     False),
    ("post", "/employers/{employer_id}/hires", "api.hire", s.HireSchema, s.DeclarationOutSchema,
     False),
    ("post", "/employers/{employer_id}/leaves", "api.leave", s.LeaveSchema,
     s.DeclarationOutSchema, False),
]
IDEMPOTENT = {"api.register_house", "api.move_in", "api.move_out", "api.correct",
              "api.self_declare", "api.register_employer", "api.hire", "api.leave"}
# Registering a house or employer someone else holds files an ownership claim (DESIGN §8).
CLAIM_RESPONSES = {
    "api.register_house": "该地址已有房屋登记，已提交房主变更申请，待社区民警核实：返回申请（ClaimOut），"
                          "通过前看不到该房屋",
    "api.register_employer": "该统一社会信用代码已有单位登记，已提交单位认领申请，待社区民警核实：返回申请"
                             "（ClaimOut），通过前看不到该单位",
}
# Query parameters of the GET operations that take them: (name, type, description, required).
QUERY_PARAMS = {
    "api.match_addresses": [("q", "string", "手填的地址", True),
                            ("community_id", "integer", "所在社区（GET /communities）", True)],
    "api.communities": [("q", "string", "社区名称（部分）", False)],
}
ERRORS = {"400": "输入有误：fields 按字段给出原因", "401": "未登录或登录已过期",
          "404": "未找到，或您无权查看", "429": "操作过于频繁"}

# The officer API (警务通), tag "officer": (method, path, endpoint, request, response, list,
# write). Every write takes an Idempotency-Key; sign-in and sign-out are session operations.
OFFICER_OPERATIONS = [
    ("post", "/officer/sign-in", "api.officer_sign_in", o.SignInSchema, o.SignInOutSchema,
     False, False),
    ("post", "/officer/sign-out", "api.officer_sign_out", None, o.SignOutSchema, False, False),
    ("get", "/officer/me", "api.officer_me", None, o.OfficerOutSchema, False, False),
    ("get", "/officer/tasks", "api.officer_tasks", None, o.TaskOutSchema, True, False),
    ("get", "/officer/tasks/{task_id}", "api.officer_task", None, o.TaskOutSchema, False, False),
    ("post", "/officer/tasks/{task_id}/items/{key}", "api.officer_complete_item",
     o.TaskItemInSchema, o.TaskOutSchema, False, True),
    ("get", "/officer/alerts", "api.officer_alerts", None, o.AlertOutSchema, True, False),
    ("post", "/officer/alerts/{alert_id}/close", "api.officer_close_alert", o.AlertCloseInSchema,
     o.AlertOutSchema, False, True),
    ("get", "/officer/kpis", "api.officer_kpis", None, o.KpiTableOutSchema, False, False),
    ("get", "/officer/spot-checks/house", "api.officer_spot_house", None, sc.SpotHouseOutSchema,
     False, False),
    ("post", "/officer/spot-checks", "api.officer_record_spot_check", sc.SpotCheckInSchema,
     sc.SpotCheckOutSchema, False, True),
    ("get", "/officer/spot-checks", "api.officer_spot_checks", None, sc.SpotCheckOutSchema,
     True, False),
    ("get", "/officer/spot-checks/{spot_check_id}", "api.officer_spot_check", None,
     sc.SpotCheckOutSchema, False, False),
    ("get", "/officer/spot-check-plan-items", "api.officer_plan_items", None,
     sc.PlanItemOutSchema, True, False),
    ("post", "/officer/spot-check-plans", "api.officer_create_plan", sc.PlanInSchema,
     sc.PlanOutSchema, False, True),
    ("post", "/officer/field-collections", "api.officer_field_collection",
     sc.FieldCollectionInSchema, sc.FieldCollectionOutSchema, False, True),
    ("get", "/officer/missed-registrations", "api.officer_missed_list", None,
     cs.MissedOutSchema, True, False),
    ("get", "/officer/missed-registrations/{missed_id}", "api.officer_missed", None,
     cs.MissedOutSchema, False, False),
    ("post", "/officer/missed-registrations/{missed_id}/close", "api.officer_close_missed",
     cs.MissedCloseInSchema, cs.MissedOutSchema, False, True),
    ("post", "/officer/penalties", "api.officer_record_penalty", pn.OfficerPenaltyInSchema,
     pn.PenaltyOutSchema, False, True),
    ("get", "/officer/penalties/{penalty_id}", "api.officer_penalty", None,
     pn.PenaltyOutSchema, False, False),
]
# Query parameters of officer reads (path parameters are read off the path).
OFFICER_QUERY = {"api.officer_missed_list": [
    {"name": "status", "in": "query", "required": False,
     "schema": {"type": "string", "enum": ["open", "resolved", "all"]},
     "description": "open=待追溯（缺省）, resolved=已办结, all=全部"},
    {"name": "source", "in": "query", "required": False,
     "schema": {"type": "string", "enum": ["case", "spot_check"]},
     "description": "case=案前比对, spot_check=抽查；缺省为全部"},
], "api.officer_spot_house": [
    {"name": "token", "in": "query", "required": True, "schema": {"type": "string"},
     "description": "门牌二维码中的地址码（qr_token）"},
], "api.officer_kpis": [
    {"name": "period", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "统计周期：2026-11、2026-11-H1 或 2026-11-H2；缺省为本半月"},
    {"name": "level", "in": "query", "required": False,
     "schema": {"type": "string", "enum": ["community", "police_area", "station", "branch"]},
     "description": "统计层级；缺省：分局角色为 station，其他为 police_area"},
]}
OFFICER_ERRORS = {"400": "输入有误：fields 按字段给出原因", "401": "未登录、登录已过期或已退出",
                  "404": "未找到，或不在您的辖区", "409": "该对象的状态已变化（如任务已关闭）",
                  "429": "操作过于频繁"}


def _numeric_bounds(self, field, ret, **kwargs) -> dict:
    """Range bounds as JSON numbers: apispec serialises them with the field, which gives
    strings ("1.00") for decimals sent as strings."""
    fixed = {}
    for key in ("minimum", "maximum"):
        value = ret.get(key)
        if isinstance(value, (str, Decimal)):
            number = Decimal(value)
            fixed[key] = int(number) if number == number.to_integral_value() else float(number)
    return fixed


def _schema_name(schema) -> str:
    return schema.__name__.removesuffix("Schema")


def build_spec() -> dict:
    """Build the document; every path and body comes from the live views and schemas."""
    marshmallow_plugin = MarshmallowPlugin()
    spec = APISpec(title="安居 Anju mini-program API", version="1.0.0", openapi_version="3.0.3",
                   plugins=[marshmallow_plugin],
                   info={"description": "出租房屋和流动人口申报（小程序接口）。登录：POST /auth/wxlogin "
                                        "换取 token，之后每个请求带 Authorization: Bearer <token>。"},
                   servers=[{"url": "/api/v1"}])
    marshmallow_plugin.converter.add_attribute_function(_numeric_bounds)
    spec.components.security_scheme("appToken", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=s.ErrorSchema)
    spec.components.schema("ReasonOut", schema=s.ReasonOutSchema)  # DeclarationOut.reasons
    # Sorted so the document is stable; a schema nested in another one may be registered first.
    schemas = {op[3] for op in OPERATIONS if op[3]} | {op[4] for op in OPERATIONS}
    for schema in sorted(schemas | {c.ClaimOutSchema}, key=_schema_name):
        if _schema_name(schema) not in spec.components.schemas:
            spec.components.schema(_schema_name(schema), schema=schema)
    error_ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    paths: dict[str, dict] = {}
    for method, path, endpoint, body, out, many in OPERATIONS:
        view = current_app.view_functions.get(endpoint)
        doc = (view.__doc__ or "").strip().splitlines()[0] if view and view.__doc__ else ""
        ref = {"$ref": f"#/components/schemas/{_schema_name(out)}"}
        operation = {
            "operationId": endpoint.split(".", 1)[1], "summary": doc,
            "security": [{"appToken": []}],
            "parameters": [{"name": part[1:-1], "in": "path", "required": True,
                            "schema": {"type": "integer" if part.endswith("_id}") else "string"}}
                           for part in path.split("/") if part.startswith("{")],
            "responses": {("201" if method == "post" and endpoint in IDEMPOTENT else "200"): {
                "description": "成功", "content": {"application/json": {
                    "schema": {"type": "array", "items": ref} if many else ref}}},
                **{code: {"description": text, **error_ref} for code, text in ERRORS.items()}},
        }
        operation["parameters"] += [
            {"name": name, "in": "query", "required": required, "description": text,
             "schema": {"type": kind}} for name, kind, text, required in QUERY_PARAMS.get(
                endpoint, ())]
        if endpoint in CLAIM_RESPONSES:
            operation["responses"]["202"] = {
                "description": CLAIM_RESPONSES[endpoint], "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ClaimOut"}}}}
        if body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{_schema_name(body)}"}}}}
        if endpoint in IDEMPOTENT:
            operation["parameters"].append({
                "name": "Idempotency-Key", "in": "header", "required": False,
                "description": "同一键重复提交返回同一结果，不会重复登记",
                "schema": {"type": "string", "maxLength": 64}})
        paths.setdefault(path, {})[method] = operation
    login = current_app.view_functions.get("api.wxlogin") or current_app.view_functions.get(
        "wechat_miniapp.wxlogin")
    if login is not None:
        paths["/auth/wxlogin"] = {"post": {
            "operationId": "wxlogin", "summary": "用小程序 wx.login 的 code 换取 token",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["code"],
                "properties": {"code": {"type": "string"}}}}}},
            "responses": {"200": {"description": "成功", "content": {"application/json": {
                "schema": {"type": "object", "properties": {
                    "token": {"type": "string"}, "expires_in": {"type": "integer"}}}}}},
                **{code: {"description": text, **error_ref} for code, text in ERRORS.items()}}}}
    _officer_paths(spec, paths, error_ref)
    for path, item in paths.items():
        for method, operation in item.items():
            spec.path(path=path, operations={method: operation})
    return spec.to_dict()


def _officer_paths(spec: APISpec, paths: dict, error_ref: dict) -> None:
    """The officer API's operations: own tag, own bearer scheme (tokens from /officer/sign-in)."""
    spec.tag({"name": "officer", "description": "警务通：民警登录、管控任务、预警处置。登录 POST "
                                                "/officer/sign-in 换取 12 小时有效的 token；"
                                                "退出登录、修改密码后 token 立即失效。"})
    spec.components.security_scheme("officerToken", {"type": "http", "scheme": "bearer"})
    for op in OFFICER_OPERATIONS:
        for schema in (op[3], op[4]):
            if schema is not None and _schema_name(schema) not in spec.components.schemas:
                spec.components.schema(_schema_name(schema), schema=schema)
    for method, path, endpoint, body, out, many, write in OFFICER_OPERATIONS:
        view = current_app.view_functions.get(endpoint)
        doc = (view.__doc__ or "").strip().splitlines()[0] if view and view.__doc__ else ""
        ref = {"$ref": f"#/components/schemas/{_schema_name(out)}"}
        errors = dict(OFFICER_ERRORS)
        if not write:
            errors.pop("409")
        operation = {
            "operationId": endpoint.split(".", 1)[1], "summary": doc, "tags": ["officer"],
            "security": [] if endpoint == "api.officer_sign_in" else [{"officerToken": []}],
            "parameters": [{"name": part[1:-1], "in": "path", "required": True,
                            "schema": {"type": "integer" if part.endswith("_id}") else "string"}}
                           for part in path.split("/") if part.startswith("{")]
                          + OFFICER_QUERY.get(endpoint, []),
            "responses": {"200": {"description": "成功", "content": {"application/json": {
                "schema": {"type": "array", "items": ref} if many else ref}}},
                **{code: {"description": text, **error_ref} for code, text in errors.items()}},
        }
        if write:
            operation["parameters"].append({
                "name": "Idempotency-Key", "in": "header", "required": True,
                "description": "必填；同一民警同一键的重复提交返回第一次的结果",
                "schema": {"type": "string", "maxLength": 64}})
        if body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{_schema_name(body)}"}}}}
        paths.setdefault(path, {})[method] = operation
