"""Two app servers and a task worker sharing one PostgreSQL database, one S3 bucket
(SeaweedFS) and one Redis, driven over HTTP as a load balancer would spread a user's
requests. Needs PostgreSQL: CI runs it in the suite's PostgreSQL pass."""

import io
import os
import re
import time

import pytest
import redis
from django.core.cache.backends.redis import RedisCache
from pypdf import PdfReader

from tests.portal_cluster import Browser, PortalCluster
from tests.test_evidence import pdf_bytes

REDIS_URL = "redis://127.0.0.1:6379/5"
EXPORT_TIMEOUT_SECONDS = 60


@pytest.fixture(scope="module")
def cluster(request, tmp_path_factory):
    postgres_url = os.environ.get("DATABASE_URL", "")
    if not postgres_url.startswith(("postgres://", "postgresql://")):
        pytest.skip("several app servers share a PostgreSQL database: set DATABASE_URL")
    seaweedfs = request.getfixturevalue("seaweedfs")
    redis.Redis.from_url(REDIS_URL).flushdb()
    bucket = seaweedfs.create_bucket()
    cluster = PortalCluster.start(
        tmp_path_factory.mktemp("cluster"),
        postgres_url=postgres_url,
        seaweedfs=seaweedfs,
        bucket=bucket,
        redis_url=REDIS_URL,
    )
    cluster.bucket = bucket
    yield cluster
    cluster.stop()
    seaweedfs.delete_bucket(bucket)
    redis.Redis.from_url(REDIS_URL).flushdb()


def test_a_session_made_on_one_server_works_on_the_other(cluster):
    a, b = cluster.urls
    browser = Browser()
    assert browser.get(f"{b}/").status_code == 302  # not signed in yet
    assert browser.log_in(a, "tama").status_code == 302
    page = browser.get(f"{b}/")
    assert page.status_code == 200
    assert "My evidence" in page.text

    browser.post(f"{b}/accounts/logout/", {})
    assert browser.get(f"{a}/").headers["Location"].startswith("/accounts/login/")


def test_a_file_uploaded_through_one_server_downloads_through_the_other(cluster, seaweedfs):
    a, b = cluster.urls
    browser = Browser()
    browser.log_in(a, "tama")
    browser.get(f"{a}/evidence/new/file/")
    created = browser.post(
        f"{a}/evidence/new/file/",
        {"title": "Customer service log", "description": "Week 3."},
        files={"files": ("week 3 log.pdf", pdf_bytes(), "application/pdf")},
    )
    assert created.status_code == 302, created.text
    # The next step is mapping the new item; its page on the other server lists the file.
    item = re.match(r"/evidence/(\d+)/map/", created.headers["Location"]).group(1)
    detail = browser.get(f"{b}/evidence/{item}/")
    download = re.search(r'href="(/evidence/files/\d+/download/)"', detail.text).group(1)

    response = browser.get(f"{b}{download}")
    assert response.status_code == 200
    assert response.content == pdf_bytes()
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="week 3 log.pdf"'
    assert response.headers["Cache-Control"] == "private, no-store"
    assert [key.startswith("evidence/") for key in seaweedfs.keys(cluster.bucket)] == [True]
    # Somebody else gets nothing, through either server.
    stranger = Browser()
    stranger.log_in(b, "lucy")
    assert stranger.get(f"{a}{download}").status_code == 404


def test_an_export_queued_on_one_server_is_built_by_the_worker_and_downloads_from_the_other(
    cluster, seaweedfs
):
    a, b = cluster.urls
    browser = Browser()
    browser.log_in(a, "admin")
    page = f"/moderation/rounds/{cluster.ids['round']}/export/"
    assert browser.post(f"{a}{page}", {"format": "pdf"}).status_code == 302
    listed = browser.get(f"{b}{page}").text
    status = re.search(r'hx-get="(/moderation/exports/\d+/status/)"', listed)
    deadline = time.monotonic() + EXPORT_TIMEOUT_SECONDS
    while (fragment := browser.get(f"{b}{status.group(1)}").text) and "Download" not in fragment:
        assert "Failed" not in fragment, fragment
        assert time.monotonic() < deadline, f"not built:\n{cluster.log('worker')}"
        time.sleep(0.3)
    download = re.search(r'href="(/moderation/exports/\d+/download/)"', fragment).group(1)

    response = browser.get(f"{b}{download}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "Cluster round" in text
    assert any(key.startswith("moderation-exports/") for key in seaweedfs.keys(cluster.bucket))


def test_a_stale_judgement_save_on_the_other_server_is_refused(cluster):
    a, b = cluster.urls
    ids = cluster.ids
    url = f"/assessments/{ids['assessment']}/criteria/{ids['judgement']}/"
    prefix = f"j{ids['judgement']}"

    def save(browser, base, comment):
        return browser.post(
            f"{base}{url}",
            {
                f"{prefix}-verdict": "not_yet",
                f"{prefix}-comment": comment,
                # Both pages were opened before either save.
                f"{prefix}-version": ids["version"],
            },
        )

    first, second = Browser(), Browser()
    first.log_in(a, "assessor")
    second.log_in(b, "assessor")
    assert save(first, a, "Greet the customer by name.").status_code == 302
    stale = save(second, b, "Overwriting with an old page.")
    assert stale.status_code == 200
    assert "1.1 was changed by" in stale.text
    assert "Your changes were not saved" in stale.text
    # The other server shows the criterion as the first save left it.
    criterion = first.get(f"{b}{url}").text
    assert "Greet the customer by name." in criterion
    assert "Overwriting with an old page." not in criterion


def test_the_cache_is_shared_through_redis(cluster):
    """What one process caches, every other process (any server, the worker) reads."""
    cluster.manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.core.cache import caches; assert type(caches['default']).__name__ == "
        "'RedisCache'; caches['default'].set('shared', 'from one process', 60)",
    )
    assert RedisCache(REDIS_URL, {}).get("shared") == "from one process"


def test_a_login_lockout_earned_on_one_server_holds_on_the_other(cluster):
    """Last in the module: a lockout policy that also counts failures per address
    would pause every later sign-in from this machine."""
    a, b = cluster.urls
    browser = Browser()
    for _ in range(3):  # AXES_FAILURE_LIMIT=3 in the cluster's environment
        refused = browser.log_in(a, "lockme", password="wrong password")
    assert refused.status_code == 429
    locked = Browser().log_in(b, "lockme")
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.text
