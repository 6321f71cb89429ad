"""The phone forms' resend guard (spot checks, field collection): each form carries an
idempotency key made when it was opened, so a resend from the offline queue lands once."""
from __future__ import annotations

import re

from flask import flash, redirect, request
from flask_wtf import FlaskForm

from app.extensions import db
from app.services.declarations import idempotency

_KEY_RE = re.compile(r"^[A-Za-z0-9_\-:.]{1,64}$")


class CsrfForm(FlaskForm):
    pass


def form_problem(form) -> str | None:
    """Why the submitted form cannot be taken (expired page, no key), in Chinese; else None."""
    if not CsrfForm().validate_on_submit():
        return "页面已过期，请刷新后重新填写"
    if not _KEY_RE.match(form.get("idempotency_key", "")):
        return "表单缺少提交编号，请刷新后重新填写"
    return None


def fingerprint(form) -> str:
    body = {k: form.getlist(k) for k in sorted(form.keys()) if k != "csrf_token"}
    return idempotency.fingerprint("POST", request.path, body)


def stored_location(officer, form) -> str | None:
    """Where the first answer to this form's key went; RuleError if the key served another."""
    stored = idempotency.stored_answer(officer.id, form["idempotency_key"], fingerprint(form))
    return stored.body["location"] if stored is not None else None


def answered(officer, form, location: str, message: str | None = None):
    """Keep the answer beside the write, commit both, and go there (303) with the message."""
    idempotency.store_answer(officer.id, form["idempotency_key"], fingerprint(form), 303,
                             {"location": location})
    db.session.commit()
    if message:
        flash(message, "success")
    return redirect(location, 303)
