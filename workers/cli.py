"""`flask jobs failed`, `flask jobs requeue ID`, `flask worker`, `flask scheduler`."""
from __future__ import annotations

import json

import click
from flask import Flask, current_app

from workers.runner import run


def _this_app() -> Flask:
    """The app the command runs in: the worker needs no second one."""
    return current_app._get_current_object()


def register(app: Flask) -> None:
    """Add the job commands to the app's CLI (called from app/cli.py)."""

    @app.cli.group("jobs")
    def jobs():
        """Background jobs (RQ)."""

    @jobs.command("failed")
    @click.option("--limit", default=100, show_default=True)
    @click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
    def failed(limit: int, as_json: bool):
        """List failed jobs: id, function, arguments, error and time."""
        from workers.admin import list_failed_jobs

        rows = list_failed_jobs(limit)
        for row in rows:
            if as_json:
                click.echo(json.dumps(row.as_dict(), ensure_ascii=False))
            else:
                when = row.failed_at.strftime("%Y-%m-%d %H:%M:%S") if row.failed_at else "-"
                click.echo(f"{row.id}  {when}  {row.queue}  {row.function}"
                           f"({', '.join(map(repr, row.args))})  {row.exception}")
        if not as_json:
            click.echo(f"共 {len(rows)} 个失败任务")

    @jobs.command("requeue")
    @click.argument("job_id")
    def requeue(job_id: str):
        """Put a failed job back on its queue."""
        from workers.admin import requeue_failed_job

        if not requeue_failed_job(job_id):
            raise click.ClickException(f"没有找到失败任务 {job_id}")
        click.echo(f"已重新排队: {job_id}")

    @app.cli.command("worker")
    @click.argument("queues", nargs=-1)
    @click.option("--burst", is_flag=True, help="Quit when the queues are empty.")
    def worker(queues: tuple[str, ...], burst: bool):
        """Run an RQ worker (same as `python -m workers`)."""
        raise SystemExit(run([*queues, *(["--burst"] if burst else [])], _this_app))

    @app.cli.command("scheduler")
    def scheduler():
        """Run the periodic schedule (one per deployment; a second one is harmless)."""
        raise SystemExit(run(["--scheduler"], _this_app))
