"""Production mode: /healthz, security headers and HTTPS settings, login throttling
per address, `check --deploy` under the README's production environment, and
templates free of inline script and style (the Content-Security-Policy forbids them)."""

import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from assessment_portal.models import WorkerHeartbeat
from tests.tasks_support import DATABASE, use_task_backend

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"
User = get_user_model()


def production_env(**changes):
    """The README's production example (section "Deploying"), with a throwaway key."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n# production environment\n(.*?)```", readme, re.S).group(1)
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DATABASE_URL"}}
    for line in block.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = value.strip("'\"")
    env["SECRET_KEY"] = "k" * 60 + "-a-long-random-test-key-that-is-not-secret"
    env.update(changes)
    return env


def run_python(code, env):
    return subprocess.run(  # noqa: S603 - our own code and interpreter
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


# Database ------------------------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's statements")
def test_a_query_run_often_on_a_connection_keeps_its_plan_on_postgresql(make_user):
    user = make_user("candidate")
    assert connection.connection.prepare_threshold == 5
    for _ in range(6):
        User.objects.get(pk=user.pk)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ['SELECT %assessment_portal_user"."id" = $1%'],
        )
        assert cursor.fetchone()[0] == 1


def test_prepared_statements_can_be_turned_off_for_a_pooler():
    code = "from assessment_portal import settings; print(settings.DATABASES['default']['OPTIONS'])"
    url = "postgres://portal@db.internal:5432/portal"
    default = run_python(code, {**os.environ, "DATABASE_URL": url})
    off = run_python(code, {**os.environ, "DATABASE_URL": url, "DATABASE_PREPARE_THRESHOLD": "off"})
    assert "'server_side_binding': True, 'prepare_threshold': 5" in default.stdout
    assert "'server_side_binding': False, 'prepare_threshold': None" in off.stdout


# Health --------------------------------------------------------------------------------


@pytest.fixture
def database_queue(settings):
    use_task_backend(settings, DATABASE)


def run_worker_batch(monkeypatch):
    # Between tasks the worker closes stale connections, which on PostgreSQL would
    # close this test's connection and its open transaction with it.
    monkeypatch.setattr(
        "django_tasks_db.management.commands.db_worker.close_old_connections", lambda: None
    )
    call_command("run_worker", "--batch", "--no-startup-delay", "--no-reload", "--interval", "0")


def test_healthz_is_ok_without_login_when_all_parts_work(client, database_queue, monkeypatch):
    run_worker_batch(monkeypatch)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "failing": [],
        "checks": {"database": "ok", "storage": "ok", "worker": "ok"},
    }
    assert "no-store" in response["Cache-Control"]


def test_healthz_leaves_no_probe_file_behind(client, database_queue, media_root, monkeypatch):
    run_worker_batch(monkeypatch)
    client.get("/healthz")
    assert [p for p in media_root.rglob("*") if p.is_file()] == []


def test_healthz_names_a_worker_that_never_started(client, database_queue):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["worker"]
    assert response.json()["checks"]["database"] == "ok"


def test_healthz_names_a_worker_whose_heartbeat_stopped(client, database_queue, settings):
    settings.WORKER_HEARTBEAT_MAX_AGE = 60
    now = timezone.now()
    beat = WorkerHeartbeat.objects.create(
        worker_id="w1",
        hostname="h",
        pid=1,
        started_at=now,
        last_seen=now - timedelta(seconds=61),
        queues=["default", "exports"],
    )
    assert client.get("/healthz").json()["failing"] == ["worker"]
    beat.last_seen = now - timedelta(seconds=30)
    beat.save()
    assert client.get("/healthz").status_code == 200


def test_healthz_names_a_queue_no_live_worker_takes(client, database_queue, monkeypatch, caplog):
    """`make serve` runs one worker for moderation reports and one for the rest."""
    monkeypatch.setattr(
        "django_tasks_db.management.commands.db_worker.close_old_connections", lambda: None
    )
    worker = ["run_worker", "--batch", "--no-startup-delay", "--no-reload", "--interval", "0"]
    call_command(*worker, "--exclude-queues", "exports")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["worker"]
    assert "for the exports queue(s)" in caplog.text
    call_command(*worker, "--queue-name", "exports")
    assert client.get("/healthz").status_code == 200
    assert sorted(WorkerHeartbeat.objects.values_list("queues", flat=True)) == [
        ["default"],
        ["exports"],
    ]


def test_worker_heartbeat_records_each_worker(database_queue, monkeypatch):
    run_worker_batch(monkeypatch)
    run_worker_batch(monkeypatch)
    beats = WorkerHeartbeat.objects.all()
    assert beats.count() == 2  # each run is a worker with its own id
    assert all(timezone.now() - beat.last_seen < timedelta(seconds=30) for beat in beats)


def test_healthz_names_storage_that_cannot_be_written(client, settings, tmp_path, monkeypatch):
    use_task_backend(settings, DATABASE)
    run_worker_batch(monkeypatch)
    not_a_folder = tmp_path / "media-is-a-file"
    not_a_folder.write_text("")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": not_a_folder, "base_url": None},
        },
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["storage"]
    assert "media-is-a-file" not in response.content.decode()  # reasons go to the log only


def test_healthz_names_an_unreachable_database():
    # A real outage: nothing listens on port 1. Run in a fresh process so this
    # test's own database connection is untouched.
    code = (
        "import django; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/healthz');"
        "print(r.status_code, r.content.decode())"
    )
    env = production_env(
        DATABASE_URL="postgres://postgres@127.0.0.1:1/nothing",
        ALLOWED_HOSTS="testserver",
        DJANGO_SETTINGS_MODULE="assessment_portal.settings",
    )
    result = run_python(code, env)
    assert result.returncode == 0, result.stderr
    status, body = result.stdout.strip().split(" ", 1)
    assert status == "503"
    failing = json.loads(body)["failing"]
    assert "database" in failing
    assert "127.0.0.1" not in body and "postgres" not in body


def test_healthz_only_answers_reads(client):
    assert client.post("/healthz").status_code == 405


# Headers and HTTPS ---------------------------------------------------------------------------


def test_pages_send_a_strict_content_security_policy_and_security_headers(client, make_user):
    client.force_login(make_user("tama"))
    response = client.get(reverse("home"))
    policy = response["Content-Security-Policy"]
    csp = dict(directive.strip().split(" ", 1) for directive in policy.split(";"))
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self'"
    assert csp["style-src"] == "'self'"
    assert csp["object-src"] == "'none'"
    assert "unsafe" not in policy
    assert "camera=()" in response["Permissions-Policy"]
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_https_redirect_and_hsts(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    response = client.get("/accounts/login/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/accounts/login/"
    secure = client.get("/accounts/login/", secure=True)
    assert secure["Strict-Transport-Security"] == "max-age=31536000"
    # Load balancers probe health over plain HTTP.
    assert client.get("/healthz").status_code in {200, 503}


def test_https_behind_a_proxy_is_recognised_from_x_forwarded_proto(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    response = client.get("/accounts/login/", headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 200


def test_idle_session_expiry_moves_on_with_activity_at_most_once_a_minute(
    client, make_user, settings, monkeypatch
):
    from django.contrib.sessions.models import Session

    import assessment_portal.session_idle as session_idle

    settings.SESSION_COOKIE_AGE = 600
    client.force_login(make_user("tama"))

    def stored_expiry():
        return Session.objects.get(pk=client.session.session_key).expire_date

    first_expiry = stored_expiry()
    # Within the minute, a request does not rewrite the session.
    client.get(reverse("home"))
    assert stored_expiry() == first_expiry

    later = session_idle.time.time() + 120
    monkeypatch.setattr(session_idle.time, "time", lambda: later)
    client.get(reverse("home"))
    assert stored_expiry() > first_expiry
    assert client.session[session_idle.KEY] == int(later)


def test_idle_session_ends_after_the_timeout(client, make_user, settings):
    from django.contrib.sessions.models import Session

    client.force_login(make_user("tama"))
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    "name",
    ["SECRET_KEY", "ALLOWED_HOSTS"],
)
def test_make_serve_refuses_to_start_without_production_settings(name):
    env = production_env()
    env.pop(name)
    result = subprocess.run(  # noqa: S603
        ["make", "--no-print-directory", "serve"],  # noqa: S607 - make from PATH, as a user runs it
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "needs SECRET_KEY and ALLOWED_HOSTS" in result.stderr


def test_check_deploy_is_clean_under_the_readme_production_example():
    env = production_env(DJANGO_SETTINGS_MODULE="assessment_portal.settings")
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


# Login throttling per address ---------------------------------------------------------------


def login(client, username, password, address="203.0.113.7", **headers):
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=address,
        headers=headers,
    )


def test_password_spraying_from_one_address_locks_that_address(client, make_user, settings):
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_IP_FAILURE_LIMIT = 8
    make_user("victim")
    for n in range(8):  # one or two guesses per username: below the per-username limit
        response = login(client, f"user{n // 2}", "Winter2026!")
        assert response.status_code == (429 if n == 7 else 200)
    # Now the address is locked for every username, even with the right password.
    assert login(client, "victim", PASSWORD).status_code == 429
    # Another address is not affected.
    assert login(client, "victim", PASSWORD, address="198.51.100.4").status_code == 302


def test_own_successful_login_does_not_clear_the_address_count(client, make_user, settings):
    settings.AXES_IP_FAILURE_LIMIT = 4
    make_user("sprayer")
    for n in range(3):
        login(client, f"someone{n}", "guess")
    assert login(client, "sprayer", PASSWORD).status_code == 302
    client.post(reverse("logout"))
    assert login(client, "someone9", "guess").status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_client_address_is_throttled(
    client, make_user, settings
):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.AXES_FAILURE_LIMIT = 3
    make_user("tama")
    proxy = "10.0.0.2"
    for _ in range(3):
        response = login(
            client, "tama", "wrong", address=proxy, x_forwarded_for="1.2.3.4, 203.0.113.7"
        )
    assert response.status_code == 429
    # The same proxy forwarding another client: not locked. The forged left-most
    # entry is ignored; the proxy's own entry (right-most) is the client.
    other = login(client, "tama", PASSWORD, address=proxy, x_forwarded_for="203.0.113.99")
    assert other.status_code == 302


def test_without_trusted_proxies_x_forwarded_for_is_ignored(client, make_user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    make_user("tama")
    for n in range(3):
        response = login(client, "tama", "wrong", x_forwarded_for=f"192.0.2.{n}")
    assert response.status_code == 429


# Templates under the Content-Security-Policy --------------------------------------------------

INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=", re.I)


def test_no_template_has_inline_script_or_style():
    offenders = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        name = path.relative_to(ROOT / "templates").as_posix()
        offenders += [f"{name}: {m.group(0)}" for m in INLINE.finditer(path.read_text())]
    assert offenders == []
