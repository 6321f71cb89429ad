"""`flask demo-data`: a deterministic, valid-looking district, loaded once."""
from __future__ import annotations

from sqlalchemy import func, select

from app import crypto
from app.identity import check_document
from app.models import Address, House, Officer, Person, Residence
from app.services.demo.load import load_demo_data
from app.services.accounts.officers import verify_password


def test_full_demo_has_the_promised_counts_and_one_officer_per_role(db):
    result = load_demo_data(seed=7)
    db.session.commit()
    counts = result.counts
    assert counts["stations"] == 3 and counts["communities"] == 20
    assert 9_000 <= counts["addresses"] <= 11_000
    assert 1_800 <= counts["houses"] <= 2_200
    assert 4_500 <= counts["persons"] <= 5_500
    assert counts["residences"] > 3_000 and counts["employers"] >= 3
    roles = set(db.session.execute(select(Officer.role)).scalars())
    assert roles == {"officer", "station_admin", "branch_admin", "system_admin"}
    username, password = result.passwords["officer"]
    officer = db.session.execute(select(Officer).where(Officer.username == username)).scalar_one()
    assert verify_password(officer.password_hash, password)
    assert password not in result.summary().replace(password, "", 1)  # printed exactly once
    assert db.session.execute(select(func.count(func.distinct(Address.qr_token)))).scalar_one() \
        == counts["addresses"]


def test_demo_documents_pass_their_checks_and_decrypt(db):
    load_demo_data(seed=11, scale=0.05)
    db.session.commit()
    people = db.session.execute(select(Person)).scalars().all()
    assert people
    for person in people:
        number = crypto.decrypt(person.document_number_enc)
        check_document(person.document_type, number)
        assert person.document_masked == crypto.mask_document(number)


def test_same_seed_gives_the_same_people(app, db):
    load_demo_data(seed=3, scale=0.05)
    db.session.commit()
    first = sorted(db.session.execute(select(Person.name, Person.document_blind_index)).all())
    from tests.conftest import _clean_tables

    _clean_tables()
    load_demo_data(seed=3, scale=0.05)
    db.session.commit()
    second = sorted(db.session.execute(select(Person.name, Person.document_blind_index)).all())
    assert first == second


def test_if_empty_does_nothing_the_second_time(app, db):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo-data", "--scale", "0.05"])
    assert first.exit_code == 0, first.output
    assert "minjing" in first.output
    houses = db.session.execute(select(func.count()).select_from(House)).scalar_one()
    second = runner.invoke(args=["demo-data", "--scale", "0.05", "--if-empty"])
    assert second.exit_code == 0 and "already loaded" in second.output
    assert db.session.execute(select(func.count()).select_from(House)).scalar_one() == houses


def test_demo_residences_respect_one_live_residence_per_person_and_house(db):
    load_demo_data(seed=5, scale=0.1)
    db.session.commit()
    duplicates = db.session.execute(
        select(Residence.person_id, Residence.house_id, func.count())
        .where(Residence.active_slot.is_not(None))
        .group_by(Residence.person_id, Residence.house_id).having(func.count() > 1)
    ).all()
    assert duplicates == []


def test_demo_submissions_are_validated_through_the_batch_path(app, db, run_jobs, monkeypatch):
    import workers.jobs
    from app.models import Declaration, DeclarationEvent

    batches = []
    real = workers.jobs.validate_declarations_batch

    def spy(ids):
        batches.append(list(ids))
        return real(ids)

    spy.__name__, spy.__qualname__, spy.__module__ = (real.__name__, real.__qualname__,
                                                      real.__module__)  # RQ finds it by name
    monkeypatch.setattr(workers.jobs, "validate_declarations_batch", spy)
    result = app.test_cli_runner().invoke(args=["demo-data", "--scale", "0.1"])
    assert result.exit_code == 0, result.output
    run_jobs()
    db.session.expire_all()
    assert db.session.execute(select(func.count()).select_from(Declaration).where(
        Declaration.status == "received")).scalar_one() == 0
    validated = set(db.session.execute(select(DeclarationEvent.declaration_id).where(
        DeclarationEvent.to_status == "validating")).scalars())
    assert validated  # the demo's fresh submissions went through the checks...
    if not app.config.get("REDIS_URL"):  # ...in batch jobs (a real worker imports its own copy)
        assert validated == {i for batch in batches for i in batch}


def test_demo_has_a_watch_list_with_hits_open_and_overdue_tasks_and_open_alerts(db):
    from app.models import Alert, ControlTask, Watch, utcnow
    from app.services.police.tasks import overdue_items

    load_demo_data(seed=7, scale=0.1)
    db.session.commit()
    officer = db.session.execute(select(Officer).where(Officer.role == "officer")).scalar_one()
    assert db.session.execute(select(func.count()).select_from(Watch)).scalar_one() >= 6
    tasks = db.session.execute(select(ControlTask)).scalars().all()
    mine = [t for t in tasks if t.police_area_id == officer.police_area_id]
    assert mine and all(t.status == "open" for t in tasks)
    assert any(overdue_items(t, utcnow()) for t in mine)
    assert any(not overdue_items(t, utcnow()) for t in mine)
    assert any(i.get("done_at") and i.get("lat") for t in mine for i in t.checklist)
    kinds = set(db.session.execute(select(Alert.kind).where(Alert.status == "open")).scalars())
    assert {"watch_hit", "control_overdue"} <= kinds


def test_demo_has_planned_and_done_spot_checks_with_unregistered_persons(db):
    from app.models import Alert, MissedRegistration, SpotCheck, SpotCheckPerson, SpotCheckPlan

    load_demo_data(seed=7, scale=0.1)
    db.session.commit()
    plan = db.session.execute(select(SpotCheckPlan)).scalar_one()
    assert plan.seed and len(plan.items) >= 5
    done = [i for i in plan.items if i.spot_check_id]
    assert done and len(done) < len(plan.items)
    flags = list(db.session.execute(select(SpotCheckPerson.was_registered)).scalars())
    assert True in flags and False in flags
    assert db.session.execute(select(func.count(SpotCheck.id))).scalar() == len(done)
    missed = db.session.execute(select(MissedRegistration).where(
        MissedRegistration.source == "spot_check")).scalars().all()
    assert len(missed) == flags.count(False)
    assert db.session.execute(select(func.count(Alert.id)).where(
        Alert.kind == "missed_registration")).scalar() == len(missed)
