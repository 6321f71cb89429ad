"""Scenario (e): two delivery results (TEMPLATESENDJOBFINISH) of one user in the same second are
both recorded — through gunicorn, the encrypted callback, Redis de-duplication and a real
worker. WeChat's own retry of a result is still handled once."""
from __future__ import annotations

import time

from sqlalchemy import func, select
from wechatpy.crypto import WeChatCrypto

from tests.faults.harness import wait_for
from tests.faults.test_mariadb_restart import encrypted_post

USERS = 25  # two pushes each: 50 delivery results


def finish_event(openid: str, create_time: int, msgid: int) -> str:
    return (f"<xml><ToUserName><![CDATA[gh_faults0001]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>{msgid}</MsgID>"
            f"<Status><![CDATA[success]]></Status></xml>")


def test_two_same_second_delivery_results_are_both_recorded(stack, figures):
    import requests

    from app.extensions import db
    from app.models import PushMessage, WeChatUser

    pairs = []
    for n in range(USERS):
        user = WeChatUser(openid=f"ofaultsdelivery{n:012d}", subscribed=True)
        db.session.add(user)
        db.session.flush()
        pushes = [PushMessage(channel="template", wechat_user_id=user.id, openid=user.openid,
                              template_id="faults-notice", payload={}, status="sent",
                              dedupe_key=f"faults-delivery-{n}-{k}", msgid=4_000_000_000 + 2 * n + k)
                  for k in (0, 1)]
        db.session.add_all(pushes)
        pairs.append((user.openid, [p.msgid for p in pushes]))
    db.session.commit()
    stack.start_web()
    stack.start_worker()
    stack.start_worker()
    stack.wait_for_workers(2)

    keys = stack.keys
    crypto = WeChatCrypto(keys["WECHAT_TOKEN"], keys["WECHAT_ENCODING_AES_KEY"],
                          keys["WECHAT_APP_ID"])
    http = requests.Session()
    answers = []
    same_second = int(time.time())
    for openid, msgids in pairs:
        for msgid in msgids + msgids[:1]:  # the first result arrives twice (WeChat's retry)
            url, body = encrypted_post(stack, crypto, finish_event(openid, same_second, msgid))
            resp = http.post(url, data=body, headers={"Content-Type": "text/xml"}, timeout=10)
            answers.append((resp.status_code, resp.text))

    def recorded() -> int:
        db.session.rollback()
        return db.session.execute(select(func.count()).select_from(PushMessage).where(
            PushMessage.delivery_status.is_not(None))).scalar()

    def jobs_run() -> int:
        import redis
        from rq.job import Job
        from rq.registry import FinishedJobRegistry

        from workers.queues import JOB_SERIALIZER

        connection = redis.Redis.from_url(stack.config["REDIS_URL"])
        ids = FinishedJobRegistry("default", connection=connection).get_job_ids()
        jobs = Job.fetch_many(ids, connection=connection, serializer=JOB_SERIALIZER)
        return sum(1 for job in jobs
                   if job is not None and job.func_name == "wechat.jobs.record_template_delivery")

    try:
        wait_for(lambda: recorded() == 2 * USERS, 120, "every delivery result to be recorded")
        time.sleep(2)  # a job for the retried result would have run by now
    finally:
        figures(delivery_results=2 * USERS, recorded=recorded(),
                lost=2 * USERS - recorded(), record_jobs_run=jobs_run(),
                answers_not_success=sum(
                    1 for status, text in answers if (status, text) != (200, "success")))
    assert all(answer == (200, "success") for answer in answers)
    assert jobs_run() == 2 * USERS, "the retried result is handled once"
