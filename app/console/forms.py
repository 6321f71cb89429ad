"""Console forms: every POST goes through a FlaskForm, so each one checks its CSRF token."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField, HiddenField, PasswordField, SelectChoice, SelectField, StringField, SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from app.models.officer import OFFICER_ROLES, ROLE_LABELS
from app.services.registry.plates import PLATE_SIZES



def choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms select choices."""
    return [SelectChoice(str(value), label) for value, label in pairs]


PASSWORD_RULE = Regexp(r"^(?=.*[A-Za-z])(?=.*\d).{10,128}$",
                       message="密码至少 10 位，且同时包含字母和数字")


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired("请输入用户名"), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired("请输入密码"), Length(max=128)])
    submit = SubmitField("登录")


class LogoutForm(FlaskForm):
    submit = SubmitField("退出登录")


class PasswordChangeForm(FlaskForm):
    current = PasswordField("当前密码", validators=[DataRequired("请输入当前密码")])
    new = PasswordField("新密码", validators=[DataRequired("请输入新密码"), PASSWORD_RULE])
    confirm = PasswordField("再次输入新密码",
                            validators=[EqualTo("new", message="两次输入的新密码不一致")])
    submit = SubmitField("修改密码")


class DecisionForm(FlaskForm):
    action = SelectField("审核结果", choices=choices([("approve", "通过"), ("flag", "需实地核查"),
                                                    ("reject", "退回")]))
    reason = TextAreaField("原因（退回时必填，申报人可见）", validators=[Length(max=500)])
    submit = SubmitField("提交审核结果")


class ChooseAddressForm(FlaskForm):
    address_id = HiddenField(validators=[DataRequired(), Regexp(r"^\d+$")])
    submit = SubmitField("选用此地址")


class BulkApproveForm(FlaskForm):
    """The declaration ids come as repeated `ids` checkboxes; the form carries the CSRF token."""

    submit = SubmitField("批量通过选中的“核验通过”申报")


class RevealForm(FlaskForm):
    field = HiddenField(validators=[DataRequired(), Length(max=100)])
    reason = StringField("查看原因", validators=[DataRequired("请填写查看原因"),
                                             Length(min=4, max=200, message="原因 4 到 200 字")])
    submit = SubmitField("显示完整号码")


class SearchForm(FlaskForm):
    """A console search travels in a POST body, never in the URL (it may be an ID or a phone)."""

    q = StringField("查询内容", validators=[Optional(), Length(max=100)])
    kind = StringField("查询方式", validators=[Optional(), Length(max=16)])
    submit = SubmitField("查询")



class LinkWeChatForm(FlaskForm):
    code = StringField("关联码", validators=[DataRequired("请填写本人微信上显示的关联码"),
                                          Length(max=16)])
    reason = StringField("关联原因", validators=[DataRequired("请填写关联原因"),
                                             Length(min=4, max=200, message="原因 4 到 200 字")])
    submit = SubmitField("关联微信用户")


class ExportForm(FlaskForm):
    q = HiddenField()
    kind = HiddenField()
    full = BooleanField("导出完整号码（仅管理员，需填写原因）")
    reason = StringField("原因", validators=[Optional(), Length(max=200)])
    submit = SubmitField("导出 CSV")


class AddressForm(FlaskForm):
    full_text = StringField("地址全称", validators=[DataRequired("请输入地址全称"), Length(max=255)])
    road = StringField("街路巷", validators=[Optional(), Length(max=64)])
    number = StringField("门牌号", validators=[Optional(), Length(max=32)])
    building = StringField("楼栋", validators=[Optional(), Length(max=32)])
    unit = StringField("单元", validators=[Optional(), Length(max=32)])
    floor = StringField("楼层", validators=[Optional(), Length(max=16)])
    room = StringField("室", validators=[Optional(), Length(max=32)])
    aliases = StringField("别名（用顿号或逗号分隔）", validators=[Optional(), Length(max=500)])
    is_residential = BooleanField("居住用途")
    status = SelectField("状态", choices=choices([("active", "在用"), ("retired", "已注销")]))
    submit = SubmitField("保存")


class PlateForm(FlaskForm):
    size = SelectField("门牌尺寸", choices=choices((k, v.label) for k, v in PLATE_SIZES.items()))
    community_id = HiddenField()
    submit = SubmitField("生成门牌 PDF")


class ImportForm(FlaskForm):
    file = FileField("地址 CSV 文件", validators=[FileRequired("请选择文件"),
                                              FileAllowed(["csv"], "只能上传 CSV 文件")])
    submit = SubmitField("导入")


class OfficerForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired("请输入用户名"), Length(max=64),
                                              Regexp(r"^[A-Za-z0-9_.-]+$",
                                                     message="用户名只能包含字母、数字和 _ . -")])
    name = StringField("姓名", validators=[DataRequired("请输入姓名"), Length(max=64)])
    badge_number = StringField("警号", validators=[DataRequired("请输入警号"), Length(max=32)])
    role = SelectField("角色", choices=choices((r, ROLE_LABELS[r]) for r in OFFICER_ROLES))
    station_id = SelectField("派出所", choices=[], validate_choice=False)
    police_area_id = SelectField("警务区", choices=[], validate_choice=False)
    password = PasswordField("初始密码", validators=[DataRequired("请输入初始密码"), PASSWORD_RULE])
    submit = SubmitField("创建账号")


class OfficerEditForm(FlaskForm):
    role = SelectField("角色", choices=choices((r, ROLE_LABELS[r]) for r in OFFICER_ROLES))
    station_id = SelectField("派出所", choices=[], validate_choice=False)
    police_area_id = SelectField("警务区", choices=[], validate_choice=False)
    submit = SubmitField("保存角色和辖区")


class OfficerPasswordResetForm(FlaskForm):
    password = PasswordField("新密码", validators=[DataRequired("请输入新密码"), PASSWORD_RULE])
    submit = SubmitField("重置密码")


class OfficerActiveForm(FlaskForm):
    submit = SubmitField("停用/启用账号")


class ClaimDecisionForm(FlaskForm):
    action = SelectField("核实结果", choices=choices([("approve", "通过，变更给申请人"),
                                                    ("refuse", "不予通过")]))
    reason = TextAreaField("原因（不予通过时必填，申请人可见）", validators=[Length(max=500)])
    submit = SubmitField("提交核实结果")


def page_number(args) -> int:
    """The ?page= of a paged console list: a positive number, else the first page."""
    page = args.get("page", "1")
    return int(page) if page.isdigit() and 0 < int(page) < 100000 else 1
