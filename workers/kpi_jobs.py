"""Periodic KPI work: the progress report of the half-month just ended (1st and 16th)."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import Branch, KpiReport, utcnow
from app.services.kpis import aggregates, reports
from app.services.kpis.counts import plate_levels_from


def report_folder() -> str:
    """Where report files live: instance/kpi_reports."""
    import os

    return os.path.join(current_app.instance_path, "kpi_reports")


def plate_levels() -> tuple[str, ...]:
    return plate_levels_from(current_app.config.get("KPI_PLATE_LEVELS"))


def refresh_kpi_aggregates(full: bool = False) -> dict:
    """Recount the address KPIs of the maintained periods where addresses or houses changed."""
    now = utcnow()
    aggregates.forget_unmaintained(now)
    done = aggregates.refresh(aggregates.maintained_periods(now), plate_levels=plate_levels(),
                              now=now, full=full)
    db.session.commit()
    return done


def generate_due_kpi_reports(now_iso: str | None = None) -> list[int]:
    """Make each branch's report for the half-month just ended, exactly once even when several
    schedulers or workers run this at the same time; tell station admins. Returns new ids."""
    from datetime import datetime

    now = datetime.fromisoformat(now_iso) if now_iso else utcnow()
    period = reports.due_report_period(now)
    made = []
    for branch_id in db.session.execute(select(Branch.id).order_by(Branch.id)).scalars().all():
        report = reports.claim_scheduled_report(period, branch_id)
        if report is None:
            db.session.rollback()
            continue
        db.session.commit()  # the claim is visible to every other scheduler from here on
        try:
            reports.render_report(report, report_folder(), as_of=now,
                                  plate_levels=plate_levels())
            reports.notify_report_ready(report)
            db.session.commit()
        except Exception:
            db.session.rollback()
            failed = db.session.get(KpiReport, report.id)
            failed.status = "failed"
            db.session.commit()
            raise
        made.append(report.id)
    return made
