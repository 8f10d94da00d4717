"""The round summary's figures are kept as reviews are recorded (issue 13): here they
are counted once from the reviews already recorded."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import Count, Q


def count_recorded_reviews(apps, schema_editor):
    ModeratedCriterion = apps.get_model("assessments", "ModeratedCriterion")
    ModerationTally = apps.get_model("assessments", "ModerationTally")
    cells = (
        ModeratedCriterion.objects.values(
            "review__sample__round", "review__sample__assessor", "judgement__criterion"
        )
        .annotate(verified=Count("pk", filter=Q(agrees=True)), total=Count("pk"))
        .order_by()
    )
    ModerationTally.objects.bulk_create(
        ModerationTally(
            round_id=cell["review__sample__round"],
            assessor_id=cell["review__sample__assessor"],
            criterion_id=cell["judgement__criterion"],
            verified=cell["verified"],
            total=cell["total"],
        )
        for cell in cells.iterator()
    )


class Migration(migrations.Migration):
    dependencies = [
        ("assessments", "0014_attempt_unit"),
        ("standards", "0002_unit_releases_and_catalogue_corrections"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ModerationTally",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("verified", models.PositiveIntegerField(default=0)),
                ("total", models.PositiveIntegerField(default=0)),
                (
                    "assessor",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "criterion",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="standards.performancecriterion",
                    ),
                ),
                (
                    "round",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="tallies",
                        to="assessments.moderationround",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("round", "assessor", "criterion"), name="tally_each_criterion_once"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("verified__lte", models.F("total"))),
                        name="tally_verified_at_most_total",
                    ),
                ],
            },
        ),
        migrations.RunPython(count_recorded_reviews, migrations.RunPython.noop),
    ]
