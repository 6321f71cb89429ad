"""Scenario (b): MariaDB is restarted under load.

While landlords submit through the API, read their houses, and WeChat posts messages to the
callback, the private mariadbd is shut down, kept down for 8 s and started again. The service
must answer 503 with Retry-After (the callback: "success"), never 500; every submission it
accepted must still be there afterwards and reach a final status with its push sent once; and
the first requests after the database returns must succeed (pooled connections are checked).
"""
from __future__ import annotations

import hashlib
import random
import threading
import time
from urllib.parse import urlencode

import requests
from wechatpy.crypto import WeChatCrypto

from tests.faults import load

SUBMISSIONS = 40
RATE = 2.0
OUTAGE_AFTER = 5.0
OUTAGE_SECONDS = 8.0
FINAL_WITHIN = 90.0  # seconds after the database is back


def callback_request(stack, openid: str, msg_id: int) -> tuple[str, bytes]:
    """A text message as WeChat posts it in safe mode: (url with signed query, body)."""
    keys = stack.keys
    crypto = WeChatCrypto(keys["WECHAT_TOKEN"], keys["WECHAT_ENCODING_AES_KEY"],
                          keys["WECHAT_APP_ID"])
    xml = (f"<xml><ToUserName><![CDATA[gh_faults0001]]></ToUserName>"
           f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
           f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
           f"<Content><![CDATA[帮助]]></Content><MsgId>{msg_id}</MsgId></xml>")
    return encrypted_post(stack, crypto, xml)


def encrypted_post(stack, crypto, xml: str) -> tuple[str, bytes]:
    token = stack.keys["WECHAT_TOKEN"]
    timestamp, nonce = str(int(time.time())), str(random.randrange(10**9))
    envelope = crypto.encrypt_message(xml, nonce, timestamp)
    encrypt = envelope.split("<Encrypt><![CDATA[", 1)[1].split("]]>", 1)[0]
    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    msg_signature = hashlib.sha1(
        "".join(sorted([token, timestamp, nonce, encrypt])).encode()).hexdigest()
    query = urlencode({"signature": signature, "timestamp": timestamp, "nonce": nonce,
                       "openid": "x", "encrypt_type": "aes", "msg_signature": msg_signature})
    body = (f"<xml><ToUserName><![CDATA[gh_faults0001]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>").encode()
    return f"{stack.base_url}/wechat/callback?{query}", body


def test_mariadb_restarted_under_load_answers_503_never_500_and_loses_nothing(
        stack, mariadb, wechat, figures):
    houses = load.seed_houses(SUBMISSIONS, seed=20)
    items = load.submissions(houses, seed=20)
    stack.start_web()
    stack.start_worker()
    stack.start_worker()
    stack.start_scheduler()
    stack.wait_for_workers(2)

    submissions, reads, callbacks = load.Tally(), load.Tally(), load.Tally()
    bad_callback_bodies: list[str] = []
    missing_retry_after = [0]
    read_log: list[tuple[float, int]] = []
    stop = threading.Event()

    def reader():
        http = requests.Session()
        token = houses[0][1]
        while not stop.is_set():
            sent_at = time.monotonic()
            try:
                resp = http.get(f"{stack.base_url}/api/v1/houses", timeout=10,
                                headers={"Authorization": f"Bearer {token}"})
                reads.add(resp.status_code)
                read_log.append((sent_at, resp.status_code))
                if resp.status_code == 503 and not resp.headers.get("Retry-After"):
                    missing_retry_after[0] += 1
            except requests.RequestException:
                reads.add(0)
            time.sleep(0.1)

    def wechat_sender():
        http = requests.Session()
        msg_id = 7_000_000_000_000_000_000
        while not stop.is_set():
            msg_id += 1
            url, body = callback_request(stack, f"ofaults{msg_id % 50:020d}", msg_id)
            try:
                resp = http.post(url, data=body, timeout=10,
                                 headers={"Content-Type": "text/xml"})
                callbacks.add(resp.status_code)
                text = resp.text
                if resp.status_code != 200 and text != "success":
                    bad_callback_bodies.append(f"{resp.status_code}: {text[:100]}")
            except requests.RequestException:
                callbacks.add(0)
            time.sleep(0.2)

    side = [threading.Thread(target=reader), threading.Thread(target=wechat_sender)]
    for thread in side:
        thread.start()
    clients = threading.Thread(target=load.submit_all, args=(stack.base_url, items, submissions),
                               kwargs={"rate": RATE, "give_up_after": 150})
    clients.start()
    time.sleep(OUTAGE_AFTER)
    mariadb.stop()
    time.sleep(OUTAGE_SECONDS)
    mariadb.start()
    back_at = time.monotonic()
    clients.join(180)
    time.sleep(2)
    stop.set()
    for thread in side:
        thread.join(20)

    accepted = [item for item in items if item.declaration_id]
    final_s, unbounded_s = load.settle(wechat, accepted, back_at, FINAL_WITHIN)
    time.sleep(3)  # a duplicate push would arrive now
    result = load.outcome(wechat, accepted)
    lost, not_final = result["accepted_lost"], result["not_final"]
    missing, duplicated = result["pushes_missing"], result["pushes_duplicated"]
    after = [status for at, status in read_log if at > back_at]
    http_500 = submissions.server_errors + reads.server_errors + callbacks.server_errors
    http_503 = sum(t.statuses.get(503, 0) for t in (submissions, reads, callbacks))
    figures(outage_s=OUTAGE_SECONDS, http_500=http_500, http_503=http_503,
            submissions_status=dict(submissions.statuses), reads_status=dict(reads.statuses),
            callbacks_status=dict(callbacks.statuses), accepted=len(accepted),
            first_reads_after_return=after[:5], accepted_lost=lost, not_final=not_final,
            pushes_missing=missing, pushes_duplicated=duplicated,
            seconds_to_final=final_s and round(final_s, 1),
            seconds_to_final_unbounded=unbounded_s and round(unbounded_s, 1))

    assert http_503 > 0, "the outage should have been seen by some requests"
    assert http_500 == 0, (submissions.statuses, reads.statuses, callbacks.statuses)
    assert missing_retry_after[0] == 0, "every 503 carries Retry-After"
    assert bad_callback_bodies == [], bad_callback_bodies[:5]
    assert len(accepted) == SUBMISSIONS, submissions.statuses
    assert lost == 0, f"{lost} accepted declarations are gone"
    assert final_s is not None, (f"not settled {FINAL_WITHIN:.0f} s after the database "
                                 f"returned (took {unbounded_s} s)")
    assert not_final == 0, f"{not_final} declarations never reached a final status"
    assert missing == 0, f"{missing} declarations never had their status pushed"
    assert duplicated == 0, f"{duplicated} declarations were pushed more than once"
    # The first requests after the database is back are served (dead pooled connections are
    # noticed by the pre-ping, not by a user).
    assert after and after[0] == 200, after[:10]
