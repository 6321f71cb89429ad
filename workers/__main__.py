"""`python -m workers [--burst] [--simple] [queue ...]` runs an RQ worker with every job inside the
app context; `python -m workers --scheduler` runs the periodic schedule (workers/schedule.py).
Both ride out a Redis outage: they reconnect with back-off and log it once per outage."""
from __future__ import annotations

import sys

from app import create_app
from workers.runner import run


def main(argv: list[str]) -> int:
    return run(argv, create_app)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
