"""marshmallow schemas at the edges (API, H5 forms)."""
