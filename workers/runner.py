"""The RQ worker and scheduler runner behind `python -m workers` and `flask worker`: every job
inside the app context, Redis outages ridden out."""
from __future__ import annotations

import argparse
import logging
import signal

from rq import SimpleWorker, Worker

from app.extensions import db
from app.logs import job_context
from app.redis_conn import get_redis
from workers.health import check
from workers.jobs import warm_up
from workers.outage import REDIS_ERRORS, OncePerOutage, RedisOutage
from workers.queues import JOB_SERIALIZER, QUEUE_NAMES, get_queue
from workers.schedule import run_scheduler


class AppWorkerMixin:
    """Runs each job inside its own Flask app context (hence its own database session)."""

    app = None
    outage: RedisOutage | None = None
    # RQ retries a lost connection while it waits for jobs, doubling up to this (RQ: 60 s, which
    # could leave jobs waiting a minute after Redis is back).
    max_connection_wait_time = 5.0

    def heartbeat(self, *args, **kwargs):
        try:
            result = super().heartbeat(*args, **kwargs)
        except REDIS_ERRORS as exc:
            if self.outage is not None:
                self.outage.down(exc)
            raise
        if self.outage is not None:
            self.outage.up()
        return result

    def work(self, *args, **kwargs):
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
        with self.app.app_context(), job_context(job) as logged:
            try:
                logged.ok = super().perform_job(job, queue)
                return logged.ok
            finally:
                db.session.remove()


# How fast a job whose worker died is noticed. The forking worker heartbeats every
# JOB_MONITORING_INTERVAL while its work-horse runs; RQ lets a job's entry in the started registry
# live 60 s past the next heartbeat and cleans the registry every 10 minutes, so a killed worker's
# job waited up to ~11 minutes. Here the entry lapses HEARTBEAT_GRACE after a missed heartbeat
# and the relay (workers/outbox.py, every 5 s) runs the cleanup, which hands the job to its Retry:
# a dead worker's job runs again within about a minute.
JOB_MONITORING_INTERVAL = 10
HEARTBEAT_GRACE = 20
MAINTENANCE_INTERVAL = 60


class AppWorker(AppWorkerMixin, Worker):
    """RQ's default forking worker: a crash or leak in one job cannot take the worker down."""

    def get_heartbeat_ttl(self, job) -> int:
        if job.timeout and job.timeout > 0:
            remaining = job.timeout - self.current_job_working_time
            return int(min(remaining, self.job_monitoring_interval)) + HEARTBEAT_GRACE
        return self.job_monitoring_interval + HEARTBEAT_GRACE


class AppSimpleWorker(AppWorkerMixin, SimpleWorker):
    """No fork per job (tests, and platforms without fork)."""


def make_worker(app, queue_names=QUEUE_NAMES, simple: bool = False,
                outage: RedisOutage | None = None, **kwargs):
    """A worker for the app's Redis and queues, with the JSON serializer the jobs are written in."""
    cls = AppSimpleWorker if simple else AppWorker
    worker_class = type(cls.__name__, (cls,), {"app": app, "outage": outage})
    connection = get_redis()
    kwargs.setdefault("maintenance_interval", MAINTENANCE_INTERVAL)
    if not simple:  # a simple worker cannot heartbeat during a job: keep RQ's long default
        kwargs.setdefault("job_monitoring_interval", JOB_MONITORING_INTERVAL)
    return worker_class([get_queue(name, connection) for name in queue_names],
                        connection=connection, serializer=JOB_SERIALIZER, **kwargs)


def run_worker(app, queue_names, *, simple: bool = False, burst: bool = False, log=print) -> int:
    """Run a worker until it is asked to stop; a Redis outage (RQ quits on one) is waited out and
    a fresh worker started. Returns the exit status."""
    outage = RedisOutage(log=log)
    quiet = OncePerOutage(outage)
    loggers = [logging.getLogger("rq.worker"), logging.getLogger("rq.scheduler")]
    for logger in loggers:
        logger.addFilter(quiet)
    try:
        return _work_through_outages(app, queue_names, simple, burst, outage, log)
    finally:
        for logger in loggers:
            logger.removeFilter(quiet)


def _work_through_outages(app, queue_names, simple, burst, outage, log) -> int:
    stopping: list[bool] = []
    while True:
        worker = make_worker(app, queue_names, simple=simple, outage=outage)
        try:
            # RQ's own scheduler (with_scheduler) moves retries with back-off and enqueue_in jobs
            # back onto their queues when due; only one worker at a time holds its lock.
            worker.work(burst=burst, with_scheduler=True)
        except REDIS_ERRORS as exc:  # at start-up, or while RQ tidied up after losing Redis
            outage.down(exc)
        if getattr(worker, "_stop_requested", False) or (burst and not outage.ongoing):
            return 0
        if not outage.ongoing:
            log("worker stopped on an unexpected error (see above)")
            return 1
        # Between workers a SIGTERM/SIGINT is ours to handle (RQ's handlers belong to the old one).
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stopping.append(True))
        if not outage.wait(get_redis(), stop=lambda: bool(stopping)):
            return 0

USAGE = '`python -m workers [--burst] [--simple] [queue ...]` runs an RQ worker with every job inside the\napp context; `python -m workers --scheduler` runs the periodic schedule (workers/schedule.py).\nBoth ride out a Redis outage: they reconnect with back-off and log it once per outage.'


def run(argv: list[str], make_app) -> int:
    """The entry point's work: parse `argv`, build the app with `make_app()`, run."""
    parser = argparse.ArgumentParser(prog="python -m workers", description=USAGE)
    parser.add_argument("queues", nargs="*", default=list(QUEUE_NAMES))
    parser.add_argument("--scheduler", action="store_true",
                        help="run the periodic schedule instead of a worker (one per deployment)")
    parser.add_argument("--burst", action="store_true", help="quit when the queues are empty")
    parser.add_argument("--simple", action="store_true", help="no fork per job")
    parser.add_argument("--check", nargs="?", const="workers", choices=("workers", "scheduler"),
                        help="health check (exit 1 if unhealthy): workers (default) or scheduler")
    args = parser.parse_args(argv)
    app = make_app()
    with app.app_context():
        if args.check:
            return check(args.check)
        if not app.config.get("REDIS_URL"):
            print("REDIS_URL is not set: jobs run inline in the web process; no worker needed.")
            return 0
        if args.scheduler:
            stopping = []
            signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
            try:
                run_scheduler(get_redis(), stop=lambda: bool(stopping),
                              log=lambda message: print(message, flush=True))
            except KeyboardInterrupt:
                pass
            return 0
        return run_worker(app, args.queues, simple=args.simple, burst=args.burst,
                          log=lambda message: print(message, flush=True))
