"""Mobile H5 pages for landlords, tenants and employers (reached from WeChat)."""
from flask import Blueprint

bp = Blueprint("h5", __name__)

from app.h5 import declare, receipt, views  # noqa: E402,F401
