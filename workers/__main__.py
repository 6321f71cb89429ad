"""`python -m workers [--burst] [--simple] [queue ...]` runs an RQ worker with every job inside the
app context; `python -m workers --scheduler` runs the periodic schedule (workers/schedule.py)."""
from __future__ import annotations

import argparse
import signal
import sys

from rq import SimpleWorker, Worker

from app import create_app
from app.extensions import db
from app.redis_conn import get_redis
from workers.queues import JOB_SERIALIZER, QUEUE_NAMES, get_queue


class AppWorkerMixin:
    """Runs each job inside its own Flask app context (hence its own database session)."""

    app = None

    def work(self, *args, **kwargs):
        from workers.jobs import warm_up

        with self.app.app_context():
            warm_up()
            return super().work(*args, **kwargs)

    def main_work_horse(self, job, queue):
        # The forked work-horse must not reuse the parent's pooled sockets: two processes on one
        # MySQL connection corrupt each other's results (SQLAlchemy "pooling with os.fork()").
        # close=False leaves the parent's connections open for the parent.
        db.engine.dispose(close=False)
        return super().main_work_horse(job, queue)

    def perform_job(self, job, queue):
        from app.logs import job_context

        with self.app.app_context(), job_context(job) as logged:
            try:
                logged.ok = super().perform_job(job, queue)
                return logged.ok
            finally:
                db.session.remove()


class AppWorker(AppWorkerMixin, Worker):
    """RQ's default forking worker: a crash or leak in one job cannot take the worker down."""


class AppSimpleWorker(AppWorkerMixin, SimpleWorker):
    """No fork per job (tests, and platforms without fork)."""


def make_worker(app, queue_names=QUEUE_NAMES, simple: bool = False, **kwargs):
    """A worker for the app's Redis and queues, with the JSON serializer the jobs are written in."""
    cls = AppSimpleWorker if simple else AppWorker
    worker_class = type(cls.__name__, (cls,), {"app": app})
    connection = get_redis()
    return worker_class([get_queue(name, connection) for name in queue_names],
                        connection=connection, serializer=JOB_SERIALIZER, **kwargs)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__)
    parser.add_argument("queues", nargs="*", default=list(QUEUE_NAMES))
    parser.add_argument("--scheduler", action="store_true",
                        help="run the periodic schedule instead of a worker (one per deployment)")
    parser.add_argument("--burst", action="store_true", help="quit when the queues are empty")
    parser.add_argument("--simple", action="store_true", help="no fork per job")
    parser.add_argument("--check", nargs="?", const="workers", choices=("workers", "scheduler"),
                        help="health check (exit 1 if unhealthy): workers (default) or scheduler")
    args = parser.parse_args(argv)
    app = create_app()
    with app.app_context():
        if args.check:
            from workers.health import check

            return check(args.check)
        if not app.config.get("REDIS_URL"):
            print("REDIS_URL is not set: jobs run inline in the web process; no worker needed.")
            return 0
        if args.scheduler:
            from workers.schedule import run_scheduler

            stopping = []
            signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
            try:
                run_scheduler(get_redis(), stop=lambda: bool(stopping),
                              log=lambda message: print(message, flush=True))
            except KeyboardInterrupt:
                pass
            return 0
        worker = make_worker(app, args.queues, simple=args.simple)
        # RQ's own scheduler (with_scheduler) moves retries with back-off and enqueue_in jobs
        # back onto their queues when due; only one worker at a time holds its lock.
        worker.work(burst=args.burst, with_scheduler=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
