"""Alembic is the only schema path: one head, no drift from the models, clean up/down."""
from __future__ import annotations

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db

MIGRATIONS = os.path.join(os.path.dirname(__file__), "..", "migrations")


def test_migrations_have_exactly_one_head():
    heads = ScriptDirectory(MIGRATIONS).get_heads()
    assert len(heads) == 1, heads


def test_upgraded_schema_matches_the_models(app):
    with app.app_context():
        conf = app.extensions["migrate"].configure_args
        ctx = MigrationContext.configure(
            db.session.connection(),
            opts={"compare_type": True, "render_item": conf.get("render_item")},
        )
        diff = compare_metadata(ctx, db.metadata)
        db.session.rollback()
    assert diff == []


@pytest.fixture()
def scratch_database_url(app_config, tmp_path):
    """An empty database of the same kind as the test database, dropped afterwards."""
    url = make_url(app_config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path}/scratch.sqlite3"
        return
    name = f"{url.database}_scratch"
    server = create_engine(url.set(database=""))
    with server.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    yield url.set(database=name).render_as_string(hide_password=False)
    with server.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    server.dispose()


def test_blank_database_upgrades_and_downgrades_cleanly(app_config, scratch_database_url):
    scratch = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": scratch_database_url})
    with scratch.app_context():
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {"address", "person", "declaration", "audit_log"} <= tables
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()  # and up again: downgrade left nothing behind that blocks a rebuild
        db.session.remove()
        db.engine.dispose()
