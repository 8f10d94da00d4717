"""How long an assessment record PDF takes, and how much of that is WeasyPrint.

Run from the project folder:

    DEBUG=1 .venv/bin/python benchmarks/render_record.py [--runs N]

It builds a throwaway SQLite database in a temporary folder, loads the three
units, signs off a BSBCUS301B attempt with long comments and eight evidence
files (a record of about four pages), then times

(a) the whole record: database reads, template and WeasyPrint, as the view does;
(b) WeasyPrint alone, on the same HTML rendered once beforehand;

and prints the median of each, the ratio (a)/(b) and the page count. Goals on
the 2-core development machine: (a) under 0.5 s, ratio under 1.2. Wall-clock
time suffers when other work shares the machine, so the CPU time this process
used and the load average are printed beside it. The last PDF is written to
benchmarks/out/record.pdf to look at.
"""

import argparse
import hashlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_SECONDS = 0.5
GOAL_RATIO = 1.2

COMMENT = (
    "Observed on two shifts at the service desk: greeted customers promptly, clarified "
    "their needs with open questions and explained the options, including what the store "
    "could not do. Questioning confirmed she knows why each procedure step is required."
)


def setup_django(folder):
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # WeasyPrint logs every step at INFO
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    os.environ["MEDIA_ROOT"] = str(folder / "media")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "assessment_portal.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from standards.services import import_unit_file

    for path in sorted((ROOT / "fixtures" / "units").glob("*.json")):
        import_unit_file(path)


def signed_off_record():
    """A signed-off BSBCUS301B attempt with long comments and eight evidence files."""
    from django.contrib.auth import get_user_model

    from assessments import services
    from evidence.models import Evidence, EvidenceFile, EvidenceMapping
    from standards.models import PerformanceCriterion, Unit

    User = get_user_model()
    admin = User.objects.create_user("admin", role="administrator")
    assessor = User.objects.create_user(
        "assessor", role="assessor", first_name="Priya", last_name="Nair"
    )
    candidate = User.objects.create_user(
        "candidate",
        role="candidate",
        first_name="Aroha",
        last_name="Ngāta",
        unique_student_identifier="3AW88YH9U5",
    )
    unit = Unit.objects.get(code="BSBCUS301B")
    enrolment = services.enrol(candidate=candidate, unit=unit, assessor=assessor, by=admin)
    criteria = list(PerformanceCriterion.objects.filter(outcome__unit=unit))
    for number in range(4):
        evidence = Evidence.objects.create(
            candidate=candidate,
            kind="file",
            title=f"Service desk portfolio, week {number + 1}",
            description="Service log extracts, customer feedback forms and the follow-up e-mails.",
            recorded_by=candidate,
        )
        for part in range(2):
            content = f"evidence {number}.{part}".encode()
            EvidenceFile.objects.create(
                evidence=evidence,
                file=f"evidence/{number}-{part}.pdf",
                original_name=f"week-{number + 1}-service-log-part-{part + 1}.pdf",
                content_type="application/pdf",
                size=120_000 + number * 1000 + part,
                sha256=hashlib.sha256(content).hexdigest(),
            )
        for criterion in criteria[number::4]:
            EvidenceMapping.objects.create(evidence=evidence, criterion=criterion)
    assessment = services.submit_for_assessment(
        assessment=enrolment.assessments.get(), by=candidate, declaration_accepted=True
    )
    for judgement in assessment.judgements.select_related("criterion"):
        items = [i for rs in judgement.criterion.range_statements.all() for i in rs.items.all()]
        services.record_judgement(
            judgement=judgement,
            by=assessor,
            expected_version=judgement.version,
            data={
                "verdict": "satisfactory",
                "methods": ["observation", "questioning", "portfolio"],
                "range_items": items,
                "valid": True,
                "sufficient": True,
                "authentic": True,
                "current": True,
                "comment": COMMENT,
            },
        )
    services.sign_off(
        assessment=assessment,
        by=assessor,
        feedback="Competent in every element. Well done.",
        declaration_accepted=True,
    )
    return assessment


def median_seconds(functions, runs):
    """The median wall-clock and CPU time of each function, run in turn so that
    any drift in the machine's speed affects them alike."""
    samples = [([], []) for _ in functions]
    for _ in range(runs):
        for function, (wall, cpu) in zip(functions, samples, strict=True):
            start, start_cpu = time.perf_counter(), time.process_time()
            function()
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    return [(statistics.median(wall), statistics.median(cpu)) for wall, cpu in samples]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each (default 15)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        setup_django(Path(folder))
        from django.template.loader import render_to_string
        from pypdf import PdfReader

        from assessments import pdf

        assessment = signed_off_record()
        template = "reports/assessment_record.html"

        def context():
            return pdf.assessment_record_context(pdf.record_attempts().get(pk=assessment.pk))

        def full_render():
            return pdf.render_pdf(template, context())

        html = render_to_string(template, context())
        document = full_render()  # also warms up: templates compiled, font files cached
        full, weasyprint_only = median_seconds(
            [full_render, lambda: pdf.html_to_pdf(html)], args.runs
        )

    pages = len(PdfReader(io.BytesIO(document)).pages)
    out = ROOT / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    (out / "record.pdf").write_bytes(document)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"pages: {pages}; {args.runs} runs each; {os.cpu_count()} CPUs, load average {load}")
    for label, (wall, cpu) in [
        ("(a) full record render", full),
        ("(b) WeasyPrint alone  ", weasyprint_only),
    ]:
        print(f"{label}: median {wall:.3f} s (CPU time {cpu:.3f} s)")
    print(f"ratio (a)/(b): {full[0] / weasyprint_only[0]:.2f}")
    print(f"goals: (a) under {GOAL_SECONDS} s, ratio under {GOAL_RATIO}")
    print(f"PDF written to {(out / 'record.pdf').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
