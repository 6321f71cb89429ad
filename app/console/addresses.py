"""Address registry in the console: list, search, edit, CSV import and QR door plates."""
from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required

from app.console import bp
from app.console.auth import client_ip, current_officer, roles_required
from app.console.forms import AddressForm, ImportForm, PlateForm, page_number
from app.extensions import db
from app.models import Address
from app.services.accounts import scoping
from app.services.declarations import ownership
from app.services.registry import plates
from app.services.registry import addresses as registry
from wechat.qr import parametric_qr_url

@bp.get("/addresses")
@login_required
def addresses():
    """Addresses in the area, searchable by text or code and filterable by community and plate."""
    officer, page = current_officer(), page_number(request.args)
    wanted = {"q": request.args.get("q", "")[:100], "plate": request.args.get("plate", ""),
              "community_id": request.args.get("community_id", "")}
    rows, has_next = registry.address_page(officer, page=page, **wanted)
    return render_template("console/addresses.html", addresses=rows, has_next=has_next,
                           page=page, communities=registry.scoped_communities(officer),
                           plate_form=PlateForm(), **wanted)


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
        registry.edit_address(officer, a, {k: getattr(form, k).data for k in registry.EDITABLE},
                              form.aliases.data, ip=client_ip())
        db.session.commit()
        flash("地址已保存", "success")
        return redirect(url_for("console.address", address_id=a.id))
    return render_template("console/address.html", address=a, form=form,
                           house=ownership.house_at_address(a), plate_form=PlateForm(),
                           plate_url=plates.plate_url(current_app.config["PUBLIC_BASE_URL"], a)
                           ), 400 if request.method == "POST" else 200


def _qr_target():
    # What a plate's QR encodes: the H5 entry URL, or (PLATE_QR_MODE=wechat) a parametric QR.
    if current_app.config.get("PLATE_QR_MODE") != "wechat":
        return None

    return lambda a: parametric_qr_url(a.qr_token)


def _pdf(pdf: bytes, pages: int, size: str, count: int) -> Response:
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f"attachment; filename=plates-{size}-{count}.pdf",
        "X-Plate-Count": str(count), "X-Page-Count": str(pages), "Cache-Control": "no-store"})


@bp.post("/plates")
@login_required
def plates_pdf():
    """Door plates as a print-ready PDF for a community or a selection; records the issue."""
    officer, form = current_officer(), PlateForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        chosen = plates.plate_selection(officer, form.community_id.data, request.form.getlist("ids"))
        pdf, pages = plates.render_plates_pdf(
            chosen, form.size.data, current_app.config["PUBLIC_BASE_URL"], qr_target=_qr_target(),
            authority=plates.authority_of(officer))
    except plates.PlateError as exc:
        flash(str(exc), "warning")
        return redirect(url_for("console.addresses"))
    plates.issue_plates(chosen, officer, form.size.data, ip=client_ip())
    db.session.commit()
    return _pdf(pdf, pages, form.size.data, len(chosen))


@bp.route("/addresses/import", methods=["GET", "POST"])
@roles_required(*scoping.ADMIN_ROLES)
def import_addresses():
    """Import the standard address CSV; rows outside the administrator's communities are refused."""
    form = ImportForm()
    report = error = None
    if form.validate_on_submit():
        report, error = registry.import_for(current_officer(), form.file.data.read(), ip=client_ip())
        if report is not None:
            db.session.commit()
    return render_template("console/address_import.html", form=form, report=report,
                           error=error), 400 if error else 200
