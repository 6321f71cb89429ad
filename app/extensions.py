"""Unbound extension instances; create_app() binds them."""
from flask import current_app
from flask_bootstrap import Bootstrap5
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    # Stable constraint names so Alembic migrations are deterministic on every backend.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
limiter = Limiter(key_func=get_remote_address)
# One budget per WeChat user ("wx:<id>") for everything submitted, shared by the H5 pages and
# the mini-program API, so switching channels does not double it.
SUBMISSION_LIMIT = "30/minute;500/day"
SUBMISSION_SCOPE = "declaration-submissions"
# Codes typed or scanned (receipt codes, confirmation links): only misses count, per client
# address, so many honest phones behind one carrier NAT are not slowed by each other.
CODE_GUESS_LIMIT = "10/minute;100/day"
# WeChat OAuth: starting an attempt, and the callback (which spends a WeChat API call).
OAUTH_ENTRY_LIMIT = "60/minute;1000/day"
OAUTH_CALLBACK_LIMIT = "30/minute;500/day"
# Officer sign-in, one budget per client address shared by the console and the officer API.
SIGNIN_LIMIT = "20/minute;100/hour"
SIGNIN_SCOPE = "officer-signin"
bootstrap = Bootstrap5()


@limiter.request_filter
def _rate_limits_off_for_this_app() -> bool:
    # One Limiter serves every app in the process (tests build several): honour each app's switch.
    return not current_app.config.get("RATELIMIT_ENABLED", True)
