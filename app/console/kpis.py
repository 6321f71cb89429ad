"""KPI dashboard, drill-downs, thresholds, reports and the KPI JSON (issue 13)."""
from __future__ import annotations

import os

from flask import (
    abort, current_app, flash, jsonify, redirect, render_template, request, send_file, url_for,
)
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from app.console import bp
from app.console.auth import current_officer, roles_required
from app.extensions import db
from app.models import KpiReport, utcnow
from app.services.accounts import scoping
from app.services.kpis import charts, reports, thresholds as kpi_thresholds, todo
from app.services.kpis import compute as kc
from app.services.kpis import counts as kpi_counts
from app.services.kpis.drilldown import MISS_LABELS, drill_down
from app.services.kpis.periods import current_half_month, parse_period

TREND_PERIODS = 6


class ThresholdForm(FlaskForm):
    kpi = SelectField("指标", choices=[SelectChoice(k, kpi_counts.KPI_LABELS[k]) for k in kpi_counts.KPIS])
    green_min = StringField("绿色下限（%）", validators=[DataRequired("请填写"), Length(max=8)])
    yellow_min = StringField("黄色下限（%）", validators=[DataRequired("请填写"), Length(max=8)])
    submit = SubmitField("保存新版本")


class ReportForm(FlaskForm):
    period = StringField("统计周期", validators=[DataRequired("请填写统计周期"), Length(max=16)])
    submit = SubmitField("生成通报")


def _plate_levels() -> tuple[str, ...]:
    return kpi_counts.plate_levels_from(current_app.config.get("KPI_PLATE_LEVELS"))


def _period_arg():
    text = request.args.get("period")
    return parse_period(text) if text else current_half_month(utcnow())


def _default_level(officer) -> str:
    return "station" if officer.role in scoping.BRANCH_ROLES else "police_area"


def _top_area(officer):
    """The area whose trend the dashboard draws: the branch, or the station admin's station."""
    if officer.role in scoping.BRANCH_ROLES:
        return "branch", officer.branch_id
    return "station", officer.station_id


@bp.get("/kpis")
@roles_required(*scoping.ADMIN_ROLES)
def kpi_dashboard():
    """The colour table for a period and level, trends, 约谈 and focus areas."""
    officer, period = current_officer(), _period_arg()
    level = request.args.get("level") or _default_level(officer)
    table = kc.colour_table(period, level, officer, plate_levels=_plate_levels())
    breakdown = (kc.colour_table(period, "station", officer, with_previous=False,
                                 plate_levels=_plate_levels())
                 if level != "station" else None)
    return render_template("console/kpis.html", table=table, period=period, level=level,
                           svgs=_trend_svgs(officer, period), breakdown=breakdown, KPIS=kpi_counts.KPIS,
                           KPI_LABELS=kpi_counts.KPI_LABELS, LEVEL_LABELS=kpi_counts.LEVEL_LABELS,
                           levels=[lv for lv in kpi_counts.LEVELS if lv != "branch"
                                   or officer.role in scoping.BRANCH_ROLES])


def _trend_svgs(officer, period) -> dict:
    """One trend chart per KPI over the last periods, for the officer's whole area."""
    top_level, top_id = _top_area(officer)
    series = charts.trend(period.trail(TREND_PERIODS), top_level, top_id,
                          plate_levels=_plate_levels())
    return {k: Markup(charts.trend_svg(f"{kpi_counts.KPI_LABELS[k]}（近{TREND_PERIODS}期）", series[k],
                                       kpi_counts.TARGETS[k])) for k in kpi_counts.KPIS}


@bp.get("/kpis.json")
@roles_required(*scoping.ADMIN_ROLES, "officer")
def kpi_json():
    """The KPI table as JSON (same function the officer API will serve)."""
    officer = current_officer()
    level = request.args.get("level") or _default_level(officer)
    return jsonify(kc.kpi_table(_period_arg(), level, officer, plate_levels=_plate_levels()))


@bp.get("/kpis/records")
@roles_required(*scoping.ADMIN_ROLES)
def kpi_records():
    """The records behind one KPI's misses in one area, 50 a page (keyset)."""
    officer, period = current_officer(), _period_arg()
    kpi, level, after = _records_args()
    page = drill_down(kpi, period, level, request.args.get("area"), officer, after=after,
                      plate_levels=_plate_levels())
    area = next((a for a in kc.scoped_areas(level, officer) if str(a[0]) == request.args.get("area")),
                None)
    return render_template("console/kpi_records.html", page=page, kpi=kpi, period=period,
                           level=level, area=area, KPI_LABELS=kpi_counts.KPI_LABELS,
                           LEVEL_LABELS=kpi_counts.LEVEL_LABELS, MISS_LABELS=MISS_LABELS)


def _records_args() -> tuple[str, str, int | None]:
    """The KPI, area level and keyset position asked for; 404 for a KPI or level not known."""
    kpi, level = request.args.get("kpi", ""), request.args.get("level", "station")
    if kpi not in kpi_counts.KPIS or level not in kpi_counts.LEVELS:
        abort(404)
    after = request.args.get("after", "")
    return kpi, level, int(after) if after.isdigit() and len(after) < 12 else None


@bp.route("/kpis/thresholds", methods=["GET", "POST"])
@roles_required(*scoping.BRANCH_ROLES)
def kpi_thresholds_edit():
    """Branch admins set a KPI's colour thresholds; each save is a new version."""
    officer = current_officer()
    form = ThresholdForm()
    if form.validate_on_submit():
        kpi_thresholds.set_thresholds(form.kpi.data, form.green_min.data, form.yellow_min.data,
                                      officer)
        db.session.commit()
        flash("预警阈值已保存为新版本，已生成的通报保留原阈值。", "success")
        return redirect(url_for("console.kpi_thresholds_edit"))
    current = kpi_thresholds.current_thresholds().as_json()
    return render_template("console/kpi_thresholds.html", form=form, current=current,
                           KPIS=kpi_counts.KPIS, KPI_LABELS=kpi_counts.KPI_LABELS)


@bp.route("/kpis/reports", methods=["GET", "POST"])
@roles_required(*scoping.ADMIN_ROLES)
def kpi_reports():
    """Stored reports (scheduled and on demand); branch admins generate one for any period."""
    officer = current_officer()
    form = ReportForm()
    if request.method == "POST":
        if officer.role not in scoping.BRANCH_ROLES:
            abort(403)
        if form.validate_on_submit():
            period = parse_period(form.period.data)
            report = reports.request_report(period, officer.branch_id, officer,
                                            os.path.join(current_app.instance_path, "kpi_reports"),
                                            plate_levels=_plate_levels())
            db.session.commit()
            flash(f"{period.label}工作通报已生成。", "success")
            return redirect(url_for("console.kpi_report", report_id=report.id))
    return render_template("console/kpi_reports.html", reports=reports.reports_visible_to(officer),
                           form=form, can_generate=officer.role in scoping.BRANCH_ROLES)


def _visible_report(report_id: int) -> KpiReport:
    officer = current_officer()
    report = db.session.get(KpiReport, report_id)
    if not reports.report_visible(report, officer):
        abort(404)
    return report


@bp.get("/kpis/reports/<int:report_id>")
@roles_required(*scoping.ADMIN_ROLES)
def kpi_report(report_id: int):
    """One stored report: its figures as on paper, and the two downloads."""
    report = _visible_report(report_id)
    todo.mark_notices_read(current_officer(), f"/console/kpis/reports/{report.id}")
    db.session.commit()
    return render_template("console/kpi_report.html", report=report, figures=report.figures,
                           KPIS=kpi_counts.KPIS, KPI_LABELS=kpi_counts.KPI_LABELS)


@bp.get("/kpis/reports/<int:report_id>/<fmt>")
@roles_required(*scoping.ADMIN_ROLES)
def kpi_report_file(report_id: int, fmt: str):
    """Download a report's XLSX or PDF."""
    report = _visible_report(report_id)
    path = {"xlsx": report.xlsx_path, "pdf": report.pdf_path}.get(fmt)
    if not path or not os.path.exists(path):
        abort(404)
    mimetype = ("application/pdf" if fmt == "pdf" else
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    return send_file(path, mimetype=mimetype, as_attachment=True,
                     download_name=f"kpi-{report.period}.{fmt}")

