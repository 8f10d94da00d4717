"""Issue 11: the history is append-only in the database and hash-chained per attempt.

Runs on SQLite and on PostgreSQL (DATABASE_URL=postgres://…); the triggers
under test are each database's own.
"""

import io
import threading

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from pypdf import PdfReader

from assessments import append_only, audit, moderation, services
from assessments.models import (
    Amendment,
    Assessment,
    AssessorResponse,
    AuditEntry,
    ModeratedCriterion,
    ModerationReview,
    ModerationSample,
    SignOff,
)
from standards.models import Unit
from standards.services import import_unit_file
from tests.conftest import UNIT_FILES

PROTECTED = {
    "assessments_auditentry": AuditEntry,
    "assessments_signoff": SignOff,
    "assessments_amendment": Amendment,
    "assessments_moderationreview": ModerationReview,
    "assessments_moderatedcriterion": ModeratedCriterion,
    "assessments_assessorresponse": AssessorResponse,
}


def jacks_first_attempt():
    """Jack's BSBCUS301B attempt 1: signed off not yet competent in the demo data."""
    return Assessment.objects.get(
        enrolment__candidate__username="candidate3", enrolment__unit__code="BSBCUS301B", attempt=1
    )


def build_history():
    """The demo data, plus a moderation review, a response and an amendment: every table used."""
    call_command("seed_demo", stdout=io.StringIO())
    users = {u.username: u for u in get_user_model().objects.all()}
    sample = ModerationSample.objects.select_related("assessment").first()
    review = moderation.submit_review(
        sample=sample,
        by=sample.moderator,
        criteria={
            j.pk: (j.criterion.number != "2.1", "Too thin.")
            for j in sample.assessment.judgements.select_related("criterion")
        },
        agrees_with_result=True,
        recommendation="",
    )
    moderation.respond(review=review, by=sample.assessor, text="Noted, thanks.")
    jack = jacks_first_attempt()
    services.amend_result(
        assessment=jack, by=users["admin"], new_result="achieved", reason="2.3 was re-marked."
    )
    return users


@pytest.fixture
def history(db, settings):
    settings.DEBUG = True  # seed_demo refuses to run otherwise
    return build_history()


def _check_deferred_constraints_now():
    # PostgreSQL refuses TRUNCATE while this test's transaction has foreign-key
    # checks pending; outside a test nothing would be pending.
    _raw("SET CONSTRAINTS ALL IMMEDIATE")


def _raw(sql, params=()):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.parametrize("table", PROTECTED)
def test_raw_sql_update_and_delete_are_refused_by_the_database(history, table):
    before = PROTECTED[table].objects.count()
    assert before > 0
    with pytest.raises(IntegrityError, match="append-only"):
        _raw(f"UPDATE {table} SET id = id")  # noqa: S608 - constant table names
    with pytest.raises(IntegrityError, match="append-only"):
        _raw(f"DELETE FROM {table}")  # noqa: S608
    assert PROTECTED[table].objects.count() == before


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE is PostgreSQL's")
def test_truncate_is_refused_on_postgresql(history):
    _check_deferred_constraints_now()
    with pytest.raises(IntegrityError, match="append-only"):
        _raw("TRUNCATE assessments_auditentry CASCADE")
    assert AuditEntry.objects.exists()


@pytest.mark.parametrize("model", PROTECTED.values())
def test_the_orm_refuses_before_the_database(history, model):
    row = model.objects.first()
    with pytest.raises(ValueError, match="append-only"):
        row.save()
    with pytest.raises(ValueError, match="append-only"):
        row.delete()
    with pytest.raises(ValueError, match="append-only"):
        model.objects.filter(pk=row.pk).update(pk=row.pk)
    with pytest.raises(ValueError, match="append-only"):
        model.objects.filter(pk=row.pk).delete()


def test_every_entry_is_a_link_in_its_attempts_chain(history):
    jack = jacks_first_attempt()
    entries = list(jack.audit.all())
    assert [e.sequence for e in entries] == list(range(1, len(entries) + 1))
    previous = audit.GENESIS
    for entry in entries:
        assert entry.hash == audit.entry_hash(entry, previous)
        previous = entry.hash
    # Sign-off, amendment and moderation are in the same chain, with their content.
    actions = [e.action for e in entries]
    assert actions[-1] == "result amended"
    assert "signed off" in actions
    signed = next(e for e in entries if e.action == "signed off")
    assert signed.after["declaration"] == services.ASSESSOR_DECLARATION


def verify(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("verify_audit", *args, stdout=out, stderr=err)
    return out.getvalue()


def test_verify_audit_passes_on_the_demo_data(history):
    output = verify()
    chains = Assessment.objects.filter(audit__isnull=False).distinct().count()
    assert f"Checked {chains} chain(s), {AuditEntry.objects.count()} entries" in output
    assert "every chain verifies" in output


def _drop_triggers():
    """What someone with the database's password could do; rolled back with the test."""
    for sql in append_only.uninstall_statements(connection.vendor)[:-1]:
        _raw(sql)


def test_verify_audit_names_the_entry_whose_content_was_changed(history):
    jack = jacks_first_attempt()
    target = jack.audit.get(action="signed off")
    _drop_triggers()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE assessments_auditentry SET action = %s WHERE id = %s",
            ["signed off (edited)", target.pk],
        )
    with pytest.raises(CommandError) as failure:
        verify()
    message = str(failure.value)
    assert f"assessment {jack.pk}: entry {target.pk} (#{target.sequence})" in message
    assert f"stored {target.hash}" in message


def test_verify_audit_names_the_link_after_a_removed_entry(history):
    jack = jacks_first_attempt()
    removed, following = list(jack.audit.all())[1:3]
    _drop_triggers()
    _raw("DELETE FROM assessments_auditentry WHERE id = %s", [removed.pk])
    with pytest.raises(CommandError, match=rf"entry {following.pk} \(#{following.sequence}\)"):
        verify()


def test_verify_audit_notices_a_signed_record_changed_behind_its_entry(history):
    signed = SignOff.objects.select_related("assessment").first()
    _drop_triggers()
    _raw("UPDATE assessments_signoff SET feedback = %s WHERE id = %s", ["Rewritten.", signed.pk])
    with pytest.raises(CommandError, match=rf"sign-off {signed.pk} differs from entry .* feedback"):
        verify()


def test_record_pdf_prints_the_head_hash_verify_audit_prints(client, history):
    jack = jacks_first_attempt()
    client.force_login(history["admin"])
    response = client.get(reverse("reports:assessment_record", args=[jack.pk]))
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    head = jack.audit.last()
    assert head.hash in text.replace("\n", "")
    assert f"chain of {head.sequence} entries" in text
    assert f"verify_audit --assessment {jack.pk}" in text
    output = verify("--assessment", str(jack.pk))
    assert f"Assessment {jack.pk}: {head.sequence} entries, head hash {head.hash}" in output
    # The page shows the same head under its history.
    page = client.get(jack.get_absolute_url()).content.decode()
    assert head.hash in page


def test_verify_audit_refuses_an_unknown_assessment(history):
    with pytest.raises(CommandError, match="No assessment with id 999999"):
        verify("--assessment", "999999")


def test_flush_still_empties_the_database_and_closes_the_gate_after(history):
    """manage.py flush (also the test runner's, after browser tests) may empty history.

    Run inside this test's transaction, so the rollback brings everything back."""
    if connection.vendor == "postgresql":
        _check_deferred_constraints_now()
    call_command("flush", interactive=False, verbosity=0)
    assert not AuditEntry.objects.exists() and not SignOff.objects.exists()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {append_only.MAINTENANCE_TABLE}")  # noqa: S608
        assert cursor.fetchone()[0] == 0
    # The gate closed again: the triggers refuse as before.
    for path in UNIT_FILES:
        import_unit_file(path)
    build_history()
    with pytest.raises(IntegrityError, match="append-only"):
        _raw("DELETE FROM assessments_auditentry")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite lets one writer in at a time")
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_queue_up_instead_of_forking_the_chain(settings):
    settings.DEBUG = True
    for path in UNIT_FILES:  # an earlier transactional test's flush may have removed them
        import_unit_file(path)
    build_history()
    attempt = Assessment.objects.get(enrolment__candidate__username="candidate2")
    actor = attempt.enrolment.assessor
    start = threading.Barrier(2)
    errors = []

    def append_many(label):
        try:
            start.wait()
            for number in range(15):
                audit.append(attempt, action="note", actor=actor, after={label: number})
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=append_many, args=(x,)) for x in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    entries = list(attempt.audit.all())
    assert [e.sequence for e in entries] == list(range(1, len(entries) + 1))
    assert sum(e.action == "note" for e in entries) == 30
    assert "every chain verifies" in verify()


def test_every_attempt_names_its_enrolments_unit(history):
    # The demo made attempts through every path: enrolment, resubmission, amendment.
    attempts = Assessment.objects.values_list("unit", "enrolment__unit")
    assert len({unit for unit, _ in attempts}) == 3
    assert all(unit == enrolled for unit, enrolled in attempts)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the key is PostgreSQL's")
@pytest.mark.parametrize("table", ["assessments_assessment", "assessments_enrolment"])
def test_the_database_keeps_an_attempts_unit_its_enrolments(history, table):
    jack = jacks_first_attempt()
    other = Unit.objects.create(framework="au", code="TEST001", version="1", title="Other")
    pk = jack.pk if table == "assessments_assessment" else jack.enrolment_id
    sql = f"UPDATE {table} SET unit_id = %s WHERE id = %s"  # noqa: S608 - constant names
    with (
        pytest.raises(IntegrityError, match="attempt_unit_is_enrolments"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [other.pk, pk])
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    jack.refresh_from_db()
    assert jack.unit_id == jack.enrolment.unit_id != other.pk


@pytest.mark.django_db(transaction=True)
def test_attempts_made_before_they_named_their_unit_get_it(settings):
    for path in UNIT_FILES:  # an earlier transactional test's flush may have removed them
        import_unit_file(path)
    settings.DEBUG = True
    call_command("seed_demo", stdout=io.StringIO())
    expected = dict(Assessment.objects.values_list("pk", "enrolment__unit"))
    executor = MigrationExecutor(connection)
    executor.migrate([("assessments", "0013_catalogue_corrections_append_only")])
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert dict(Assessment.objects.values_list("pk", "unit")) == expected
    assert len(set(expected.values())) == 3
