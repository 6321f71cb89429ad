"""API views."""
from flask import jsonify

from app.api import bp


@bp.get("/")
def index():
    """API root: name and version, so clients can check they reach the right service."""
    return jsonify({"service": "anju", "api": "v1"})
