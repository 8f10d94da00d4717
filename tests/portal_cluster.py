"""The portal as it runs in production with several app servers, for tests/test_several_servers.py.

`PortalCluster.start` takes a fresh PostgreSQL database, an S3 bucket and a Redis
database, migrates, loads the units and the people of `prepare()`, then starts two
gunicorn instances on free ports and one task worker (`manage.py run_worker`), all
with the same production environment (DEBUG=0). `Browser` is a small HTTP client
that keeps cookies and sends Django's CSRF token, as a browser does.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import requests
from django.core.management import call_command
from django.utils import timezone

from assessment_portal.models import User
from assessments import moderation
from standards.models import Unit
from standards.services import import_unit_file
from tests.seaweedfs import free_port
from tests.test_assessment import submitted
from tests.test_moderation import quick_attempt

PROJECT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PASSWORD = "a long test password 2026"  # noqa: S105
START_TIMEOUT_SECONDS = 60


def prepare():
    """Set up the new database as a deployment does, then add people and work for the test.

    Run by `manage.py shell` with the cluster's environment (one interpreter for all
    steps, as each start costs seconds on a busy machine); prints the ids the test needs
    as JSON on its last line.
    """
    call_command("migrate", "--no-input", verbosity=0)
    call_command("collectstatic", "--no-input", verbosity=0)
    for path in sorted(PROJECT.glob("fixtures/units/*.json")):
        import_unit_file(path)
    people = {
        "admin": User.objects.create_user(
            "admin", password=PASSWORD, role="administrator", is_moderator=True
        ),
        "assessor": User.objects.create_user("assessor", password=PASSWORD, role="assessor"),
        "candidate": User.objects.create_user(
            "tama", password=PASSWORD, role="candidate", first_name="Tama"
        ),
        "locked": User.objects.create_user("lockme", password=PASSWORD, role="candidate"),
    }
    assessment = submitted(people)
    lucy = User.objects.create_user("lucy", password=PASSWORD, role="candidate")
    quick_attempt(lucy, people["assessor"], unit_code="BSBCUS301B")
    round_ = moderation.create_round(
        unit=Unit.objects.get(code="BSBCUS301B"),
        name="Cluster round",
        period_start=timezone.localdate().replace(day=1),
        period_end=timezone.localdate(),
        by=people["admin"],
    )
    judgement = assessment.judgements.get(criterion__number="1.1")
    print(
        json.dumps(
            {
                "assessment": assessment.pk,
                "judgement": judgement.pk,
                "version": judgement.version,
                "round": round_.pk,
            }
        )
    )


class Browser:
    """A browser's cookie jar and CSRF handling, pointed at any of the instances.

    Cookies are kept per host, not per port, as browsers do, so the same session
    cookie reaches both instances: exactly what a load balancer in front of them does.
    """

    def __init__(self):
        self.session = requests.Session()

    def get(self, url, **kwargs):
        return self.session.get(url, allow_redirects=False, timeout=30, **kwargs)

    def post(self, url, data, files=None):
        token = self.session.cookies.get("csrftoken")
        if token is None:
            self.get(url)
            token = self.session.cookies["csrftoken"]
        return self.session.post(
            url,
            data={**data, "csrfmiddlewaretoken": token},
            files=files,
            allow_redirects=False,
            timeout=60,
        )

    def log_in(self, base, username, password=PASSWORD):
        self.get(f"{base}/accounts/login/")
        return self.post(f"{base}/accounts/login/", {"username": username, "password": password})


class PortalCluster:
    def __init__(self, folder, environment):
        self.folder = Path(folder)
        self.environment = environment
        self.processes = []
        self.urls = []

    @classmethod
    def start(cls, folder, *, postgres_url, seaweedfs, bucket, redis_url):
        database = f"portal_cluster_{uuid.uuid4().hex[:10]}"
        admin_url = re.sub(r"/[^/]*$", "/postgres", postgres_url)
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{database}"')
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO"))},
            **seaweedfs.environment(bucket),
            "DEBUG": "0",
            "SECRET_KEY": uuid.uuid4().hex * 2,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": re.sub(r"/[^/]*$", f"/{database}", postgres_url),
            "REDIS_URL": redis_url,
            # Plain HTTP on localhost: no secure-only cookies, no redirect to HTTPS.
            "HTTPS": "0",
            "SECURE_COOKIES": "0",
            "SECURE_SSL_REDIRECT": "0",
            "SECURE_HSTS_SECONDS": "0",
            "STATIC_ROOT": str(Path(folder) / "static"),
            "AXES_FAILURE_LIMIT": "3",
            "PYTHONUNBUFFERED": "1",
        }
        cluster = cls(folder, environment)
        cluster.database, cluster.admin_url = database, admin_url
        try:
            prepared = cluster.manage(
                "shell", "--no-imports", "-c", "from tests.portal_cluster import prepare; prepare()"
            )
            cluster.ids = json.loads(prepared.splitlines()[-1])
            for name in ("a", "b"):
                port = free_port()
                cluster.spawn(
                    f"gunicorn-{name}",
                    str(VENV_BIN / "gunicorn"),
                    "assessment_portal.wsgi",
                    f"--bind=127.0.0.1:{port}",
                    "--workers=1",
                    "--threads=4",
                    "--graceful-timeout=5",
                )
                cluster.urls.append(f"http://127.0.0.1:{port}")
            cluster.spawn(
                "worker",
                sys.executable,
                "manage.py",
                "run_worker",
                "--no-reload",
                "--no-startup-delay",
                "--interval=0.2",
            )
            for url in cluster.urls:
                cluster.wait_for(url)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def manage(self, *args):
        result = subprocess.run(  # noqa: S603 (our own command line)
            [sys.executable, "manage.py", *args],
            cwd=PROJECT,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def spawn(self, name, *command):
        log = (self.folder / f"{name}.log").open("wb")
        process = subprocess.Popen(  # noqa: S603 (our own command line)
            command,
            cwd=PROJECT,
            env=self.environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process.name = name
        self.processes.append(process)

    def wait_for(self, url):
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{process.name} stopped:\n{self.log(process.name)}")
            try:
                if requests.get(f"{url}/accounts/login/", timeout=20).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer in {START_TIMEOUT_SECONDS} s")
            time.sleep(0.2)

    def log(self, name):
        return (self.folder / f"{name}.log").read_text(errors="replace")[-4000:]

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
