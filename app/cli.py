"""Command-line tools: `flask addresses import`, `flask demo-data`."""
from __future__ import annotations

import click
from flask import Flask


def register(app: Flask) -> None:
    from workers.cli import register as register_jobs

    register_jobs(app)

    @app.cli.group("addresses")
    def addresses():
        """Standard address registry."""

    @addresses.command("import")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    @click.option("--batch-size", default=2000, show_default=True)
    def import_addresses(path: str, batch_size: int):
        """Import standard addresses from a CSV file (see docs/ADDRESS_IMPORT.md)."""
        from app.services.registry.address_import import import_csv

        report = import_csv(path, batch_size=batch_size)
        for line, reason in report.errors:
            click.echo(f"第 {line} 行: {reason}", err=True)
        click.echo(
            f"imported {report.inserted} new, updated {report.updated}, "
            f"rejected {len(report.errors)} of {report.total} rows"
        )

    @app.cli.group("watch")
    def watch_group():
        """Watch list (关注人员)."""

    @watch_group.command("import")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    def import_watch(path: str):
        """Import the watch list from a CSV or XLSX file (see docs/IMPORTS.md)."""
        import os

        from app.extensions import db
        from app.services.accounts import audit
        from app.services.errors import RuleError
        from app.services.police.watch import import_rows, read_table

        with open(path, "rb") as fh:
            data = fh.read()
        try:
            rows = read_table(os.path.basename(path), data)
        except RuleError as exc:
            raise click.ClickException(exc.message) from None
        report = import_rows(rows)
        audit.record("cli", "watch.import", "watch", None,
                     detail={"imported": report.imported, "delisted": report.delisted,
                             "unchanged": report.unchanged, "errors": len(report.errors)})
        db.session.commit()
        for line, reason in report.errors:
            click.echo(f"第 {line} 行: {reason}", err=True)
        click.echo(f"imported {report.imported} new, delisted {report.delisted}, "
                   f"unchanged {report.unchanged}, rejected {len(report.errors)}; "
                   f"{report.tasks} control tasks opened")

    @app.cli.command("demo-data")
    @click.option("--seed", type=int, default=None, help="Seed (default DEMO_SEED).")
    @click.option("--scale", type=float, default=1.0, show_default=True,
                  help="Multiply every count (tests use a small scale).")
    @click.option("--if-empty", is_flag=True, help="Do nothing when demo data is already loaded.")
    def demo_data(seed: int | None, scale: float, if_empty: bool):
        """Load deterministic fake demo data: jurisdiction, addresses, houses, persons, officers.

        The declarations it leaves "received" go through batch validation, as an import would.
        """
        from app.services.demo.load import load_demo_data
        from workers.jobs import enqueue_validation_batches

        from app.extensions import db

        result = load_demo_data(seed=seed if seed is not None else app.config["DEMO_SEED"],
                                scale=scale, if_empty=if_empty)
        enqueue_validation_batches(result.received_ids)
        db.session.commit()
        click.echo(result.summary())
