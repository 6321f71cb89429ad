"""`python -m workers [queue ...]`: run an RQ worker with every job inside the app context."""
from __future__ import annotations

import sys

from rq import Worker

from app import create_app
from app.extensions import db
from app.redis_conn import get_redis
from workers.queues import QUEUE_NAMES


class AppWorker(Worker):
    """Runs each job inside the Flask app context; forked children drop the inherited DB pool."""

    app = None

    def work(self, *args, **kwargs):
        with self.app.app_context():
            return super().work(*args, **kwargs)

    def perform_job(self, job, queue):
        with self.app.app_context():
            # A forked child must not reuse the parent's sockets (SQLAlchemy "pooling with fork").
            db.engine.dispose(close=False)
            return super().perform_job(job, queue)


def main(argv: list[str]) -> int:
    app = create_app()
    with app.app_context():
        if not app.config.get("REDIS_URL"):
            print("REDIS_URL is not set: jobs run inline in the web process; no worker needed.")
            return 0
        AppWorker.app = app
        worker = AppWorker(argv or list(QUEUE_NAMES), connection=get_redis())
        worker.work(with_scheduler=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
