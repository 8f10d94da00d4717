"""Jobs recover (issue 11, finding 6): a report export whose worker died is detected,
marked failed with the reason, retryable from the page, and its status stops polling."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from assessments import moderation
from assessments.models import ModerationExport
from tests import test_moderation
from tests.tasks_support import IMMEDIATE, use_task_backend
from tests.test_moderation import new_round, quick_attempt

pytestmark = pytest.mark.django_db

people = test_moderation.people


@pytest.fixture
def round_(people, make_user):
    quick_attempt(make_user("c1", "candidate"), people["a1"])
    return new_round(people)


def stuck(round_, admin, *, heartbeat_ago, started_ago=None, status="running"):
    """An export row as a worker killed mid-build leaves it."""
    now = timezone.now()
    export = ModerationExport.objects.create(round=round_, format="pdf", created_by=admin)
    ModerationExport.objects.filter(pk=export.pk).update(
        status=status,
        started_at=now - (started_ago or heartbeat_ago),
        heartbeat_at=now - heartbeat_ago,
    )
    return export


def test_an_export_whose_worker_died_is_failed_and_stops_polling(client, people, round_):
    export = stuck(round_, people["admin"], heartbeat_ago=timedelta(minutes=10))
    client.force_login(people["admin"])
    fragment = client.get(reverse("moderation:export_status", args=[export.pk])).content.decode()
    export.refresh_from_db()
    assert export.status == ModerationExport.Status.FAILED
    assert "stopped without finishing" in export.error
    assert export.finished_at is not None
    assert "hx-trigger" not in fragment and "hx-get" not in fragment
    assert "Failed: The background worker building this report stopped" in fragment
    assert reverse("moderation:export_retry", args=[export.pk]) in fragment


def test_a_live_export_keeps_polling(client, people, round_):
    export = stuck(round_, people["admin"], heartbeat_ago=timedelta(seconds=5))
    client.force_login(people["admin"])
    fragment = client.get(reverse("moderation:export_status", args=[export.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in fragment
    export.refresh_from_db()
    assert export.status == ModerationExport.Status.RUNNING


def test_a_hung_export_and_one_never_picked_up_are_failed_too(people, round_):
    hung = stuck(
        round_,
        people["admin"],
        heartbeat_ago=timedelta(seconds=5),
        started_ago=timedelta(hours=1),
    )
    queued = ModerationExport.objects.create(round=round_, format="csv", created_by=people["admin"])
    ModerationExport.objects.filter(pk=queued.pk).update(
        created_at=timezone.now() - timedelta(hours=2)
    )
    fresh = ModerationExport.objects.create(round=round_, format="csv", created_by=people["admin"])
    assert moderation.fail_stale_exports(ModerationExport.objects.all()) == 2
    hung.refresh_from_db(), queued.refresh_from_db(), fresh.refresh_from_db()
    assert "took more than 30 minutes" in hung.error
    assert "No background worker picked this report up" in queued.error
    assert fresh.status == ModerationExport.Status.QUEUED


def test_the_export_page_shows_the_failure_and_retries_it(client, people, round_, settings):
    use_task_backend(settings, IMMEDIATE)
    export = stuck(round_, people["admin"], heartbeat_ago=timedelta(minutes=10))
    client.force_login(people["admin"])
    page = client.get(reverse("moderation:round_export", args=[round_.pk])).content.decode()
    assert "stopped without finishing" in page
    assert 'hx-trigger="every 2s"' not in page

    response = client.post(reverse("moderation:export_retry", args=[export.pk]), follow=True)
    assert "being built again" in response.content.decode()
    retried = ModerationExport.objects.exclude(pk=export.pk).get()
    assert (retried.format, retried.status) == ("pdf", ModerationExport.Status.DONE)
    export.refresh_from_db()
    assert export.status == ModerationExport.Status.FAILED  # kept, with its reason


def test_only_failed_exports_are_retried_and_only_by_administrators(client, people, round_):
    export = stuck(round_, people["admin"], heartbeat_ago=timedelta(seconds=1))
    url = reverse("moderation:export_retry", args=[export.pk])
    client.force_login(people["m1"])
    assert client.post(url).status_code == 404
    client.force_login(people["admin"])
    response = client.post(url, follow=True)
    assert "Only a failed report can be retried." in response.content.decode()
    assert ModerationExport.objects.count() == 1
    assert client.get(url).status_code == 405


def test_a_worker_finishing_after_it_was_given_up_keeps_no_file(people, round_, media_root):
    """The row was failed as stale while the worker was merely slow: its late file goes."""
    export = ModerationExport.objects.create(round=round_, format="csv", created_by=people["admin"])
    real_build = moderation.BUILDERS["csv"]

    def slow_build(r):
        content = real_build(r)
        ModerationExport.objects.filter(pk=export.pk).update(
            heartbeat_at=timezone.now() - timedelta(minutes=10)
        )
        moderation.fail_stale_exports(ModerationExport.objects.all())
        return content

    moderation.BUILDERS["csv"] = slow_build
    try:
        assert moderation.run_export(export.pk) is None
    finally:
        moderation.BUILDERS["csv"] = real_build
    export.refresh_from_db()
    assert export.status == ModerationExport.Status.FAILED
    assert not [p for p in media_root.rglob("*") if p.is_file()]
