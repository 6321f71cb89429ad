"""Scenario (c): the worker is SIGKILLed again and again in the middle of jobs.

Landlords submit through the API (gunicorn) while the only RQ worker is killed with its whole
process group (worker, work-horse, RQ's scheduler) in the middle of a job — a status push when
one is running, which WeChat (slow to answer here) has received but not yet acknowledged — and
a new one is started at once, as a supervisor would. After the last kill every declaration must
reach a final status and every status push must reach WeChat exactly once: a push whose send
was cut off is neither lost nor sent again.
"""
from __future__ import annotations

import threading
import time

import redis
from rq.registry import StartedJobRegistry

from tests.faults import load

SUBMISSIONS = 30
RATE = 3.0
KILLS = 8  # at least, and until MID_PUSH_KILLS of them cut off a push in flight
MID_PUSH_KILLS = 2
KILLING_AT_MOST = 90.0  # seconds
FINAL_WITHIN = 120.0  # seconds after the last kill: a dead worker's job is noticed, then rerun
WECHAT_DELAY = 0.8  # seconds WeChat takes to acknowledge a push


def _started_jobs(connection) -> list[str]:
    """Function names of the jobs running now."""
    from rq.job import Job

    from workers.queues import JOB_SERIALIZER

    ids = [job_id for name in ("high", "default", "low")
           for job_id in StartedJobRegistry(name, connection=connection).get_job_ids()]
    jobs = Job.fetch_many(ids, connection=connection, serializer=JOB_SERIALIZER)
    return [job.func_name for job in jobs if job is not None]


def test_worker_killed_repeatedly_mid_job_every_declaration_final_and_pushed_once(
        stack, wechat, figures):
    wechat.delay = WECHAT_DELAY
    items = load.submissions(load.seed_houses(SUBMISSIONS), seed=19)
    stack.start_web()
    worker = stack.start_worker()
    stack.start_scheduler()
    stack.wait_for_workers(1)
    connection = redis.Redis.from_url(stack.config["REDIS_URL"])

    tally = load.Tally()
    clients = threading.Thread(target=load.submit_all, args=(stack.base_url, items, tally),
                               kwargs={"rate": RATE, "give_up_after": 120})
    clients.start()
    kills = mid_job = mid_push = 0
    stop_killing_at = time.monotonic() + KILLING_AT_MOST
    while (kills < KILLS or mid_push < MID_PUSH_KILLS) and time.monotonic() < stop_killing_at:
        deadline = time.monotonic() + 6
        running = []
        while time.monotonic() < deadline:
            running = _started_jobs(connection)
            if "workers.jobs.notify_declaration_status" in running:
                sent_before = len(wechat.sent)
                # Cut it off once WeChat has the push but before it has answered.
                wait_for_arrival = time.monotonic() + WECHAT_DELAY
                while len(wechat.sent) == sent_before and time.monotonic() < wait_for_arrival:
                    time.sleep(0.01)
                mid_push += len(wechat.sent) > sent_before
                break
            time.sleep(0.05)
        mid_job += bool(running)
        worker.kill()
        kills += 1
        worker = stack.start_worker()
        time.sleep(1.5)  # let the new one pick up work before the next kill
    last_kill = time.monotonic()
    clients.join(150)

    accepted = [item for item in items if item.declaration_id]
    final_s, unbounded_s = load.settle(wechat, accepted, last_kill, FINAL_WITHIN)
    time.sleep(3)  # a duplicate push would arrive now
    result = load.outcome(wechat, accepted)
    not_final, missing = result["not_final"], result["pushes_missing"]
    duplicated = result["pushes_duplicated"]
    figures(submissions=SUBMISSIONS, accepted=len(accepted), kills=kills, kills_mid_job=mid_job,
            kills_mid_push=mid_push,
            http_500=tally.server_errors, not_final=not_final, pushes_missing=missing,
            pushes_duplicated=duplicated, seconds_to_final=final_s and round(final_s, 1),
            seconds_to_final_unbounded=unbounded_s and round(unbounded_s, 1))

    assert tally.server_errors == 0, tally.statuses
    assert len(accepted) == SUBMISSIONS, tally.statuses
    assert mid_job >= KILLS // 2, "most kills should land while a job runs"
    assert mid_push >= 1, "some kill should cut off a push WeChat received but did not answer"
    assert final_s is not None, (f"not settled {FINAL_WITHIN:.0f} s after the last kill "
                                 f"(took {unbounded_s} s)")
    assert not_final == 0, f"{not_final} declarations never reached a final status"
    assert missing == 0, f"{missing} declarations never had their status pushed"
    assert duplicated == 0, f"{duplicated} declarations were pushed more than once"
