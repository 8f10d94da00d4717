"""Regenerate the screenshots in docs/screenshots/ (listed in docs/screenshots.md).

    .venv/bin/python docs/make_screenshots.py

Builds a fresh SQLite database in a temporary folder (migrate, the three units,
``seed_demo``), serves it with ``runserver`` on a free localhost port, and drives
Debian's Chromium (``/usr/bin/chromium``, or $CHROMIUM) with Playwright through
the demo story as each role. A few steps are taken through the pages first so
that there is something to show: the assessor judges four criteria, the
administrator reviews one moderation sample. The server and the temporary
folder are removed at the end, whatever happens. PNGs are reduced to a
256-colour palette to keep them small.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from PIL import Image
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
PASSWORD = "demo-portal-2026"  # noqa: S105 - the published demo password (README)
DESKTOP = {"width": 1280, "height": 900}
TABLET = {"width": 768, "height": 1024}
SERVER_START_SECONDS = 30


def manage(*args, env):
    subprocess.run(  # noqa: S603 - fixed arguments, this interpreter
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,  # errors (stderr) still show
    )


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def demo_server(folder):
    """A development server over a fresh demo database; stopped on the way out."""
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "MEDIA_ROOT": str(folder / "media"),
        "TASKS_BACKEND": "django.tasks.backends.immediate.ImmediateBackend",
        "LOG_LEVEL": "WARNING",
    }
    manage("migrate", "--no-input", env=env)
    manage(
        "import_unit",
        *sorted(str(p) for p in (ROOT / "fixtures" / "units").glob("*.json")),
        env=env,
    )
    manage("seed_demo", env=env)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(folder / "server.log", "wb") as log:
        server = subprocess.Popen(  # noqa: S603 - fixed arguments, this interpreter
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + SERVER_START_SECONDS
            while True:
                try:
                    urllib.request.urlopen(f"{url}/accounts/login/", timeout=2)  # noqa: S310
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"runserver did not start: {(folder / 'server.log').read_text()}"
                        ) from None
                    time.sleep(0.2)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def save(page, name, heading, **options):
    """A screenshot once ``heading`` shows, reduced to a 256-colour palette (half the
    size, the same look)."""
    expect(page.get_by_role("heading", name=heading).first).to_be_visible()
    path = OUT / f"{name}.png"
    # Text in a web font is invisible until the font has loaded (the printable records).
    page.evaluate("async () => { await Promise.all([...document.fonts].map(f => f.load())); }")
    if not options:
        # A short page: stop below its content rather than at the window's foot.
        bottom = page.evaluate(
            "() => document.querySelector('main').getBoundingClientRect().bottom"
        )
        viewport = page.viewport_size
        if bottom + 40 < viewport["height"]:
            options["clip"] = {"x": 0, "y": 0, "width": viewport["width"], "height": bottom + 40}
    page.screenshot(path=path, **options)
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)
    print(f"{path.relative_to(ROOT)}  {path.stat().st_size // 1024} KB")


def log_in(page, username):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda address: "/accounts/login/" not in address)


def nav(page, name):
    page.get_by_role("navigation", name="Main navigation").get_by_role(
        "link", name=name, exact=True
    ).click()


def judge(page, number):
    """Judge one criterion satisfactory through its htmx form, ticking its whole range."""
    card = page.locator(f"[id='criterion-{number}']")
    if card.locator("details").get_attribute("open") is None:
        card.locator("summary").click()
    card.get_by_label("Satisfactory", exact=True).check()
    card.get_by_label("Portfolio", exact=True).check()
    ranges = card.get_by_role("group", name="Range items covered").get_by_role("checkbox")
    for box in ranges.all():
        box.check()
    for rule in ["Valid", "Sufficient", "Authentic", "Current"]:
        card.get_by_label(rule, exact=True).check()
    card.get_by_role("button", name=f"Save {number}").click()
    expect(card.get_by_role("status")).to_have_text("Saved.")


def shoot(browser, url, workdir):
    def new_page(viewport=DESKTOP):
        context = browser.new_context(viewport=viewport, base_url=url, reduced_motion="reduce")
        context.set_default_timeout(20_000)
        return context.new_page()

    # Logged out.
    page = new_page()
    page.goto("/accounts/login/")
    save(page, "01-login", "Log in")

    # Tama, collecting evidence for US57.
    log_in(page, "candidate")
    save(page, "02-candidate-dashboard", "Kia ora, Tama")
    nav(page, "My evidence")
    page.get_by_role("link", name="New uploaded files").click()
    page.get_by_label("Title").fill("Till roster and service chain chart")
    page.get_by_label("Date").fill(f"{date.today() - timedelta(days=3):%Y-%m-%d}")
    page.get_by_label("Description").fill(
        "The chart I drew of who serves our customers, from suppliers to front-line staff."
    )
    chart = workdir / "service-chain.pdf"
    from weasyprint import HTML  # only here: the server does not need it in this process

    chart.write_bytes(HTML(string="<h1>Service chain</h1>").write_pdf())
    page.get_by_label("Files").set_input_files(chart)
    save(page, "03-evidence-upload", "New uploaded files")
    page.goto("/")
    page.get_by_role("link", name="Evidence coverage").click()
    save(page, "04-coverage", "Coverage of US57")
    page.context.close()

    # Sam, the assessor: the queue, then Lucy's US57 submission judged part-way.
    page = new_page()
    log_in(page, "assessor")
    nav(page, "Awaiting judgement")
    save(page, "05-assessor-queue", re.compile(r"^Awaiting judgement \d"))
    page.get_by_role("link", name="Lucy Chen").click()
    for number in ["1.1", "1.2", "1.3", "1.4"]:
        judge(page, number)
    expect(page.locator("#progress")).to_contain_text("4 of 12")
    # The journal open in the evidence panel beside the criteria.
    page.locator(".evidence-aside").get_by_role("link", name="Workplace journal for 57").click()
    expect(page.locator("#evidence-panel").get_by_role("heading", level=2)).to_be_visible()
    page.evaluate("window.scrollTo(0, 0)")
    save(page, "06-marking-page", "Evidence requirements", full_page=False)
    tablet = page.context.browser.new_context(
        viewport=TABLET,
        base_url=url,
        reduced_motion="reduce",
        storage_state=page.context.storage_state(),
    )
    tablet_page = tablet.new_page()
    tablet_page.goto(page.url)
    save(tablet_page, "07-marking-page-tablet", "Evidence requirements")
    tablet.close()
    page.context.close()

    # Jack, not yet competent in BSBCUS301B: what to do next, per criterion.
    page = new_page()
    log_in(page, "candidate3")
    nav(page, "My units")
    page.get_by_role("link", name=re.compile("^BSBCUS301B")).click()
    page.get_by_role("link", name="Attempt 1", exact=True).click()
    save(page, "14-candidate-feedback", "What to do next")
    page.context.close()

    # Mia, competent in BSBCUS301B: her signed-off result and its printable record.
    page = new_page()
    log_in(page, "candidate4")
    page.get_by_role("link", name="Attempt 1: Competent").click()
    save(page, "08-signed-off", "Signed off by Priya Raman")
    page.get_by_role("link", name="Preview the record").click()
    save(page, "09-record-preview", "Judgements by performance criterion")
    page.context.close()

    # Aroha, the administrator (and the demo round's moderator).
    page = new_page()
    log_in(page, "admin")
    save(page, "10-admin-dashboard", "Cohort progress")
    # Review Jack's sampled attempt, so the round and its summary have a result.
    page.get_by_role("button", name="Moderation").click()
    page.get_by_role("link", name="My moderation reviews").click()
    page.get_by_role("link", name="Jack Morrison").click()
    views = page.get_by_role("group", name="Your view of the judgement of", exact=False)
    for view in views.all():
        view.get_by_label("Agree", exact=True).check()
    page.get_by_role("group", name="Your view of the judgement of 2.2").get_by_label(
        "Disagree", exact=True
    ).check()
    page.get_by_label("Reason (required if you disagree on 2.2)").fill(
        "The journal shows the service was monitored, but not how it was improved."
    )
    page.get_by_label("Agree with the result", exact=True).check()
    page.get_by_role("textbox", name="Recommendation").fill(
        "Ask for a second example of monitoring service."
    )
    page.get_by_role("button", name="Submit review").click()
    expect(page.get_by_role("alert").filter(has_text="Review submitted")).to_be_visible()
    page.get_by_role("button", name="Moderation").click()
    page.get_by_role("link", name="Moderation rounds").click()
    page.get_by_role("link", name="BSBCUS301B validation").click()
    save(page, "11-moderation-round", "Sampled attempts")
    page.get_by_role("link", name="Summary").click()
    save(page, "12-moderation-summary", "Judged inconsistently")
    page.goto("/standards/BSBCUS301B/")
    save(page, "13-unit-detail-au", "Elements and performance criteria")
    page.context.close()


def main():
    executable = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="portal-screenshots-") as tmp:
        folder = Path(tmp)
        with demo_server(folder) as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
            )
            try:
                shoot(browser, url, folder)
            finally:
                browser.close()
    total = sum(p.stat().st_size for p in OUT.glob("*.png"))
    print(f"{total // 1024} KB in {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
