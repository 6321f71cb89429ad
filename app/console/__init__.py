"""Officer console (server-rendered), under /console."""
from flask import Blueprint

bp = Blueprint("console", __name__, static_folder="static", static_url_path="/static")

from app.console import addresses, admin, auth, claims, people, views  # noqa: E402,F401
from app.console import escalations  # noqa: E402,F401  (reminders, issue #7)
from app.console import field  # noqa: E402,F401  (watch list, control tasks, alerts, issue #11)
from app.console import kpis  # noqa: E402,F401  (KPI dashboard and reports, issue #13)
from app.console import spot  # noqa: E402,F401  (spot checks, issue #11)
from app.console import collect  # noqa: E402,F401  (field collection, issue #11)
from app.console import cases  # noqa: E402,F401  (案前比对 and 漏登追溯, issue #12)
from app.console import penalties  # noqa: E402,F401  (penalty decisions, issue #12)
