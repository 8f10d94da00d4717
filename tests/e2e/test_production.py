"""A journey against the portal as `make serve` runs it: DEBUG off, gunicorn,
WhiteNoise with hashed compressed static files, the strict Content-Security-Policy,
and the task worker. Its own database (a fresh SQLite file: migrated, units
imported, demo people) and static folder; nothing shared with the other tests.

The browser must report no Content-Security-Policy violation, Bootstrap's
dropdowns must open and an htmx save on the marking page must swap in place.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import log_in

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DEMO_PASSWORD = "demo-portal-2026"
# Listens for violations from the first byte of every page, before any script runs.
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(
    `${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def manage(*args, env):
    subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True
    )


@pytest.fixture(scope="module")
def production_site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("production")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "DEBUG": "0",
        "SECRET_KEY": "e2e-" + "x" * 60,
        "ALLOWED_HOSTS": "127.0.0.1",
        "HTTPS": "0",  # plain HTTP on the loopback; everything else as in production
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "MEDIA_ROOT": str(folder / "media"),
        "STATIC_ROOT": str(folder / "static"),
        "WEB_BIND": f"127.0.0.1:{port}",
        "WEB_WORKERS": "2",
        "WEB_THREADS": "2",
        "WORKER_HEARTBEAT_MAX_AGE": "30",
    }
    # collectstatic (compressing every file) is the slow part: run it beside the rest.
    collectstatic = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "collectstatic", "--no-input", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
    )
    manage("migrate", "--no-input", env=env)
    manage(
        "import_unit", *sorted(str(p) for p in (ROOT / "fixtures/units").glob("*.json")), env=env
    )
    manage("seed_demo", env={**env, "DEBUG": "1"})  # the demo people and their work
    assert collectstatic.wait(timeout=300) == 0

    log = (folder / "server.log").open("w")
    processes = [
        subprocess.Popen(  # noqa: S603
            [sys.executable, "manage.py", "run_worker"], cwd=ROOT, env=env, stdout=log, stderr=log
        ),
        subprocess.Popen(  # noqa: S603
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "--config",
                "assessment_portal/gunicorn.conf.py",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
        ),
    ]
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:  # noqa: S310
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    "the production server did not become healthy:\n"
                    + (folder / "server.log").read_text()
                )
            time.sleep(0.5)
        yield url
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


@pytest.fixture
def production_page(browser, production_site):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=production_site)
    context.set_default_timeout(15_000)
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    console = []
    page.on(
        "console",
        lambda message: console.append(message.text) if message.type == "error" else None,
    )
    page.console_errors = console
    yield page
    context.close()


def csp_violations(page):
    return page.evaluate("() => window.__cspViolations")


def test_assessor_journey_in_production_mode(production_page, production_site):
    page = production_page
    violations = []

    response = page.goto("/accounts/login/")
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp
    # Static files: hashed names, compressed, cached for good.
    stylesheet = page.locator("link[rel=stylesheet]").first.get_attribute("href")
    assert re.fullmatch(r"/static/vendor/bootstrap/bootstrap\.min\.[0-9a-f]{12}\.css", stylesheet)
    static = page.request.get(stylesheet, headers={"Accept-Encoding": "br"})
    assert static.ok
    assert static.headers["content-encoding"] == "br"
    assert "immutable" in static.headers["cache-control"]
    violations += csp_violations(page)

    log_in(page, "assessor", DEMO_PASSWORD)
    # Bootstrap is styled and its JavaScript runs: the navigation is navy, the dropdowns open.
    navbar = page.get_by_role("navigation", name="Main navigation")
    assert navbar.evaluate("n => getComputedStyle(n).backgroundColor") == "rgb(10, 58, 122)"
    navbar.get_by_role("button", name="Moderation").click()
    expect(page.get_by_role("link", name="Moderation of my decisions")).to_be_visible()
    navbar.get_by_role("button").last.click()  # the signed-in person's menu
    expect(page.get_by_role("link", name="Change password")).to_be_visible()
    violations += csp_violations(page)

    # The marking page: judge one criterion; htmx saves it without reloading the page.
    page.get_by_role("link", name="Awaiting judgement").first.click()
    page.get_by_role("row", name=re.compile("Lucy Chen")).get_by_role(
        "link", name="Lucy Chen"
    ).click()
    expect(page.get_by_role("heading", name="US57 Provide customer service")).to_be_visible()
    page.evaluate("() => { window.stillThisPage = true; }")
    card = page.get_by_role("article", name=re.compile(r"^1\.1 "))
    card.get_by_label("Satisfactory", exact=True).check()
    card.get_by_label("Portfolio", exact=True).check()
    for rule in ["Valid", "Sufficient", "Authentic", "Current"]:
        card.get_by_label(rule, exact=True).check()
    card.get_by_role("button", name="Save 1.1").click()
    expect(card.get_by_role("status")).to_have_text("Saved.")
    expect(page.locator("#progress")).to_contain_text("1 of 12")
    assert page.evaluate("() => window.stillThisPage") is True
    # The history loads when it comes into view, with the save just made.
    history = page.get_by_role("region", name="History")
    history.scroll_into_view_if_needed()
    expect(history.get_by_role("table")).to_contain_text(
        "Evidence requirement 1.1: Not judged → Satisfactory"
    )
    marking_violations = csp_violations(page)

    # The assessment record PDF renders with the hashed stylesheet and fonts.
    assessment = re.search(r"/assessments/(\d+)/", page.url).group(1)
    record = page.request.get(f"/reports/assessments/{assessment}/record.pdf")
    assert record.ok, record.text()[:500]
    assert record.headers["content-type"] == "application/pdf"

    # /healthz as a load balancer sees it.
    health = page.request.get("/healthz")
    assert health.status == 200
    assert health.json()["checks"] == {"database": "ok", "storage": "ok", "worker": "ok"}

    assert violations == []
    assert [m for m in page.console_errors if "Content Security Policy" not in m] == []
    assert marking_violations == []
    assert [m for m in page.console_errors if "Content Security Policy" in m] == []
