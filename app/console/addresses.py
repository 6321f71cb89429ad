"""Address registry in the console: list, search, edit, CSV import and QR door plates."""
from __future__ import annotations

import os
import re
import tempfile

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import select

from app.console import bp
from app.console.auth import client_ip, current_officer, roles_required
from app.console.forms import AddressForm, ImportForm, PlateForm
from app.extensions import db
from app.models import Address, Branch, Community, House
from app.services.accounts import audit, scoping
from app.services.registry import plates
from app.services.people.search import addresses_by_text

PER_PAGE = 100
EDITABLE = ("full_text", "road", "number", "building", "unit", "floor", "room", "is_residential",
            "status")


def _scoped_communities(officer):
    return db.session.execute(scoping.scope_communities(
        select(Community).order_by(Community.name), officer)).scalars().all()


@bp.get("/addresses")
@login_required
def addresses():
    """Addresses in the area, searchable by text or code and filterable by community and plate."""
    officer = current_officer()
    q = request.args.get("q", "")[:100]
    community_id = request.args.get("community_id", "")
    plate = request.args.get("plate", "")
    stmt = select(Address)
    if q.strip():
        found = [a.id for a in addresses_by_text(q, officer, limit=5000)]
        stmt = stmt.where(Address.id.in_(found))
    if community_id.isdigit():
        stmt = stmt.where(Address.community_id == int(community_id))
    if plate == "missing":
        stmt = stmt.where(Address.plate_issued_at.is_(None))
    elif plate == "issued":
        stmt = stmt.where(Address.plate_issued_at.is_not(None))
    page = request.args.get("page", "1")
    page = int(page) if page.isdigit() and 0 < int(page) < 100000 else 1
    rows = db.session.execute(scoping.scope_addresses(stmt, officer)
                              .order_by(Address.full_text, Address.id)
                              .limit(PER_PAGE + 1).offset((page - 1) * PER_PAGE)).scalars().all()
    return render_template("console/addresses.html", addresses=rows[:PER_PAGE],
                           has_next=len(rows) > PER_PAGE, page=page, q=q,
                           community_id=community_id, plate=plate,
                           communities=_scoped_communities(officer), plate_form=PlateForm())


@bp.route("/addresses/<int:address_id>", methods=["GET", "POST"])
@login_required
def address(address_id: int):
    """One address: its house and door plate, and the edit form."""
    officer = current_officer()
    a = scoping.scoped_get(Address, address_id, officer, for_update=request.method == "POST")
    form = AddressForm(obj=a)
    if request.method == "GET":
        form.aliases.data = "、".join(a.aliases or [])
    if form.validate_on_submit():
        before = {k: getattr(a, k) for k in EDITABLE}
        for key in EDITABLE:
            value = getattr(form, key).data
            if isinstance(value, str):
                value = value.strip() if key == "full_text" else (value.strip() or None)
            setattr(a, key, value)
        a.aliases = [x.strip() for x in re.split(r"[、,，;；]", form.aliases.data or "")
                     if x.strip()] or None
        changed = {k: [str(before[k]), str(getattr(a, k))] for k in EDITABLE
                   if before[k] != getattr(a, k)}
        audit.record(officer, "address.edit", "address", a.id, ip=client_ip(),
                     detail={"changed": changed})
        db.session.commit()
        flash("地址已保存", "success")
        return redirect(url_for("console.address", address_id=a.id))
    house = db.session.execute(select(House).where(House.address_id == a.id)).scalar_one_or_none()
    status = 400 if request.method == "POST" else 200
    return render_template("console/address.html", address=a, form=form, house=house,
                           plate_form=PlateForm(),
                           plate_url=plates.plate_url(current_app.config["PUBLIC_BASE_URL"], a)
                           ), status


@bp.post("/plates")
@login_required
def plates_pdf():
    """Door plates as a print-ready PDF for a community or a selection; records the issue."""
    officer = current_officer()
    form = PlateForm()
    if not form.validate_on_submit():
        abort(400)
    stmt = select(Address).where(Address.status == "active")
    ids = request.form.getlist("ids")[:plates.MAX_PLATES + 1]
    if form.community_id.data:
        community = scoping.scoped_get(Community, form.community_id.data, officer)
        stmt = stmt.where(Address.community_id == community.id)
    elif ids:
        scoped = scoping.scoped_ids(Address, ids, officer)
        if len(scoped) != len({i for i in ids if i.isdigit()}):
            abort(404)  # a selected id outside the area: refuse the whole request
        stmt = stmt.where(Address.id.in_(scoped))
    else:
        flash("请先选择地址或社区", "warning")
        return redirect(url_for("console.addresses"))
    chosen = db.session.execute(scoping.scope_addresses(stmt, officer)
                                .order_by(Address.full_text, Address.id)
                                .limit(plates.MAX_PLATES + 1)).scalars().all()
    qr_target = None
    if current_app.config.get("PLATE_QR_MODE") == "wechat":
        from wechat.qr import parametric_qr_url

        qr_target = lambda a: parametric_qr_url(a.qr_token)  # noqa: E731
    branch = db.session.get(Branch, officer.branch_id) if officer.branch_id else None
    try:
        pdf, pages = plates.render_plates_pdf(chosen, form.size.data,
                                              current_app.config["PUBLIC_BASE_URL"],
                                              qr_target=qr_target,
                                              authority=branch.name if branch else None)
    except plates.PlateError as exc:
        flash(str(exc), "warning")
        return redirect(url_for("console.addresses"))
    plates.issue_plates(chosen, officer, form.size.data, ip=client_ip())
    db.session.commit()
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f"attachment; filename=plates-{form.size.data}-{len(chosen)}.pdf",
        "X-Plate-Count": str(len(chosen)), "X-Page-Count": str(pages),
        "Cache-Control": "no-store"})


@bp.route("/addresses/import", methods=["GET", "POST"])
@roles_required(*scoping.ADMIN_ROLES)
def import_addresses():
    """Import the standard address CSV; rows outside the administrator's communities are refused."""
    form = ImportForm()
    report = None
    error = None
    if form.validate_on_submit():
        from app.services.registry.address_import import import_csv

        officer = current_officer()
        communities = [c.id for c in _scoped_communities(officer)]
        fd, path = tempfile.mkstemp(suffix=".csv")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(form.file.data.read())
            report = import_csv(path, community_ids=communities)
        finally:
            os.unlink(path)
        if report.errors and report.total == 0:  # the file itself was refused: nothing written
            line, reason = report.errors[0]
            error, report = f"第 {line} 行：{reason}", None
        else:
            audit.record(officer, "address.import", "address", None, ip=client_ip(),
                         detail={"inserted": report.inserted, "updated": report.updated,
                                 "rejected": len(report.errors), "total": report.total})
            db.session.commit()
    return render_template("console/address_import.html", form=form, report=report,
                           error=error), 400 if error else 200
