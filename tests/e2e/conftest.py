"""End-to-end tests in a real browser: Debian's Chromium driven by Playwright.

Where Chromium is missing they are skipped with the command that installs it,
except in CI (CI=true), where a missing browser fails the run: `.ci/run`
installs it.
"""

import os
import shutil
import threading
from pathlib import Path

import pytest
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.testcases import LiveServerThread

from standards.models import Unit
from standards.services import import_unit_file
from tests.tasks_support import IMMEDIATE, use_task_backend

from ..conftest import UNIT_FILES

AXE = Path(__file__).resolve().parent.parent / "vendor" / "axe.min.js"
PASSWORD = "correct horse battery"


class OneRequestAtATimeServer(ThreadedWSGIServer):
    """The live server, answering one request at a time while its threads share the test's
    in-memory SQLite connection (on PostgreSQL each thread has its own).

    A page's images load in parallel: two requests interleaving their queries on one
    SQLite connection made one of them fail now and then (a broken PDF page image).
    Requests are serialized, not connections: a browser keeps idle connections open.
    """

    lock = threading.Lock()

    def set_app(self, application):
        if not self.connections_override:
            return super().set_app(application)

        def one_at_a_time(environ, start_response):
            with self.lock:
                return application(environ, start_response)

        return super().set_app(one_at_a_time)


LiveServerThread.server_class = OneRequestAtATimeServer


def chromium_path():
    return (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )


@pytest.fixture(scope="session")
def browser():
    executable = chromium_path()
    if not executable:
        message = "Chromium is not installed: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Django's ORM refuses to run inside an event loop; Playwright's sync API
    # keeps one running in this thread.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def site(live_server, settings):
    """The live server with the units loaded (a browser test's flush empties the database)."""
    use_task_backend(settings, IMMEDIATE)
    if not Unit.objects.exists():
        for path in UNIT_FILES:
            import_unit_file(path)
    return live_server


@pytest.fixture
def page(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=site.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def log_in(page, username, password=PASSWORD):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def serious_violations(page):
    """axe-core's serious and critical accessibility violations on the current page."""
    # Evaluated through the DevTools protocol: a <script> tag added to the page
    # would be inline script, which the Content-Security-Policy blocks.
    page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await axe.run(document)")
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "elements": [node["target"] for node in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in {"serious", "critical"}
    ]
