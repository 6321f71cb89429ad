"""Mobile H5 pages for landlords, tenants and employers (reached from WeChat)."""
from flask import Blueprint, request

from app.extensions import CODE_GUESS_LIMIT, SUBMISSION_LIMIT, SUBMISSION_SCOPE, limiter
from app.h5.identity import current_user

bp = Blueprint("h5", __name__)


def submitter_key() -> str:
    """Rate-limit key of an H5 submission: the WeChat user, named as the API names it."""
    user = current_user()
    return f"wx:{user.id}" if user is not None else f"ip:{request.remote_addr}"


def _missed(response) -> bool:
    # A code that finds nothing (404), or a confirmation refused (400): what a guesser produces.
    return response.status_code in (400, 404)


# Every POST on these pages spends the submitter's one budget (shared with the API).
limiter.shared_limit(SUBMISSION_LIMIT, scope=SUBMISSION_SCOPE, key_func=submitter_key,
                     methods=["POST"])(bp)
# Pages reached by a code (receipt, confirmation link): misses are counted per client address.
code_guess_limit = limiter.shared_limit(CODE_GUESS_LIMIT, scope="code-guesses",
                                        deduct_when=_missed, override_defaults=False)

from app.h5 import declare, employer, landlord, receipt, tenant, views  # noqa: E402,F401
