"""Every main page, per role, at demo size and at a real institution's size.

Run from the project folder (``make bench-pages`` does):

    .venv/bin/python benchmarks/pages.py

It creates a PostgreSQL database of its own (``bench_pages_<pid>`` on the
server of ``POSTGRES_URL``, default postgres://postgres@127.0.0.1:5432/test),
then

1. migrates, loads the units and ``seed_demo``; counts each page's queries;
2. adds ``seed_scale --candidates BENCH_CANDIDATES`` (default 10,000); counts
   the queries again and times each page in-process (Django's test client,
   DEBUG off, median of 21), in three blocks of 7 in turn with a trivial
   logged-in page (the site's layout around one word) for the same user, the
   ratio's denominator: a role's layout is part of every page that user opens (an
   administrator's menu has more links than a candidate's), so the ratio measures
   the page's own work. The ratio to the candidate's trivial page is printed
   beside it;
3. times enrolling the cohort of 500 in each unit it is not enrolled in;
4. serves the site with gunicorn (3 sync workers, loopback only) and loads
   the trivial page, the queue and the marking page with ``wrk`` (10
   connections, BENCH_HTTP_SECONDS, default 30 s each).

It prints a table and exits non-zero when a page's query count grows with
the data or a page breaks its bound (issue 13):

- no page's query count grows between demo size and the large size;
- every page's median within 10x the same user's trivial page; the round list within 5x;
- the judgement save within 8 queries;
- over HTTP: marking page >= 50 requests/s, queue >= 100 requests/s, no errors;
- enrolling a cohort of 500 under 1 s, its queries not growing with the criteria.

Both run as production does (DEBUG off, hashed static files, the cache and
session copies in Redis: BENCH_REDIS_URL, default redis://127.0.0.1:6379/7).
The database is dropped afterwards. The machine is shared, so the load
average is printed beside the figures.
"""

import itertools
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CANDIDATES = int(os.environ.get("BENCH_CANDIDATES", "10000"))
HTTP_SECONDS = int(os.environ.get("BENCH_HTTP_SECONDS", "30"))
RUNS = 21
BLOCK = 7  # timed runs in a row of one request: three blocks of each, in turn
WARM = 8  # untimed requests before each block
RATIO_BOUND, ROUND_LIST_RATIO_BOUND = 10, 5
SAVE_QUERY_BOUND = 8
HTTP_BOUNDS = {"marking page": 50, "queue": 100}
ENROL_SECONDS_BOUND = 1.0

WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH p95_ms=%.1f errors=%d requests=%d\\n",
    latency:percentile(95) / 1000, e.connect + e.read + e.write + e.status + e.timeout,
    summary.requests))
end
"""


def load():
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def database_urls():
    base = urlsplit(os.environ.get("POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"))
    name = f"bench_pages_{os.getpid()}"
    return (
        name,
        urlunsplit(base._replace(path="/postgres")),
        urlunsplit(base._replace(path=f"/{name}")),
    )


def admin_sql(server_url, sql):
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(sql)


def manage(env, *args):
    subprocess.run(  # noqa: S603 - our own manage.py
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
    )


# --- what to measure ---------------------------------------------------------------------


def pick_objects(large):
    """Users and objects the pages are opened with; like for like at both sizes."""
    from django.contrib.auth import get_user_model

    from assessments import moderation
    from assessments.models import Assessment, Cohort, Enrolment, ModerationRound, ModerationSample
    from evidence.models import Evidence

    User = get_user_model()
    people = (
        User.objects.filter(username__startswith="scale-")
        if large
        else User.objects.exclude(username__startswith="scale-")
    )
    attempts = Assessment.objects.filter(enrolment__candidate__in=people)
    marking = attempts.filter(status="submitted", enrolment__unit__code="57").order_by("pk").first()
    assessor = marking.enrolment.assessor
    candidate = (
        people.filter(role="candidate", enrolments__assessments__status="submitted")
        .order_by("-pk" if large else "pk")
        .first()
    )
    admin = people.filter(role="administrator").order_by("pk").first()
    rounds = ModerationRound.objects.filter(created_by=admin)
    sampled = rounds.filter(sampled_at__isnull=False).order_by("pk").last()
    unsampled = rounds.filter(sampled_at__isnull=True).order_by("pk").last()
    if unsampled is None:  # the demo has one sampled round; open a second to sample
        unsampled = moderation.create_round(
            unit=sampled.unit,
            name="Benchmark round",
            period_start=sampled.period_start,
            period_end=sampled.period_end,
            by=admin,
        )
    samples = ModerationSample.objects.filter(round=sampled).order_by("pk")
    if not samples.filter(review__isnull=False).exists():
        # The demo has no review yet: one, so reviewed pages compare like for like.
        first = samples.first()
        moderation.submit_review(
            sample=first,
            by=first.moderator,
            criteria={j.pk: (True, "") for j in first.assessment.judgements.all()},
            agrees_with_result=True,
            recommendation="",
        )
    pending = samples.filter(review__isnull=True).first()
    reviewed = samples.filter(review__isnull=False).first()
    cohort = Cohort.objects.filter(candidates__in=people).order_by("pk").first()
    if large:
        cohort = Cohort.objects.filter(name__contains="large intake").order_by("pk").last()
    enrolment = (
        Enrolment.objects.filter(candidate=candidate, assessments__status="submitted")
        .order_by("pk")
        .first()
    )
    return {
        "administrator": admin,
        "assessor": assessor,
        "candidate": candidate,
        "moderator": pending.moderator,
        "decision assessor": reviewed.assessor,
        "marking": marking,
        "judgement": marking.judgements.order_by("criterion__sort_key").first(),
        "signed": attempts.filter(status="signed_off").order_by("pk").first(),
        "enrolment": enrolment,
        "evidence": Evidence.objects.filter(candidate=candidate, kind="written")
        .order_by("pk")
        .first(),
        "cohort": cohort,
        "sampled": sampled,
        "unsampled": unsampled,
        "sample": pending,
        "reviewed": reviewed,
        "unit": marking.enrolment.unit,
    }


def pages():
    """(page, role, path maker, ratio bound). A path maker returns None if the page is missing."""
    from django.urls import NoReverseMatch, reverse

    def url(name, *args):
        def make(o):
            try:
                return reverse(name, args=[a(o) for a in args])
            except NoReverseMatch:
                return None

        return make

    def attr(*path):
        def get(o):
            value = o[path[0]]
            for part in path[1:]:
                value = getattr(value, part)
            return value

        return get

    pk = lambda key: attr(key, "pk")  # noqa: E731
    R = RATIO_BOUND
    return [
        ("trivial page", "candidate", url("bench_trivial"), None),
        ("home (dashboard)", "candidate", url("home"), R),
        ("home (dashboard)", "assessor", url("home"), R),
        ("home (dashboard)", "administrator", url("home"), R),
        ("enrolment list", "candidate", url("assessments:enrolment_list"), R),
        ("enrolment list", "assessor", url("assessments:enrolment_list"), R),
        ("enrolment list", "administrator", url("assessments:enrolment_list"), R),
        ("enrolment detail", "candidate", url("assessments:enrolment_detail", pk("enrolment")), R),
        ("enrol a candidate (form)", "administrator", url("assessments:enrolment_create"), R),
        ("evidence list", "candidate", url("evidence:evidence_list"), R),
        ("evidence list", "assessor", url("evidence:evidence_list"), R),
        ("evidence list", "administrator", url("evidence:evidence_list"), R),
        ("evidence detail", "candidate", url("evidence:evidence_detail", pk("evidence")), R),
        ("evidence mapping", "candidate", url("evidence:evidence_map", pk("evidence")), R),
        ("coverage", "candidate", url("evidence:coverage", pk("enrolment")), R),
        ("submit page", "candidate", url("evidence:submit", pk("enrolment")), R),
        ("queue", "assessor", url("assessments:queue"), R),
        ("queue", "administrator", url("assessments:queue"), R),
        ("marking page", "assessor", url("assessments:assessment_detail", pk("marking")), R),
        ("signed attempt", "administrator", url("assessments:assessment_detail", pk("signed")), R),
        (
            "record preview",
            "administrator",
            url("reports:assessment_record_preview", pk("signed")),
            R,
        ),
        ("cohort list", "administrator", url("assessments:cohort_list"), R),
        ("cohort detail (500)", "administrator", url("assessments:cohort_detail", pk("cohort")), R),
        ("cohort edit (500)", "administrator", url("assessments:cohort_edit", pk("cohort")), R),
        ("people", "administrator", url("user_list"), R),
        ("units", "candidate", url("standards:unit_list"), R),
        (
            "moderation round list",
            "administrator",
            url("moderation:round_list"),
            ROUND_LIST_RATIO_BOUND,
        ),
        (
            "round detail (sampled)",
            "administrator",
            url("moderation:round_detail", pk("sampled")),
            R,
        ),
        (
            "round detail (unsampled)",
            "administrator",
            url("moderation:round_detail", pk("unsampled")),
            R,
        ),
        (
            "population picker",
            "administrator",
            url("moderation:round_population", pk("unsampled")),
            R,
        ),
        ("round summary", "administrator", url("moderation:round_summary", pk("sampled")), R),
        ("round exports", "administrator", url("moderation:round_export", pk("sampled")), R),
        ("my reviews", "moderator", url("moderation:my_reviews"), R),
        ("review", "moderator", url("moderation:review", pk("sample")), R),
        ("my decisions", "decision assessor", url("moderation:my_decisions"), R),
        ("decision", "decision assessor", url("moderation:decision", pk("reviewed")), R),
    ]


def save_data(judgement, comment):
    """The marking page's form for one criterion as the browser posts it: judged "not yet"."""
    prefix = f"j{judgement.pk}"
    return {
        f"{prefix}-verdict": "not_yet",
        f"{prefix}-methods": list(judgement.methods) or ["observation"],
        f"{prefix}-range_items": [str(item.pk) for item in judgement.range_items.all()],
        **{f"{prefix}-{rule}": "on" for rule in ("valid", "authentic", "current")},
        f"{prefix}-comment": comment,
        f"{prefix}-version": str(judgement.version),
    }


def client_for(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def timed(request):
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    # The capture keeps the log from being emptied at each request, and a full log
    # (9,000 queries) would count none.
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = request()
        elapsed = time.perf_counter() - started
    return response, len(queries), elapsed * 1000


def measure_pages(objects, runs):
    """{(page, role): (queries, median ms, status, the trivial page's median ms beside it
    for the same user, and for the candidate)}, and the judgement save."""
    from django.urls import reverse

    from assessments.models import Judgement

    clients = {"candidate": client_for(objects["candidate"])}
    results = {}
    trivial = reverse("bench_trivial")

    def interleaved(role, measure):
        """Medians of ``measure()`` (a timed request: see ``timed``) and of the trivial
        page for ``role``'s user and for the candidate, in three rounds of a block of each:
        on a shared machine all three meet the same spells of load. Each block starts
        after WARM untimed requests like it: a request that follows heavier ones is slower
        for about ten requests (their garbage, the processor's caches), so without them
        the trivial page would seem slower after each page, and the ratio smaller."""
        trivials = [
            partial(timed, partial(clients[who].get, trivial)) for who in (role, "candidate")
        ]
        series = ([], [], [])
        for block in [BLOCK] * (runs // BLOCK) + ([runs % BLOCK] if runs % BLOCK else []):
            for times, call in zip(series, (measure, *trivials), strict=True):
                for _ in range(WARM):
                    call()
                times.extend(call()[2] for _ in range(block))
        return tuple(statistics.median(times) for times in series)

    for page, role, make, _ in pages():
        path = make(objects)
        if path is None:
            results[page, role] = None
            continue
        client = clients.setdefault(role, client_for(objects[role]))
        response, queries, _ = timed(partial(client.get, path))
        page_ms, trivial_ms, candidates_ms = interleaved(
            role, partial(timed, partial(client.get, path))
        )
        results[page, role] = (queries, page_ms, response.status_code, trivial_ms, candidates_ms)
    judgement = objects["judgement"]
    client = clients["assessor"]
    path = f"{objects['marking'].get_absolute_url()}criteria/{judgement.pk}/"
    counts, statuses, saves = [], [], itertools.count()

    def save():
        """One save of the criterion, timed alone: the judgement is read first for the
        version to post back, as the browser has it from the page."""
        current = Judgement.objects.select_related("criterion").get(pk=judgement.pk)
        data = save_data(current, f"Benchmark save {next(saves)}: the complaint resolved.")
        response, queries, ms = timed(partial(client.post, path, data, HTTP_HX_REQUEST="true"))
        counts.append(queries)
        refused = b"was not saved" in response.content or b"invalid-feedback" in response.content
        statuses.append("refused" if refused else response.status_code)
        return response, queries, ms

    page_ms, trivial_ms, candidates_ms = interleaved("assessor", save)
    results["judgement save", "assessor"] = (
        max(counts),
        page_ms,
        next((status for status in statuses if status != 200), 200),
        trivial_ms,
        candidates_ms,
    )
    return results


def measure_enrolment(objects):
    """Enrol the cohort in each unit it is not in (rolled back): [(unit, criteria, queries, ms)]."""
    from django.db import transaction

    from assessments import services
    from standards.models import PerformanceCriterion, Unit

    cohort, admin = objects["cohort"], objects["administrator"]
    assessor = objects["assessor"]
    enrolled = set(cohort.enrolments.values_list("unit_id", flat=True))
    rows = []
    for unit in Unit.objects.exclude(pk__in=enrolled).order_by("code"):
        criteria = PerformanceCriterion.objects.filter(outcome__unit=unit).count()
        with transaction.atomic():
            _, queries, ms = timed(
                partial(
                    services.enrol_cohort, cohort=cohort, unit=unit, assessor=assessor, by=admin
                )
            )
            transaction.set_rollback(True)
        rows.append((unit.display_code, criteria, cohort.candidates.count(), queries, ms))
    return rows


# --- over HTTP -----------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wrk(url, cookie, seconds, script):
    out = subprocess.run(  # noqa: S603 - fixed arguments
        [  # noqa: S607 - wrk from PATH
            "wrk",
            "-t2",
            "-c10",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            script,
            "-H",
            f"Cookie: {cookie}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p95, errors, requests = re.search(
        r"BENCH p95_ms=([\d.]+) errors=(\d+) requests=(\d+)", out
    ).groups()
    return rate, float(p95), int(errors), int(requests)


def measure_http(env, objects, workdir):
    from django.conf import settings

    port = free_port()
    server = subprocess.Popen(  # noqa: S603 - our gunicorn
        [
            str(Path(PYTHON).parent / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "3",
            "--worker-class",
            "sync",
            "--log-level",
            "warning",
            # The first request of each worker imports the site; on a loaded machine that
            # can take longer than gunicorn's default 30 s.
            "--timeout",
            "300",
            "assessment_portal.wsgi",
        ],
        cwd=ROOT,
        env=env,
    )
    script = workdir / "report.lua"
    script.write_text(WRK_SCRIPT)
    targets = [
        ("trivial page", "candidate", "/bench/trivial/"),
        ("queue", "assessor", "/assess/"),
        ("marking page", "assessor", objects["marking"].get_absolute_url()),
    ]
    results = []
    try:
        # Each worker imports the site on its first request: warm all three up first.
        login = f"http://127.0.0.1:{port}/accounts/login/"
        for _ in range(300):
            try:
                urllib.request.urlopen(login, timeout=300)  # noqa: S310 - http://127.0.0.1 only
                break
            except OSError:
                time.sleep(1)
        for page, role, path in targets:
            session = client_for(objects[role]).cookies[settings.SESSION_COOKIE_NAME].value
            cookie = f"{settings.SESSION_COOKIE_NAME}={session}"
            url = f"http://127.0.0.1:{port}{path}"
            before = load()
            try:
                for _ in range(6):
                    request = urllib.request.Request(url, headers={"Cookie": cookie})
                    with urllib.request.urlopen(request, timeout=300) as response:  # noqa: S310
                        if response.url.rstrip("/") != url.rstrip("/"):
                            raise RuntimeError(f"redirected to {response.url}: not logged in?")
                rate, p95, errors, requests = wrk(url, cookie, HTTP_SECONDS, str(script))
            except (OSError, RuntimeError, subprocess.CalledProcessError, AttributeError) as error:
                results.append((page, role, 0.0, 0.0, 1, 0, f"{before}; failed: {error}"))
            else:
                results.append((page, role, rate, p95, errors, requests, before))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return results


# --- the report ------------------------------------------------------------------------------


def report_pages(demo, large, enrolment_rows):
    """Print the in-process table and the cohort enrolment; returns (rows checked, failures)."""
    trivial_ms = large["trivial page", "candidate"][1]
    failures, rows = [], []
    for page, role, _, bound in [*pages(), ("judgement save", "assessor", None, RATIO_BOUND)]:
        small, big = demo.get((page, role)), large.get((page, role))
        if small is None or big is None:
            rows.append((page, role, "-", "-", "-", "-", "-", "missing"))
            failures.append(f"{page} ({role}): the page does not exist")
            continue
        ratio, candidates_ratio = big[1] / big[3], big[1] / big[4]
        problems = []
        if big[2] not in (200,):
            problems.append(f"status {big[2]}")
        if big[0] > small[0]:
            problems.append(f"queries grow {small[0]}->{big[0]}")
        if bound and ratio > bound:
            problems.append(f"{ratio:.1f}x > {bound}x")
        if page == "judgement save" and big[0] > SAVE_QUERY_BOUND:
            problems.append(f"{big[0]} queries > {SAVE_QUERY_BOUND}")
        failures += [f"{page} ({role}): {p}" for p in problems]
        rows.append(
            (
                page,
                role,
                small[0],
                big[0],
                f"{big[1]:.1f}",
                f"{ratio:.1f}",
                f"{candidates_ratio:.1f}",
                "; ".join(problems) or "ok",
            )
        )
    header = (
        "page",
        "role",
        "q demo",
        f"q {CANDIDATES}",
        "median ms",
        "x trivial",
        "x candidate's",
        "bound",
    )
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print()
    print(
        f"In-process, DEBUG off, median of {RUNS}, each page in turn with the same user's "
        f"trivial page (the candidate's median here {trivial_ms:.1f} ms); {load()}"
    )
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))

    print()
    print("Enrolling the cohort in a unit (rolled back):")
    query_counts = {r[3] for r in enrolment_rows}
    for unit, criteria, size, queries, ms in enrolment_rows:
        ok = ms / 1000 < ENROL_SECONDS_BOUND
        print(
            f"  {unit}: {size} candidates x {criteria} criteria: {queries} queries, "
            f"{ms:.0f} ms {'ok' if ok else 'TOO SLOW'}"
        )
        if not ok:
            failures.append(f"enrolling {size} in {unit}: {ms:.0f} ms")
    if len(query_counts) > 1:
        failures.append(f"enrolment queries grow with the unit's criteria: {sorted(query_counts)}")

    return len(rows) + len(enrolment_rows), failures


def report_http(http_rows):
    """Print the load figures; returns (rows checked, failures)."""
    failures = []
    print()
    print(f"Over HTTP: gunicorn, 3 sync workers, wrk 10 connections x {HTTP_SECONDS} s")
    for page, role, rate, p95, errors, requests, before in http_rows:
        bound = HTTP_BOUNDS.get(page)
        problems = []
        if bound and rate < bound:
            problems.append(f"{rate:.1f} req/s < {bound}")
        if errors:
            problems.append(f"{errors} errors")
        failures += [f"{page} over HTTP: {p}" for p in problems]
        print(
            f"  {page} ({role}): {rate:.1f} req/s, p95 {p95:.0f} ms, {requests} requests, "
            f"{errors} errors; {before}; {'; '.join(problems) or 'ok'}",
            flush=True,
        )
    return len(http_rows), failures


def main():
    name, server_url, database_url = database_urls()
    workdir = Path(tempfile.mkdtemp(prefix="bench_pages_"))
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(workdir / "media"),
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "PYTHONPATH": str(ROOT),
        "TASKS_BACKEND": "django.tasks.backends.immediate.ImmediateBackend",
    }
    seed_env = {**env, "DEBUG": "1"}
    serve_env = {
        **env,
        "DEBUG": "0",
        "SECRET_KEY": "benchmark-only-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1,testserver",
        # Plain HTTP on loopback: no redirect to HTTPS, no secure-only cookies.
        "HTTPS": "0",
        "SECURE_COOKIES": "0",
        "STATIC_ROOT": str(workdir / "static"),
        "LOG_LEVEL": "WARNING",
        # Several processes serve, so the cache is shared, as the README asks of production.
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7"),
    }
    admin_sql(server_url, f'CREATE DATABASE "{name}"')
    print(f"Database {name}; {load()}", flush=True)
    try:
        manage(seed_env, "migrate", "--no-input", "-v0")
        manage(
            seed_env,
            "import_unit",
            *[str(p) for p in sorted((ROOT / "fixtures/units").glob("*.json"))],
        )
        manage(seed_env, "seed_demo")
        # Production serves hashed static files (WhiteNoise's manifest).
        manage(serve_env, "collectstatic", "--no-input", "-v0")
        os.environ.update(serve_env)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        demo = measure_pages(pick_objects(large=False), runs=1)
        demo_enrolment = measure_enrolment(pick_objects(large=False))
        print(f"Demo size measured; seeding {CANDIDATES} candidates; {load()}", flush=True)
        started = time.monotonic()
        manage(seed_env, "seed_scale", "--candidates", str(CANDIDATES))
        print(f"Seeded in {time.monotonic() - started:.0f} s; {load()}", flush=True)
        from django.db import connection

        # As autovacuum leaves a database that has grown over years, not minutes: planner
        # statistics, and visibility maps that let index-only scans skip the table.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
            # The seed's writes flushed to disk now, not by the checkpointer while pages
            # are timed.
            cursor.execute("CHECKPOINT")
        objects = pick_objects(large=True)
        large = measure_pages(objects, runs=RUNS)
        enrolment = measure_enrolment(objects)
        print(f"Demo-size enrolment: {demo_enrolment}")
        checked, failures = report_pages(demo, large, enrolment)
        http_checked, http_failures = report_http(measure_http(serve_env, objects, workdir))
        checked += http_checked
        failures += http_failures
        print()
        for failure in failures:
            print(f"FAILED: {failure}")
        failing = len({f.split(":")[0] for f in failures})
        print(f"{checked - failing} of {checked} pages within bounds.")
    finally:
        from django.db import connections

        connections.close_all()
        admin_sql(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
