"""`python -m tests.cluster.load PLAN.json`: steady load through the load balancer.

API threads register houses (one door plate each) with an Idempotency-Key, retrying the same key
until a 2xx or a final 4xx (as the mini-program does); one thread delivers WeChat `subscribe`
events to the callback (plain mode, signed). Every attempt is a line in PLAN's `hits` file (time,
backend that answered or the error) and every submission's outcome a line in `results`.

`python -m tests.cluster.load PLAN.json --console-search TEXT` signs in to the console through the
load balancer and prints whether an address search for TEXT found anything.
"""
from __future__ import annotations

import hashlib
import json
import random
import secrets
import sys
import threading
import time

import requests

from app.fakedata import FakeData

RETRY_FOR = 25.0  # seconds a client keeps retrying one submission


class Recorder:
    def __init__(self, plan: dict):
        self.lock = threading.Lock()
        self.hits = open(plan["hits"], "a", encoding="utf-8")  # noqa: SIM115
        self.results = open(plan["results"], "a", encoding="utf-8")  # noqa: SIM115

    def hit(self, **row) -> None:
        with self.lock:
            self.hits.write(json.dumps(row) + "\n")

    def result(self, **row) -> None:
        with self.lock:
            self.results.write(json.dumps(row, ensure_ascii=False) + "\n")
            self.results.flush()

    def close(self) -> None:
        self.hits.close()
        self.results.close()


def _attempt(rec: Recorder, session: requests.Session, method: str, url: str, **kwargs):
    started = time.time()
    try:
        resp = session.request(method, url, timeout=10, **kwargs)
    except requests.RequestException as exc:
        rec.hit(t=started, dt=time.time() - started, error=type(exc).__name__)
        return None
    rec.hit(t=started, dt=time.time() - started, status=resp.status_code,
            backend=resp.headers.get("X-Anju-Backend"))
    return resp


def api_thread(plan: dict, rec: Recorder, work: list, lock: threading.Lock, stop_at: float,
               seed: int) -> None:
    fake = FakeData(seed)
    session = requests.Session()
    base = plan["base_url"] + "/api/v1"
    while time.time() < stop_at:
        with lock:
            if not work:
                return
            n, qr_token, user = work.pop()
        key = f"cluster-{n}"
        body = {"qr_token": qr_token, "rental_type": "shared", "rooms": 2, "area_m2": "55",
                "monthly_rent": "1800",
                "owner": {"name": fake.name(), "document_type": "resident_id",
                          "document_number": fake.resident_id(), "phone": fake.mobile()}}
        headers = {"Authorization": f"Bearer {user['token']}", "Idempotency-Key": key}
        first = time.time()
        attempts, outcome = 0, None
        while time.time() - first < RETRY_FOR:
            attempts += 1
            resp = _attempt(rec, session, "POST", base + "/houses", json=body, headers=headers)
            if resp is not None and (resp.ok or resp.status_code in (400, 401, 403, 404, 409,
                                                                     422)):
                outcome = resp
                break
            time.sleep(0.3 + random.random() * 0.3)
        if outcome is not None and outcome.ok:
            data = outcome.json()
            rec.result(kind="declaration", key=key, user_id=user["id"], status=outcome.status_code,
                       id=data.get("id"), receipt=data.get("receipt_code"), attempts=attempts,
                       t=first)
        else:
            rec.result(kind="declaration", key=key, user_id=user["id"], attempts=attempts, t=first,
                       status=None if outcome is None else outcome.status_code,
                       body=None if outcome is None else outcome.text[:300])
        time.sleep(plan.get("pause", 0.05))


def callback_thread(plan: dict, rec: Recorder, stop_at: float) -> None:
    session = requests.Session()
    url = plan["base_url"] + "/wechat/callback"
    token = plan["wechat_token"]
    while time.time() < stop_at:
        openid = "o" + secrets.token_urlsafe(21)[:27]
        now = int(time.time())
        xml = (f"<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>"
               f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{now}</CreateTime>"
               "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event></xml>")
        ok = False
        first = time.time()
        while time.time() - first < RETRY_FOR and not ok:  # WeChat retries a slow answer
            ts, nonce = str(int(time.time())), str(secrets.randbelow(10**9))
            sig = hashlib.sha1("".join(sorted([token, ts, nonce])).encode()).hexdigest()
            resp = _attempt(rec, session, "POST", url, data=xml.encode(),
                            params={"signature": sig, "timestamp": ts, "nonce": nonce},
                            headers={"Content-Type": "text/xml"})
            ok = resp is not None and resp.status_code == 200
            if not ok:
                time.sleep(0.5)
        rec.result(kind="subscribe", openid=openid, ok=ok, t=first)
        time.sleep(0.2)


def run_load(plan: dict) -> None:
    rec = Recorder(plan)
    work = [(n, qr, plan["users"][n % len(plan["users"])])
            for n, qr in enumerate(plan["qr_tokens"])]
    work.reverse()
    lock = threading.Lock()
    stop_at = time.time() + plan["duration"]
    threads = [threading.Thread(target=api_thread, args=(plan, rec, work, lock, stop_at, 100 + i))
               for i in range(plan.get("threads", 4))]
    threads.append(threading.Thread(target=callback_thread, args=(plan, rec, stop_at)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rec.close()


def console_search(plan: dict, text: str) -> dict:
    import re

    session = requests.Session()
    base = plan["base_url"] + "/console"
    page = session.get(base + "/login", timeout=10).text
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    data = {"username": plan["officer"]["username"], "password": plan["officer"]["password"]}
    if csrf:
        data["csrf_token"] = csrf.group(1)
    login = session.post(base + "/login", data=data, timeout=10, allow_redirects=False)
    # The console searches by POST (the query stays out of the URL), then shows the result page.
    form = re.search(r'name="csrf_token"[^>]*value="([^"]+)"',
                     session.get(base + "/search", timeout=10).text)
    query = {"q": text, "kind": "address", **({"csrf_token": form.group(1)} if form else {})}
    resp = session.post(base + "/search", data=query, timeout=10)
    return {"login": login.status_code, "status": resp.status_code, "found": text in resp.text,
            "backend": resp.headers.get("X-Anju-Backend")}


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as fh:
        the_plan = json.load(fh)
    if len(sys.argv) > 3 and sys.argv[2] == "--console-search":
        print(json.dumps(console_search(the_plan, sys.argv[3])))
    else:
        run_load(the_plan)
