"""Scale-out on one machine (DESIGN §9): a load balancer, two web hosts, two worker hosts, one
scheduler, a MariaDB primary with a GTID replica, and Redis master + replica + three Sentinels,
each host its own network namespace on a private bridge. Under steady load through the API and
the WeChat callback, one web host dies, one worker host's workers are SIGKILLed and the Redis
master fails over; afterwards, with only the real scheduler's outbox relay to recover work,
every accepted declaration reaches a final status and every status push owed reaches WeChat
exactly once within a bounded time, the load balancer stopped using the dead host within seconds,
and a console search read the replica.
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.cluster.harness import (
    GUNICORN, PYTHON, ROOT, Cluster, HAProxy, MariaDB, Redis, Sentinel, read_jsonl,
    start_replication, wait_for,
)
from tests.cluster.netns import Network

FINAL = ("verified", "needs_review", "approved", "flagged", "rejected")
LOAD_SECONDS = 40
KILL_WEB_AT, KILL_WORKER_AT, FAILOVER_AT = 8, 16, 24
DB_PASSWORD = "cluster-" + secrets.token_hex(8)
OFFICER_PASSWORD = "Jiqun-ceshi-2026"
REPLICA_MARK = "副本标记"


@pytest.fixture()
def cluster(cluster_prerequisites, tmp_path):
    net = Network(f"ac{os.getpid() % 10000}")
    c = Cluster(net, tmp_path)
    try:
        yield c
    finally:
        c.stop_all()
        net.teardown()
        text = json.dumps(c.report, ensure_ascii=False, indent=1, default=str)
        (tmp_path / "cluster-report.json").write_text(text)
        print("scale-out report:", text)


def _hosts(net: Network) -> dict[str, str]:
    plan = {"lb": 10, "web1": 11, "web2": 12, "wk1": 21, "wk2": 22, "sched": 30, "db1": 41,
            "db2": 42, "r1": 51, "r2": 52, "r3": 53, "wx": 60, "client": 100}
    return {host: net.add_host(host, number) for host, number in plan.items()}


def _app_env(hosts: dict, workdir: Path) -> dict:
    from app.crypto import generate_key

    db = f"mysql+pymysql://anju:{DB_PASSWORD}@{{host}}:3306/anju?charset=utf8mb4"
    instance = workdir / "instance"
    instance.mkdir(exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir),
        "PYTHONPATH": str(ROOT), "LANG": "C.UTF-8", "ANJU_INSTANCE_PATH": str(instance),
        "APP_ENV": "development", "WECHAT_SANDBOX": "0", "TRUSTED_PROXIES": "1",
        "DATABASE_URL": db.format(host=hosts["db1"]),
        "DATABASE_REPLICA_URL": db.format(host=hosts["db2"]),
        "REDIS_SENTINELS": ",".join(f"{hosts[h]}:26379" for h in ("r1", "r2", "r3")),
        "REDIS_SENTINEL_MASTER": "anju",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "FIELD_ENCRYPTION_KEYS": "c1:" + generate_key(), "FIELD_ENCRYPTION_ACTIVE_KEY_ID": "c1",
        "BLIND_INDEX_KEY": generate_key(),
        "PUBLIC_BASE_URL": f"http://{hosts['lb']}",
        "WECHAT_APP_ID": "wxcluster00000001", "WECHAT_APP_SECRET": "cluster-secret-" + "0" * 17,
        "WECHAT_TOKEN": "clustertoken", "WECHAT_MESSAGE_MODE": "plain",
        "WECHAT_ENCODING_AES_KEY": base64.b64encode(b"c" * 32).decode().rstrip("="),
        "WECHAT_MINIAPP_ID": "wxclustermini0001", "WECHAT_MINIAPP_SECRET": "mini-" + "0" * 27,
        "WECHAT_NOTICE_TEMPLATE_ID": "cluster-notice",
        "WECHAT_MINIAPP_NOTICE_TEMPLATE_ID": "cluster-mini-notice",
        "WECHAT_API_BASE_URL": f"http://{hosts['wx']}:8080/",
        # No quiet hours: every status push is owed now, whatever the hour the test runs at.
        "REMINDER_QUIET_START": "00:00", "REMINDER_QUIET_END": "00:00",
    }


def _seed(primary: MariaDB, env: dict, addresses: int, users: int) -> dict:
    """Jurisdiction, door plates, mini-program users with tokens, a branch admin; over the socket."""
    from app import create_app
    from app.app_tokens import issue_app_token
    from app.extensions import db
    from app.models import Officer, WeChatUser, utcnow
    from app.services.accounts.officers import hash_password
    from tests.factories import make_address, make_jurisdiction

    app = create_app({"SQLALCHEMY_DATABASE_URI": primary.socket_url("anju"), "REDIS_URL": None,
                      "TESTING": True, **{k: env[k] for k in (
                          "SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "FIELD_ENCRYPTION_ACTIVE_KEY_ID",
                          "BLIND_INDEX_KEY")}})
    with app.app_context():
        place = make_jurisdiction("K")
        plates = [make_address(place["community"]).qr_token for _ in range(addresses)]
        marked = make_address(place["community"], full_text="集群路1号")
        people = [WeChatUser(openid=f"ocluster{n:020d}", source="miniapp", subscribed=True)
                  for n in range(users)]
        db.session.add_all(people)
        db.session.add(Officer(username="cluster_admin", password_hash=hash_password(
            OFFICER_PASSWORD), password_changed_at=utcnow(), name="集群管理员",
            badge_number="C0001", role="branch_admin", branch_id=place["branch"].id))
        db.session.commit()
        result = {"qr_tokens": plates, "marked_address_id": marked.id,
                  "users": [{"id": u.id, "token": issue_app_token(u.id)} for u in people]}
        db.session.remove()
        db.engine.dispose()
    return result


def _watch_haproxy(lb: HAProxy, events: list, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            events.append((time.time(), lb.server_status()))
        except OSError:
            pass
        time.sleep(0.1)


def test_cluster_survives_losing_a_web_host_a_worker_host_and_the_redis_master(cluster):
    workdir = cluster.workdir
    hosts = _hosts(cluster.net)
    env = _app_env(hosts, workdir)
    report = cluster.report
    report.update(network="netns", hosts=hosts)

    # Databases: primary and GTID replica; the schema by Alembic through the network.
    primary, replica = MariaDB(cluster, "db1", 1), MariaDB(cluster, "db2", 2)
    primary.start()
    replica.start()
    start_replication(primary, replica, DB_PASSWORD)
    primary.sql("CREATE DATABASE anju CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
                f"CREATE USER 'anju'@'10.%' IDENTIFIED BY '{DB_PASSWORD}'",
                "GRANT ALL ON anju.* TO 'anju'@'10.%'")
    # Redis: master, replica, three Sentinels on three hosts.
    r1 = Redis(cluster, "r1")
    r2 = Redis(cluster, "r2", replica_of=hosts["r1"])
    sentinels = [Sentinel(cluster, h, hosts["r1"]) for h in ("r1", "r2", "r3")]
    wait_for(lambda: all(hosts["r2"] in s.command("SENTINEL", "REPLICAS", "anju", check=False)
                         for s in sentinels), 30, "the Sentinels to see the Redis replica")
    cluster.run("web1", [str(Path(PYTHON).with_name("flask")), "--app", "wsgi", "db", "upgrade"],
                env=env)
    seed = _seed(primary, env, addresses=600, users=40)

    # WeChat's API, two web hosts behind haproxy, two worker hosts and one scheduler.
    pushes_log = workdir / "pushes.jsonl"
    cluster.start("wx", "fake-wechat", [PYTHON, "-m", "tests.cluster.fake_wechat", hosts["wx"],
                                        "8080", str(pushes_log)], env=env)
    web_env = {**env, "GUNICORN_BIND": "0.0.0.0:8000", "GUNICORN_WORKERS": "2",
               "GUNICORN_THREADS": "4", "GUNICORN_GRACEFUL_TIMEOUT": "5"}
    webs = {name: cluster.start(name, f"gunicorn-{name}", [
        GUNICORN, "-c", str(ROOT / "deploy" / "gunicorn.conf.py"), "wsgi:app"], env=web_env)
        for name in ("web1", "web2")}
    # A worker host runs one worker process per core (two here).
    workers = {(name, n): cluster.start(name, f"worker-{name}-{n}", [PYTHON, "-m", "workers"],
                                        env=env)
               for name in ("wk1", "wk2") for n in (1, 2)}
    cluster.start("sched", "scheduler", [PYTHON, "-m", "workers", "--scheduler"], env=env)
    lb = HAProxy(cluster, "lb", {"web1": hosts["web1"], "web2": hosts["web2"]})
    wait_for(lambda: set(lb.server_status().values()) == {"UP"}, 60,
             "both web hosts UP in haproxy")

    # Steady load from the client host; the faults land while it runs.
    plan = {"base_url": f"http://{hosts['lb']}", "duration": LOAD_SECONDS, "threads": 2,
            "qr_tokens": seed["qr_tokens"], "users": seed["users"], "pause": 0.4,
            "wechat_token": env["WECHAT_TOKEN"], "hits": str(workdir / "hits.jsonl"),
            "results": str(workdir / "results.jsonl"),
            "officer": {"username": "cluster_admin", "password": OFFICER_PASSWORD}}
    plan_path = workdir / "plan.json"
    plan_path.write_text(json.dumps(plan))
    status_events: list = []
    stop_watch = threading.Event()
    watcher = threading.Thread(target=_watch_haproxy, args=(lb, status_events, stop_watch),
                               daemon=True)
    watcher.start()
    load = cluster.start("client", "load", [PYTHON, "-m", "tests.cluster.load", str(plan_path)],
                         env=env)
    started = time.time()
    time.sleep(KILL_WEB_AT)
    web1_killed = time.time()
    webs["web1"].kill()
    time.sleep(max(0.0, started + KILL_WORKER_AT - time.time()))
    for n in (1, 2):
        workers[("wk1", n)].kill()
    time.sleep(max(0.0, started + FAILOVER_AT - time.time()))
    failover_at = time.time()
    assert sentinels[2].command("SENTINEL", "FAILOVER", "anju") == "OK"
    new_master = wait_for(
        lambda: hosts["r2"] in sentinels[2].command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "anju"),
        30, "the Sentinels to promote the Redis replica")
    report["redis_failover_seconds"] = round(time.time() - failover_at, 2)
    assert new_master
    load.proc.wait(LOAD_SECONDS + 60)
    stop_watch.set()
    watcher.join(5)

    # The load balancer noticed the dead host within seconds.
    down_at = next((t for t, status in status_events
                    if t > web1_killed and status.get("web1") not in ("UP", None)
                    and not status["web1"].startswith("UP")), None)
    assert down_at is not None, "haproxy never marked web1 down"
    report["haproxy_marked_web1_down_after_s"] = round(down_at - web1_killed, 2)
    assert down_at - web1_killed < 5
    hits = read_jsonl(Path(plan["hits"]))
    late_web1 = [h for h in hits if h.get("backend") == "web1" and h["t"] > web1_killed + 0.5]
    assert late_web1 == []
    after = [h for h in hits if h["t"] > down_at + 0.5]
    report["requests_after_web1_down"] = len(after)
    report["failed_attempts_after_web1_down"] = sum(1 for h in after if "error" in h
                                                   or h.get("status", 200) >= 500)
    report["attempts_total"] = len(hits)
    report["attempts_failed_total"] = sum(1 for h in hits if "error" in h
                                          or h.get("status", 200) >= 500)

    results = read_jsonl(Path(plan["results"]))
    accepted = [r for r in results if r["kind"] == "declaration" and r.get("status") in (200, 201)]
    refused = [r for r in results if r["kind"] == "declaration" and r.get("status") not in (200,
                                                                                          201)]
    report["declarations_accepted"] = len(accepted)
    report["declarations_not_accepted"] = len(refused)
    report["declarations_not_accepted_examples"] = refused[:3]
    assert len(accepted) > 40, report
    ids = sorted({r["id"] for r in accepted})
    assert len(ids) == len(accepted), "two submissions answered with one declaration"

    # Every accepted declaration is in the primary and reaches a final status, and every status
    # push owed reaches WeChat exactly once. Nothing but the scheduler's `relay_outbox` recovers
    # work: jobs lost with the dead workers or with the old Redis master (writes between promotion
    # and demotion) are handed over again once RQ no longer knows them (CHECK_AFTER, 60 s).
    id_list = ",".join(map(str, ids))

    def unfinished() -> list:
        return primary.sql(f"SELECT id, status FROM declaration WHERE id IN ({id_list}) "
                           f"AND status NOT IN ({','.join(repr(s) for s in FINAL)})",
                           database="anju")

    def owed() -> dict:
        """(openid, receipt code) of each accepted declaration whose submitter is told."""
        rows = primary.sql(
            f"SELECT d.id, u.openid, d.receipt_code FROM declaration d JOIN wechat_user u "
            f"ON u.id = d.submitter_wechat_user_id WHERE d.id IN ({id_list})", database="anju")
        return {int(i): (openid, code) for i, openid, code in rows}

    def status_pushes() -> Counter:
        """How many status pushes WeChat received per (openid, receipt code)."""
        counts: Counter = Counter()
        for p in read_jsonl(pushes_log):
            data = json.dumps(p["body"].get("data"), ensure_ascii=False)
            code = next((c for c in codes if f"回执码：{c}" in data), None)
            if "申报办理进度" in data and code is not None:
                counts[(p["body"].get("touser"), code)] += 1
        return counts

    present = primary.sql(f"SELECT COUNT(*) FROM declaration WHERE id IN ({id_list})",
                          database="anju")[0][0]
    assert present == len(ids)
    expected = owed()
    codes = {code for _openid, code in expected.values()}
    load_ended = time.time()
    deadline = load_ended + 180
    while time.time() < deadline:
        received = status_pushes()
        if not unfinished() and all(received[key] >= 1 for key in expected.values()):
            break
        time.sleep(2)
    report["seconds_from_load_end_to_all_final_and_pushed"] = round(time.time() - load_ended, 1)
    report["seconds_from_failover_to_all_final_and_pushed"] = round(time.time() - failover_at, 1)
    stuck = unfinished()
    report["declarations_stuck"] = len(stuck)
    assert stuck == [], f"not final: {stuck[:10]}"
    time.sleep(6)  # a relay period more: a late duplicate would show now
    received = status_pushes()
    missing = [i for i, key in expected.items() if received[key] == 0]
    doubled = [i for i, key in expected.items() if received[key] > 1]
    sent = read_jsonl(pushes_log)
    per_message = Counter((p["body"].get("touser"), json.dumps(p["body"].get("data"),
                                                               sort_keys=True)) for p in sent)
    twice = [k for k, n in per_message.items() if n > 1]
    report.update(status_pushes_expected=len(expected), status_pushes_sent=sum(
        1 for key in expected.values() if received[key]), status_pushes_missing=len(missing),
        status_pushes_sent_twice=len(doubled), pushes_sent=len(sent),
        pushes_sent_twice=len(twice))
    report["push_rows_by_status"] = dict(primary.sql(
        "SELECT status, COUNT(*) FROM push_message GROUP BY status", database="anju"))
    report["outbox_rows_not_done"] = primary.sql(
        "SELECT COUNT(*) FROM outbox_job WHERE done_at IS NULL", database="anju")[0][0]
    report["reminder_pushes_sent"] = primary.sql(
        "SELECT COUNT(*) FROM reminder WHERE sent_at IS NOT NULL", database="anju")[0][0]
    assert expected, "no accepted declaration had a WeChat submitter to tell"
    if missing:  # what the push records say about them (e.g. a claim its worker died holding)
        report["status_pushes_missing_rows"] = primary.sql(
            "SELECT dedupe_key, status, attempts, errmsg FROM push_message WHERE "
            + " OR ".join(f"dedupe_key LIKE 'declaration:{i}:%'" for i in missing[:10]),
            database="anju")
    assert missing == [], f"status pushes never sent: declarations {missing[:10]}"
    assert doubled == [], f"status pushes sent twice: declarations {doubled[:10]}"
    assert twice == [], f"pushed twice (declaration and reminder pushes alike): {twice[:5]}"

    # The callback answered every subscribe event it acknowledged: each follower is recorded.
    subscribed = [r["openid"] for r in results if r["kind"] == "subscribe" and r["ok"]]
    report["subscribe_events_acknowledged"] = len(subscribed)
    assert subscribed
    quoted = ",".join(f"'{o}'" for o in subscribed)
    recorded = primary.sql(f"SELECT COUNT(*) FROM wechat_user WHERE openid IN ({quoted}) "
                           "AND subscribed = 1", database="anju")[0][0]
    assert recorded == len(subscribed)

    # The replica caught up, and a console search through the load balancer read from it: the
    # mark exists only on the replica (written there without binlog).
    wait_for(lambda: replica.sql(f"SELECT COUNT(*) FROM declaration WHERE id IN ({id_list})",
                                 database="anju")[0][0] == len(ids), 30, "the replica to catch up")
    replica.sql("SET SESSION sql_log_bin=0",
                f"UPDATE address SET full_text='集群路1号{REPLICA_MARK}' "
                f"WHERE id={seed['marked_address_id']}", database="anju")
    searched = json.loads(cluster.run("client", [PYTHON, "-m", "tests.cluster.load",
                                                 str(plan_path), "--console-search",
                                                 REPLICA_MARK], env=env).stdout)
    report["console_search"] = searched
    assert searched["status"] == 200 and searched["found"], searched
    assert all(p.alive() for p in (webs["web2"], workers[("wk2", 1)], workers[("wk2", 2)])), \
        cluster.logs()

