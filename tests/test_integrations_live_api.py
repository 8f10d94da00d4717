"""The API tested from outside, as a student management system sees it.

A production-mode server (gunicorn, DEBUG off) runs in a subprocess on its
own SQLite database seeded with the demo data, and schemathesis — an
independent API tester — generates requests from the OpenAPI document and
checks every response: no server errors, only documented status codes, and
bodies that match the schema.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from .conftest import UNIT_FILES

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(env, *args):
    return subprocess.run(  # noqa: S603  (our own manage.py)
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout


@pytest.fixture(scope="module")
def live_api(tmp_path_factory):
    folder = tmp_path_factory.mktemp("live-api")
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "MEDIA_ROOT": str(folder / "media"),
        "TASKS_BACKEND": "django.tasks.backends.immediate.ImmediateBackend",
    }
    manage(env, "migrate", "--verbosity", "0")
    manage(env, "import_unit", *map(str, UNIT_FILES))
    manage(env, "seed_demo")
    token = manage(
        env,
        "create_api_token",
        "--admin",
        "admin",
        "--name",
        "schemathesis",
        "--scope",
        "write_enrolments",
    ).split()[-1]
    port = free_port()
    production = {
        **env,
        "DEBUG": "0",
        "SECRET_KEY": "schemathesis-run-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        # Plain HTTP on loopback: no redirect to HTTPS.
        "HTTPS": "0",
        "API_RATE_LIMIT_PER_MINUTE": "1000000",
    }
    log = folder / "gunicorn.log"
    # One worker: SQLite lets one writer in at a time, and this is not a load test.
    server = subprocess.Popen(  # noqa: S603  (our own gunicorn)
        [str(BIN / "gunicorn"), "assessment_portal.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"],
        cwd=ROOT,
        env=production,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/openapi.json", timeout=5).close()  # noqa: S310
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("gunicorn did not start: " + log.read_text()[-2000:])
            time.sleep(0.3)
    yield base, token, log
    server.terminate()
    server.wait(timeout=30)


def test_openapi_document_is_valid_openapi_3_1(live_api):
    base, _token, _log = live_api
    with urllib.request.urlopen(f"{base}/openapi.json") as response:  # noqa: S310
        document = json.load(response)
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert "/api/v1/results" in document["paths"]


def test_schemathesis_finds_no_failures_in_the_live_api(live_api):
    base, token, log = live_api
    run = subprocess.run(  # noqa: S603  (the installed schemathesis)
        [
            str(BIN / "st"),
            "run",
            f"{base}/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            CHECKS,
            # Bounded so the suite stays fast; the fixed seed makes a failure reproducible.
            "--phases",
            "examples,fuzzing,stateful",
            "--max-examples",
            "10",
            "--seed",
            "20261124",
            "--workers",
            "1",
            "--no-color",
        ],
        # Schemathesis keeps a cache in its working folder: the run's own, not the project.
        cwd=log.parent,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:] + log.read_text()[-4000:]
    assert "passed" in run.stdout
