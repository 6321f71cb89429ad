"""H5 views."""
from flask import render_template

from app.h5 import bp


@bp.get("/")
def index():
    """Landing page: what Anju is and how to declare."""
    return render_template("h5/index.html")
