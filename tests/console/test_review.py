"""Review decisions: approve / flag / reject change the status, write history and an audit row,
and queue the push to the submitter; bulk approve touches only `verified`; choosing a candidate
fixes the address; the payload is masked until a reason is given."""
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditLog, Declaration
from app.services.declarations import review
from tests.console.helpers import make_declaration


@pytest.fixture()
def queued(monkeypatch):
    """Spy on the jobs promised after commit (the real outbox still records them)."""
    from app.outbox import jobs

    calls = []
    real = jobs.after_commit

    def spy(name, *args, **kwargs):
        calls.append((name.rsplit(".", 1)[-1], args))
        return real(name, *args, **kwargs)

    monkeypatch.setattr(jobs, "after_commit", spy)
    return calls


def _reload(d):
    db.session.expire_all()
    return db.session.get(Declaration, d.id)


@pytest.mark.parametrize("action,status", [("approve", "approved"), ("flag", "flagged"),
                                           ("reject", "rejected")])
def test_decision_changes_status_history_audit_and_queues_the_push(
        as_officer, world, queued, action, status):
    d = world.a.declarations["review"]
    resp = as_officer.post(f"/console/declarations/{d.id}/decide",
                           data={"action": action, "reason": "证件与本人一致"})
    assert resp.status_code == 302
    d = _reload(d)
    assert d.status == status
    assert d.decided_by_officer_id == world.officers["officer_a"].id
    assert d.events[-1].to_status == status
    assert d.events[-1].actor == f"officer:{world.officers['officer_a'].id}"
    row = db.session.execute(select(AuditLog).where(
        AuditLog.object_type == "declaration", AuditLog.object_id == d.id)).scalar_one()
    assert row.action == f"declaration.{action}" and row.actor_type == "officer"
    assert ("notify_declaration_status", (d.id, status)) in queued


def test_reject_without_a_reason_is_refused_in_chinese(as_officer, world, queued):
    d = world.a.declarations["review"]
    resp = as_officer.post(f"/console/declarations/{d.id}/decide", data={"action": "reject"})
    assert resp.status_code == 400
    assert "必须填写原因" in resp.get_data(as_text=True)
    assert _reload(d).status == "needs_review"
    assert queued == []


def test_reject_reason_is_kept_for_the_submitter(as_officer, world):
    d = world.a.declarations["review"]
    as_officer.post(f"/console/declarations/{d.id}/decide",
                    data={"action": "reject", "reason": "入住日期填写有误，请重新申报"})
    assert _reload(d).decision_reason == "入住日期填写有误，请重新申报"


def test_decided_declaration_cannot_be_decided_again(as_officer, world):
    d = world.a.declarations["review"]
    as_officer.post(f"/console/declarations/{d.id}/decide", data={"action": "approve"})
    resp = as_officer.post(f"/console/declarations/{d.id}/decide", data={"action": "flag"})
    assert resp.status_code == 400
    assert "当前状态不能执行此操作" in resp.get_data(as_text=True)
    assert _reload(d).status == "approved"


def test_unknown_action_is_a_400_not_a_500(as_officer, world):
    d = world.a.declarations["review"]
    resp = as_officer.post(f"/console/declarations/{d.id}/decide", data={"action": "destroy"})
    assert resp.status_code == 400


def test_bulk_approve_approves_only_verified_declarations(as_officer, world, queued):
    verified = world.a.declarations["verified"]
    second = make_declaration(world.a.address, "verified")
    review_one = world.a.declarations["review"]
    db.session.commit()
    ids = [str(verified.id), str(second.id), str(review_one.id), "abc"]
    resp = as_officer.post("/console/declarations/bulk-approve", data={"ids": ids})
    assert resp.status_code == 302
    assert _reload(verified).status == "approved"
    assert _reload(second).status == "approved"
    assert _reload(review_one).status == "needs_review"
    assert {c[1] for c in queued} == {(verified.id, "approved"), (second.id, "approved")}
    bulk = db.session.execute(select(AuditLog).where(
        AuditLog.action == "declaration.bulk_approve")).scalar_one()
    assert sorted(bulk.detail["ids"]) == sorted([verified.id, second.id])


def test_bulk_approve_refuses_a_declaration_with_reasons_even_if_posted(as_officer, world):
    clean = make_declaration(world.a.address, "verified")
    noted = make_declaration(world.a.address, "verified", reasons=[
        {"field": "tenants.0", "message": "张三仍登记在其他房屋居住，已请原房东确认退租"}])
    db.session.commit()
    page = as_officer.get("/console/declarations?status=verified").get_data(as_text=True)
    assert f'name="ids" value="{clean.id}"' in page
    assert f'name="ids" value="{noted.id}"' not in page  # not offered...
    resp = as_officer.post("/console/declarations/bulk-approve",
                           data={"ids": [str(clean.id), str(noted.id)]}, follow_redirects=True)
    assert "1 条需逐条审核" in resp.get_data(as_text=True)
    assert _reload(clean).status == "approved"
    assert _reload(noted).status == "verified"  # ...and refused when posted anyway


def test_choosing_a_candidate_fixes_the_address_and_is_audited(as_officer, world):
    d = world.a.declarations["review"]
    other = world.a.other_address
    resp = as_officer.post(f"/console/declarations/{d.id}/address",
                           data={"address_id": str(other.id)})
    assert resp.status_code == 302
    assert _reload(d).address_id == other.id
    row = db.session.execute(select(AuditLog).where(
        AuditLog.action == "declaration.choose_address")).scalar_one()
    assert row.detail["to_address_id"] == other.id


def test_an_address_that_is_not_a_candidate_cannot_be_chosen(world):
    d = world.a.declarations["review"]
    with pytest.raises(review.ReviewError):
        review.choose_address(d, world.a.address, world.officers["officer_a"])


def test_detail_shows_masked_payload_reasons_candidates_and_history(as_officer, world):
    d = world.a.declarations["review"]
    html = as_officer.get(f"/console/declarations/{d.id}").get_data(as_text=True)
    assert "110105194912310088" not in html and "110105********0088" in html
    assert "13800000001" not in html and "138****0001" in html
    assert "地址与标准地址不完全一致" in html
    assert world.a.other_address.full_text in html
    assert "待民警审核" in html and "显示完整号码" in html


def test_showing_a_full_payload_number_needs_a_reason_and_writes_an_audit_row(as_officer, world):
    d = world.a.declarations["review"]
    url = f"/console/declarations/{d.id}/reveal"
    refused = as_officer.post(url, data={"field": "document_number", "reason": ""})
    assert refused.status_code == 400 and "110105194912310088" not in refused.get_data(as_text=True)
    shown = as_officer.post(url, data={"field": "document_number", "reason": "核对租客身份"})
    assert shown.status_code == 200 and "110105194912310088" in shown.get_data(as_text=True)
    row = db.session.execute(select(AuditLog).where(
        AuditLog.action == "declaration.reveal")).scalar_one()
    assert row.reason == "核对租客身份" and row.detail == {"field": "document_number"}
    # Fields that are not numbers cannot be "revealed" through this door.
    assert as_officer.post(url, data={"field": "start_date", "reason": "核对租客身份"}).status_code == 404


def test_queue_filters_by_status_kind_community_age_and_lateness(as_officer, world):
    late = make_declaration(world.a.address, "needs_review", kind="move_out", is_late=True,
                            late_hours=80)
    db.session.commit()
    code = late.receipt_code
    on_time = world.a.declarations["review"].receipt_code
    def get(**q):
        return as_officer.get("/console/declarations", query_string=q).get_data(as_text=True)

    assert code in get(late="1") and on_time not in get(late="1")
    assert code in get(kind="move_out") and on_time not in get(kind="move_out")
    assert code not in get(status="verified")
    assert code not in get(age="7")  # created just now
    community = world.a.jurisdiction["community"].id
    assert code in get(community_id=str(community))
    assert code not in get(community_id=str(world.b.jurisdiction["community"].id))
    assert as_officer.get("/console/declarations?page=abc&age=x&community_id=y").status_code == 200


def test_decision_push_job_reaches_the_real_queue_after_commit(app, as_officer, world):
    """With REDIS_URL the push is an RQ job on the default queue; inline otherwise (demo)."""
    if not app.config.get("REDIS_URL"):
        pytest.skip("needs real Redis (set TEST_REDIS_URL)")
    from workers.queues import get_queue

    d = world.a.declarations["review"]
    as_officer.post(f"/console/declarations/{d.id}/decide", data={"action": "flag"})
    jobs = [(j.func_name, tuple(j.args)) for j in get_queue("default").jobs]
    assert ("workers.jobs.notify_declaration_status", (d.id, "flagged")) in jobs


def test_history_names_the_deciding_officer(as_officer, world):
    d = world.a.declarations["review"]
    as_officer.post(f"/console/declarations/{d.id}/decide", data={"action": "approve"})
    html = as_officer.get(f"/console/declarations/{d.id}").get_data(as_text=True)
    assert "民警 甲民警" in html and "系统核验" in html


def test_payload_of_a_move_in_names_each_tenant_and_links_to_the_person(as_officer, world):
    person = world.a.person
    d = make_declaration(world.a.address, "needs_review", payload={
        "house_id": world.a.house.id, "address": world.a.address.full_text,
        "tenants": [{"person_id": person.id, "name": person.name,
                     "document_masked": person.document_masked, "start_date": "2026-11-01"}]})
    db.session.commit()
    html = as_officer.get(f"/console/declarations/{d.id}").get_data(as_text=True)
    assert "第1位租客" in html and "证件号码" in html and "租客1" not in html
    assert f"/console/persons/{person.id}" in html
    assert person.name not in html
