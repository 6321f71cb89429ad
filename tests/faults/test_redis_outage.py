"""Scenario (a): Redis goes away for 15 s while landlords submit through the API.

gunicorn serves the app, two real RQ workers and the scheduler run as `python -m workers`, the
private redis-server is SIGKILLed and started again 15 s later (its data persisted: an outage,
not a data loss). Every accepted declaration must reach a final status within 60 s of Redis's
return, every one of their status pushes must reach WeChat exactly once, the worker and the
scheduler must ride the outage out (still running, one log line each when it starts and one when
it ends), and the API must never answer 500.
"""
from __future__ import annotations

import threading
import time

from tests.faults import load
from tests.faults.harness import wait_for

SUBMISSIONS = 30
RATE = 2.0  # per second: the submissions span the whole outage
OUTAGE_AFTER = 2.0  # seconds into the submissions
OUTAGE_SECONDS = 15.0
FINAL_WITHIN = 60.0  # seconds after Redis is back


def test_redis_down_during_submissions_every_declaration_final_and_pushed_once(
        stack, redis_server, wechat, figures):
    items = load.submissions(load.seed_houses(SUBMISSIONS))
    stack.start_web()
    workers = [stack.start_worker(), stack.start_worker()]
    scheduler = stack.start_scheduler()
    stack.wait_for_workers(2)
    wait_for(lambda: "scheduled" in scheduler.output(), 30, "the scheduler's first round")

    tally = load.Tally()
    clients = threading.Thread(target=load.submit_all, args=(stack.base_url, items, tally),
                               kwargs={"rate": RATE, "give_up_after": 150})
    clients.start()
    time.sleep(OUTAGE_AFTER)
    redis_server.kill()
    down_at = time.monotonic()
    time.sleep(OUTAGE_SECONDS)
    redis_server.start()
    back_at = time.monotonic()
    clients.join(180)

    accepted = [item for item in items if item.declaration_id]
    accepted_during = [i for i in accepted if down_at <= (i.accepted_at or 0) <= back_at]
    final_s, unbounded_s = load.settle(wechat, accepted, back_at, FINAL_WITHIN)
    time.sleep(3)  # a duplicate push would arrive now
    result = load.outcome(wechat, accepted)
    not_final, missing = result["not_final"], result["pushes_missing"]
    duplicated = result["pushes_duplicated"]
    worker_logs, scheduler_log = [w.output() for w in workers], scheduler.output()
    figures(submissions=SUBMISSIONS, accepted=len(accepted),
            accepted_during_outage=len(accepted_during), outage_s=OUTAGE_SECONDS,
            http_500=tally.server_errors, http_503=tally.statuses.get(503, 0),
            no_answer=tally.statuses.get(0, 0), not_final=not_final,
            pushes_missing=missing, pushes_duplicated=duplicated,
            seconds_to_final=final_s and round(final_s, 1),
            seconds_to_final_unbounded=unbounded_s and round(unbounded_s, 1),
            workers_alive=sum(w.alive() for w in workers), scheduler_alive=scheduler.alive(),
            worker_outage_lines=[log.count("Redis unreachable") for log in worker_logs],
            scheduler_outage_lines=scheduler_log.count("Redis unreachable"))

    for worker, log in zip(workers, worker_logs):
        assert worker.alive(), f"a worker exited during the outage:\n{log[-3000:]}"
        assert log.count("Redis unreachable") == 1, log[-3000:]  # once per outage
        assert log.count("Redis reachable again") == 1, log[-3000:]
    assert scheduler.alive(), f"the scheduler exited:\n{scheduler_log[-3000:]}"
    assert scheduler_log.count("Redis unreachable") == 1, scheduler_log[-3000:]
    assert tally.server_errors == 0, tally.statuses
    assert len(accepted) == SUBMISSIONS, tally.statuses
    assert final_s is not None, (f"not settled {FINAL_WITHIN:.0f} s after Redis returned "
                                 f"(took {unbounded_s} s)")
    assert not_final == 0, f"{not_final} declarations never reached a final status"
    assert missing == 0, f"{missing} declarations never had their status pushed"
    assert duplicated == 0, f"{duplicated} declarations were pushed more than once"
