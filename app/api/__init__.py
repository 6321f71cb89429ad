"""JSON API for the mini-program, under /api/v1."""
from flask import Blueprint

bp = Blueprint("api", __name__)

from app.api import views  # noqa: E402,F401
from app.api import officer  # noqa: E402,F401  (officer API, 警务通)
from app.api import officer_spot  # noqa: E402,F401  (spot checks, 抽查)
from app.api import officer_cases  # noqa: E402,F401  (漏登 trace-back, 案前比对)
from app.api import officer_penalties  # noqa: E402,F401  (penalty decisions, 处罚)
