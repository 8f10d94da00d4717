"""The marking page for US57 (12 criteria): its height on a 1280x900 screen and its render time.

Run from the project folder:

    .venv/bin/python benchmarks/marking_page.py [--runs N]

It builds the demo database in a temporary folder (as docs/make_screenshots.py
does: migrate, the three units, ``seed_demo``), then

(a) renders Lucy's submitted US57 attempt in this process through Django's test
    client as her assessor, N times, and prints the median (wall clock and this
    process's CPU time, which suffers less when other work shares the machine),
    the query count, and the same for a trivial logged-in page (the password
    change form) beside it; ``--profile`` prints where one render's time goes;
(b) serves the database with ``runserver`` and opens the page in Chromium at
    1280x900, printing ``document.body.scrollHeight``.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs"))

from make_screenshots import DESKTOP, demo_server, log_in  # noqa: E402


def timed(client, url, runs):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm the template cache
    times, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        assert response.status_code == 200, response.status_code
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return statistics.median(times), statistics.median(cpu), len(queries)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--profile", action="store_true", help="print where the page's render time goes"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="portal-marking-") as tmp:
        folder = Path(tmp)
        with demo_server(folder) as url:
            os.environ.update(
                DEBUG="0",
                SECRET_KEY=os.environ.get("SECRET_KEY", "benchmark-only-" + "x" * 40),
                ALLOWED_HOSTS="testserver,127.0.0.1",
                DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}",
                MEDIA_ROOT=str(folder / "media"),
                LOG_LEVEL="WARNING",
            )
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "assessment_portal.settings")
            import django

            django.setup()
            from django.test import Client

            from assessments.models import Assessment

            assessment = Assessment.objects.get(
                enrolment__unit__code="57", enrolment__candidate__username="candidate2"
            )
            client = Client()
            client.force_login(assessment.enrolment.assessor)
            page_ms, page_cpu, page_queries = timed(
                client, assessment.get_absolute_url(), args.runs
            )
            if args.profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                profiler.runcall(client.get, assessment.get_absolute_url())
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
            trivial_ms, trivial_cpu, trivial_queries = timed(
                client, "/accounts/password_change/", args.runs
            )
            print(
                f"marking page (US57, 12 criteria): median {page_ms:.1f} ms "
                f"(CPU {page_cpu:.1f} ms), {page_queries} queries; trivial page "
                f"{trivial_ms:.1f} ms (CPU {trivial_cpu:.1f} ms, {trivial_queries} queries); "
                f"ratio {page_ms / trivial_ms:.1f}"
            )
            print(f"load average: {os.getloadavg()[0]:.1f}")

            from playwright.sync_api import sync_playwright

            executable = (
                os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
            )
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
                )
                context = browser.new_context(viewport=DESKTOP, base_url=url)
                page = context.new_page()
                log_in(page, "assessor")
                page.goto(assessment.get_absolute_url())
                height = page.evaluate("() => document.body.scrollHeight")
                browser.close()
            print(f"marking page height at 1280x900: {height} px")


if __name__ == "__main__":
    main()
