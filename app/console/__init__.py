"""Officer console (server-rendered), under /console."""
from flask import Blueprint

bp = Blueprint("console", __name__)

from app.console import addresses, admin, auth, people, views  # noqa: E402,F401
