"""Console views."""
from flask import render_template

from app.console import bp


@bp.get("/")
def index():
    """Console entry page."""
    return render_template("console/index.html")
