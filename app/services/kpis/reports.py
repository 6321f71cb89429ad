"""KPI progress reports: an XLSX workbook and a printable Chinese PDF from one set of figures.

Both files are rendered from `figures` (the colour table computed once and stored on the
report row), so the screen, the workbook and the paper can never disagree.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from datetime import timedelta

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import ConsoleNotice, KpiReport, Officer, utcnow
from app.services.accounts import scoping
from app.services.kpis import aggregates, compute as kc
from app.services.kpis import counts as kpi_counts
from app.services.kpis.periods import Period, half_month_just_ended, parse_period
from app.services.kpis.thresholds import current_thresholds

FILLS = {"green": "C6EFCE", "yellow": "FFEB9C", "red": "FFC7CE", "none": "E7E6E6"}
FONT_CANDIDATES = (  # TrueType first: reportlab cannot embed CFF (PostScript) outlines
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.otf", 0),
)
CID_FALLBACK = "STSong-Light"


@dataclass(frozen=True)
class BranchScope:
    """The whole branch, as a branch admin sees it: the scope of a scheduled report."""

    branch_id: int
    role: str = "branch_admin"
    station_id: int | None = None
    police_area_id: int | None = None
    id: int | None = None


def report_figures(period: Period, branch_id: int, *, as_of=None,
                   plate_levels=kpi_counts.DEFAULT_PLATE_LEVELS) -> dict:
    """Everything a report shows: the station colour table (with 约谈 and focus areas), the
    community table, and the thresholds in force."""
    scope = BranchScope(branch_id)
    thresholds = current_thresholds()
    stations = kc.colour_table(period, "station", scope, as_of=as_of, thresholds=thresholds,
                               plate_levels=plate_levels)
    communities = kc.colour_table(period, "community", scope, as_of=as_of,
                                  thresholds=thresholds, with_previous=False,
                                  plate_levels=plate_levels)
    return {"period": period.key, "period_label": period.label, "stations": stations,
            "communities": communities, "thresholds": stations["thresholds"],
            "generated_at": (utcnow() + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")}


# ---------------------------------------------------------------------------------------------
# XLSX


def build_xlsx(figures: dict) -> bytes:
    """The workbook: 分色预警表 with cell fills, one sheet per KPI, 约谈名单, 重点关注."""
    wb = Workbook()
    ws = wb.active
    ws.title = "分色预警表"
    ws.append([f"{figures['period_label']} 分色预警表（{figures['period']}）"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(["派出所", "代码"] + [kpi_counts.KPI_LABELS[k] for k in kpi_counts.KPIS])
    for area in figures["stations"]["areas"]:
        ws.append([area["name"], area["area_code"]]
                  + [area["kpis"][k]["percent"] for k in kpi_counts.KPIS])
        row = ws.max_row
        for i, k in enumerate(kpi_counts.KPIS):
            ws.cell(row, 3 + i).fill = PatternFill("solid", fgColor=FILLS[area["kpis"][k]["colour"]])
    ws.append([])
    ws.append([f"生成时间（北京时间）：{figures['generated_at']}"])
    for kpi in kpi_counts.KPIS:
        sheet = wb.create_sheet(kpi_counts.KPI_LABELS[kpi])
        t = figures["thresholds"][kpi]
        sheet.append([f"{kpi_counts.KPI_LABELS[kpi]}　目标 {kpi_counts.TARGETS[kpi]}%　绿色 ≥ {t['green_min']}%"
                      f"　黄色 ≥ {t['yellow_min']}%"])
        sheet.append(["层级", "代码", "名称", "分子", "分母", "比率", "颜色", "上期", "环比（百分点）"])
        for level, table in (("派出所", figures["stations"]), ("社区", figures["communities"])):
            for area in table["areas"]:
                e = area["kpis"][kpi]
                previous = e.get("previous", {}).get("percent", "")
                sheet.append([level, area["area_code"], area["name"], e["numerator"],
                              e["denominator"], e["percent"], kpi_counts.COLOUR_LABELS[e["colour"]],
                              previous, e.get("change") or ""])
                sheet.cell(sheet.max_row, 6).fill = PatternFill("solid",
                                                                fgColor=FILLS[e["colour"]])
    calls = wb.create_sheet("约谈名单")
    calls.append(["派出所", "代码", "抽查登记率", "抽查（登记/发现）", "本月案前管控登记率",
                  "案前（登记/涉案）", "约谈原因"])
    for c in figures["stations"]["call_in"]:
        s, p = c["spot_check_registration"], c["pre_case_registration_month"]
        calls.append([c["name"], c["area_code"], s["percent"],
                      f"{s['numerator']}/{s['denominator']}", p["percent"],
                      f"{p['numerator']}/{p['denominator']}", "；".join(c["reasons"])])
    focus = wb.create_sheet("重点关注")
    focus.append(["派出所", "代码", "指标", "上期", "本期", "环比（百分点）"])
    for f in figures["stations"]["focus_areas"]:
        focus.append([f["name"], f["area_code"], kpi_counts.KPI_LABELS[f["kpi"]], f["previous_percent"],
                      f["percent"], f["change"] or ""])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# PDF


def cjk_font_name(candidates=FONT_CANDIDATES) -> str:
    """Register and name a CJK font: the first usable TrueType font found on this machine, else
    reportlab's built-in STSong-Light CID font."""
    registered = pdfmetrics.getRegisteredFontNames()
    for path, index in candidates:
        name = f"AnjuCJK-{os.path.basename(path)}-{index}"
        if name in registered:
            return name
        if os.path.exists(path):
            try:
                pdfmetrics.registerFont(TTFont(name, path, subfontIndex=index))
                return name
            except (TTFError, OSError):
                continue
    if CID_FALLBACK not in registered:
        pdfmetrics.registerFont(UnicodeCIDFont(CID_FALLBACK))
    return CID_FALLBACK


def build_pdf(figures: dict, font: str | None = None) -> bytes:
    """The printable report (A4 landscape): colour table, 约谈 list, focus areas, thresholds."""
    font = font or cjk_font_name()
    title = ParagraphStyle("t", fontName=font, fontSize=16, leading=22)
    body = ParagraphStyle("b", fontName=font, fontSize=9, leading=13)
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=landscape(A4), leftMargin=12 * mm,
                            rightMargin=12 * mm, topMargin=12 * mm, bottomMargin=12 * mm,
                            title=f"{figures['period_label']} 实有人口管理工作通报")
    story = [Paragraph(f"{figures['period_label']} 实有人口管理工作通报", title),
             Paragraph(f"统计周期 {figures['period']}，生成时间（北京时间）{figures['generated_at']}",
                       body), Spacer(1, 4 * mm), Paragraph("一、分色预警表", body)]
    header = ["派出所"] + [kpi_counts.KPI_LABELS[k] for k in kpi_counts.KPIS]
    rows, styles = [header], []
    for r, area in enumerate(figures["stations"]["areas"], start=1):
        rows.append([area["name"]] + [
            f"{area['kpis'][k]['percent']}\n{area['kpis'][k]['numerator']}/"
            f"{area['kpis'][k]['denominator']}" for k in kpi_counts.KPIS])
        for c, k in enumerate(kpi_counts.KPIS, start=1):
            styles.append(("BACKGROUND", (c, r), (c, r),
                           colors.HexColor("#" + FILLS[area["kpis"][k]["colour"]])))
    table = Table(rows, repeatRows=1)
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), 8),
                               ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                               ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), *styles]))
    story += [table, Spacer(1, 4 * mm), Paragraph("二、约谈名单", body)]
    calls = figures["stations"]["call_in"]
    if calls:
        call_rows = [["派出所", "抽查登记率", "本月案前管控登记率", "约谈原因"]]
        for c in calls:
            s, p = c["spot_check_registration"], c["pre_case_registration_month"]
            call_rows.append([c["name"], f"{s['percent']}（{s['numerator']}/{s['denominator']}）",
                              f"{p['percent']}（{p['numerator']}/{p['denominator']}）",
                              Paragraph("；".join(c["reasons"]), body)])
        t = Table(call_rows, colWidths=[45 * mm, 40 * mm, 45 * mm, 140 * mm])
        t.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), font),
                               ("FONTSIZE", (0, 0), (-1, -1), 8),
                               ("GRID", (0, 0), (-1, -1), 0.4, colors.grey)]))
        story.append(t)
    else:
        story.append(Paragraph("本期没有需要约谈的派出所。", body))
    story += [Spacer(1, 4 * mm), Paragraph("三、重点关注（上期红色）", body)]
    focus = figures["stations"]["focus_areas"]
    if focus:
        f_rows = [["派出所", "指标", "上期", "本期", "环比（百分点）"]]
        f_rows += [[f["name"], kpi_counts.KPI_LABELS[f["kpi"]], f["previous_percent"], f["percent"],
                    f["change"] or "—"] for f in focus]
        t = Table(f_rows)
        t.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), font),
                               ("FONTSIZE", (0, 0), (-1, -1), 8),
                               ("GRID", (0, 0), (-1, -1), 0.4, colors.grey)]))
        story.append(t)
    else:
        story.append(Paragraph("上期没有红色指标。", body))
    thresholds = "；".join(
        f"{kpi_counts.KPI_LABELS[k]} 绿色 ≥ {v['green_min']}%，黄色 ≥ {v['yellow_min']}%"
        for k, v in figures["thresholds"].items())
    story += [Spacer(1, 4 * mm), Paragraph(f"预警阈值：{thresholds}。比率保留一位小数（截断），"
                                           "无分母记为“无数据”。", body)]
    doc.build(story)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# Stored reports


def _write(folder: str, name: str, data: bytes) -> str:
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    tmp = path + ".part"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
    return path


def render_report(report: KpiReport, folder: str, *, as_of=None,
                  plate_levels=kpi_counts.DEFAULT_PLATE_LEVELS) -> KpiReport:
    """Compute the figures once (address aggregates brought up to date first when the period
    is maintained), write both files from them, and mark the report ready."""
    period = parse_period(report.period)
    if period in aggregates.maintained_periods(as_of or utcnow()):
        aggregates.refresh([period], plate_levels=plate_levels)
    figures = report_figures(period, report.branch_id, as_of=as_of, plate_levels=plate_levels)
    stem = f"kpi-{report.branch_id}-{report.period}-{report.id}"
    report.xlsx_path = _write(folder, stem + ".xlsx", build_xlsx(figures))
    report.pdf_path = _write(folder, stem + ".pdf", build_pdf(figures))
    report.figures = figures
    report.status = "ready"
    report.generated_at = utcnow()
    db.session.flush()
    return report


def request_report(period: Period, branch_id: int, officer: Officer | None, folder: str, *,
                   as_of=None, plate_levels=kpi_counts.DEFAULT_PLATE_LEVELS) -> KpiReport:
    """An on-demand report for any period, generated now."""
    report = KpiReport(branch_id=branch_id, period=period.key,
                       requested_by_officer_id=officer.id if officer else None)
    db.session.add(report)
    db.session.flush()
    return render_report(report, folder, as_of=as_of, plate_levels=plate_levels)


def claim_scheduled_report(period: Period, branch_id: int) -> KpiReport | None:
    """Insert the one scheduled report row for (branch, half-month); None when one exists (the
    unique schedule_key decides, not timing). The caller commits the claim before rendering."""
    key = f"{branch_id}:{period.key}"
    if db.session.execute(select(KpiReport.id).where(KpiReport.schedule_key == key)).first():
        return None
    report = KpiReport(branch_id=branch_id, period=period.key, schedule_key=key)
    try:
        with db.session.begin_nested():
            db.session.add(report)
    except IntegrityError:
        return None
    return report


def due_report_period(now) -> Period:
    """The half-month a scheduled run at `now` reports on: the one just ended."""
    return half_month_just_ended(now)


def notify_report_ready(report: KpiReport) -> list[ConsoleNotice]:
    """Tell the branch's station admins the report is ready. Officers have no WeChat link in the
    model, so this is an in-console notice (one per officer and report), not a push."""
    admins = db.session.execute(
        select(Officer).where(Officer.branch_id == report.branch_id,
                              Officer.role == "station_admin", Officer.is_active.is_(True))
    ).scalars().all()
    label = parse_period(report.period).label
    notices = []
    for officer in admins:
        key = f"kpi_report:{report.id}:{officer.id}"
        if db.session.execute(select(ConsoleNotice.id).where(
                ConsoleNotice.dedupe_key == key)).first():
            continue
        notice = ConsoleNotice(officer_id=officer.id, title=f"{label}工作通报已生成",
                               link=f"/console/kpis/reports/{report.id}", dedupe_key=key)
        db.session.add(notice)
        notices.append(notice)
    db.session.flush()
    return notices


def reports_visible_to(officer: Officer) -> list[KpiReport]:
    """Reports an officer may list and download: station and branch admins of the branch."""
    if officer.role not in scoping.ADMIN_ROLES:
        return []
    return list(db.session.execute(
        select(KpiReport).where(KpiReport.branch_id == officer.branch_id,
                                KpiReport.status == "ready")
        .order_by(KpiReport.period.desc(), KpiReport.id.desc()).limit(200)).scalars())


def report_visible(report: KpiReport | None, officer: Officer) -> bool:
    """Station and branch admins of the report's branch may read a finished report."""
    return (report is not None and report.status == "ready"
            and officer.role in scoping.ADMIN_ROLES and report.branch_id == officer.branch_id)
