"""Public receipt verification: /r/<code> shows a declaration's masked facts to whoever holds it."""
from __future__ import annotations

import base64
import io

import qrcode
from flask import abort, current_app, render_template, request

from app.crypto import mask_document, mask_name
from app.h5 import bp, code_guess_limit
from app.models.declaration import KIND_LABELS, STATUS_LABELS
from app.services.declarations.declare import RECEIPT_ALPHABET, find_by_receipt_code
from app.wording import NEXT_STEPS, ROLE_LABELS


def receipt_url(code: str) -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + f"/r/{code}"


def qr_data_uri(text: str) -> str:
    """A PNG QR code as a data: URI (served inline: no asset, no network)."""
    image = qrcode.make(text, box_size=6, border=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _masked_people(payload: dict) -> list[dict]:
    people = []
    for key in ("tenants", "workers"):
        for item in payload.get(key) or []:
            people.append({"name": mask_name(item.get("name", "")),
                           # Masked again: a snapshot from before 15-character numbers
                           # hid their birth digits; masking a masked value is a no-op.
                           "document": mask_document(item.get("document_masked") or ""),
                           "start_date": item.get("start_date"),
                           "end_date": item.get("end_date") or payload.get("end_date")})
    return people


# What changed for the people on the receipt, by kind of declaration.
PEOPLE_HEADINGS = {"move_in": "登记入住的租客", "move_out": "登记退租的租客",
                   "hire": "登记入职的员工", "leave": "登记离职的员工",
                   "self": "申报居住的本人", "correction": "更正的租客"}


def _masked_address(text: str | None) -> str:
    # Enough to recognise the place, not enough to find the door: the room number is hidden.
    if not text:
        return ""
    return text[:-4] + "****" if len(text) > 8 else text


def _declaration_or_404(code: str):
    if len(code) != 8 or any(c not in RECEIPT_ALPHABET for c in code):
        abort(404)
    declaration = find_by_receipt_code(code)
    if declaration is None:
        abort(404)
    return declaration


@bp.get("/r/<code>")
@code_guess_limit
def receipt(code: str):
    """Verify a receipt by its code: kind, status and masked facts only."""
    code = code.strip().upper()
    declaration = _declaration_or_404(code)
    payload = declaration.payload or {}
    return render_template(
        "h5/receipt.html", declaration=declaration, code=code,
        kind_label=KIND_LABELS.get(declaration.kind, declaration.kind),
        status_label=STATUS_LABELS.get(declaration.status, declaration.status),
        address=_masked_address(payload.get("address")), people=_masked_people(payload),
        submitter_label=ROLE_LABELS.get(declaration.submitter_role, "申报人"),
        next_step=NEXT_STEPS.get(declaration.status, ""),
        people_heading=PEOPLE_HEADINGS.get(declaration.kind, "登记人员"),
        qr=qr_data_uri(receipt_url(code)), print_view=request.args.get("print") == "1")
