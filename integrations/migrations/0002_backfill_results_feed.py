"""Put the decisions made before the feed existed into it, in the order they were made."""

from django.db import migrations


def backfill(apps, schema_editor):
    ResultChange = apps.get_model("integrations", "ResultChange")
    SignOff = apps.get_model("assessments", "SignOff")
    Amendment = apps.get_model("assessments", "Amendment")
    EnrolmentStatusChange = apps.get_model("assessments", "EnrolmentStatusChange")
    changes = [
        ResultChange(
            enrolment_id=row.assessment.enrolment_id,
            assessment_id=row.assessment_id,
            event="result.signed_off",
            changed_at=row.signed_at,
        )
        for row in SignOff.objects.select_related("assessment")
    ]
    changes += [
        ResultChange(
            enrolment_id=row.assessment.enrolment_id,
            assessment_id=row.assessment_id,
            event="result.amended",
            changed_at=row.amended_at,
        )
        for row in Amendment.objects.select_related("assessment")
    ]
    changes += [
        ResultChange(
            enrolment_id=row.enrolment_id, event="enrolment.status_changed", changed_at=row.changed_at
        )
        for row in EnrolmentStatusChange.objects.all()
    ]
    ResultChange.objects.bulk_create(sorted(changes, key=lambda change: change.changed_at))


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0001_api_tokens_webhooks_results_feed"),
        ("assessments", "0007_enrolment_status_decisions"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
