"""PDF documents rendered with WeasyPrint from Django templates.

The public API, also used by other reports (e.g. moderation):

``render_pdf(template_name, context, *, variant=None) -> bytes``
    Render a template to a tagged PDF. ``variant`` is ``None`` for the ordinary
    PDF (PDF/UA-1) or ``"archival"`` for PDF/A-3a. Templates extend ``reports/base_report.html``
    (A4, running header, "Page X of Y" footer, ``static/css/report.css``),
    whose context needs ``title`` and ``author`` (the PDF's metadata),
    ``generated_at`` (a datetime) and ``running_head`` (the page header text).
``html_to_pdf(html, *, variant=None) -> bytes``
    The WeasyPrint step alone, for HTML already rendered.
``record_attempts() -> QuerySet``
    Attempts read with the people and unit their record shows.
``assessment_record_context(assessment, *, candidate_view=False) -> dict``
    Everything ``reports/assessment_record.html`` shows, for an attempt read from
    ``record_attempts()``, in a fixed number of queries however many criteria, files
    or changes there are.
``attempt_evidence(assessment, *related) -> list``
    The attempt's evidence as records list it, each item with its ``file_list``.
``transcript_context(candidate, viewer) -> dict``
    The same for ``reports/transcript.html``.

Reports never touch the network: stylesheets and fonts come only from the
project's static files (see ``StaticFilesFetcher``), and the text is set in
the bundled Source Sans 3, so a record prints the same on every machine.
"""

import functools
import mimetypes
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.db.models import Prefetch
from django.template.loader import render_to_string
from django.utils import timezone
from weasyprint import HTML
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from evidence.models import EvidenceFile
from standards.models import PerformanceCriterion, RangeStatement

from . import audit
from .history import amendment_rows, history_rows, verdict_label
from .models import Assessment, Enrolment
from .services import RULES_OF_EVIDENCE, attempt_ranges, range_item_texts

# The portal's names for WeasyPrint's PDF variants. Both are tagged PDFs (a
# structure tree for screen readers, the document language and title): the
# ordinary record is PDF/UA-1; the archival one PDF/A-3a, the accessible level
# of PDF/A-3 ("a" adds the tagging PDF/A-3b lacks). WeasyPrint writes one
# variant identifier per file, so the archival file claims PDF/A, not also UA.
VARIANTS = {None: "pdf/ua-1", "archival": "pdf/a-3a"}

# Templates link their stylesheet with {% static %}, as in the browser. For
# WeasyPrint those links resolve against this origin, which cannot exist (the
# .invalid domain is reserved), and StaticFilesFetcher answers them from disk.
BASE_URL = "https://report.invalid/"


class StaticFilesFetcher(URLFetcher):
    """Serves files found by the static files finders, and nothing else.

    Any other URL, or a static path that does not exist, stops the render
    (``fail_on_errors``) instead of quietly printing in a fallback font.
    """

    def __init__(self):
        super().__init__(fail_on_errors=True)

    def fetch(self, url, headers=None):
        static_prefix = urljoin(BASE_URL, settings.STATIC_URL)
        if not url.startswith(static_prefix):
            raise ValueError(f"Reports may only load static files, not {url}")
        relative = unquote(urlsplit(url).path.removeprefix(urlsplit(static_prefix).path))
        # find() refuses paths that climb out of the static directories. In
        # production {% static %} names the hashed copies collectstatic made,
        # which only STATIC_ROOT has (its path() refuses climbing out too).
        path = finders.find(relative)
        if path is None and staticfiles_storage.exists(relative):
            path = staticfiles_storage.path(relative)
        if path is None:
            raise FileNotFoundError(f"No static file {relative!r}")
        content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        return URLFetcherResponse(
            url, Path(path).read_bytes(), headers={"Content-Type": content_type}
        )


@functools.cache
def _fetcher():
    # One shared instance: building a URLFetcher loads the system's TLS
    # certificates (about 20 ms), and fetch() above keeps no state.
    return StaticFilesFetcher()


class ReportResourceError(RuntimeError):
    """A report linked something other than an existing static file."""


# Recognised without assessment: the unit counts as achieved on the transcript.
RECOGNISED = {Enrolment.Status.RPL_GRANTED, Enrolment.Status.CREDIT_TRANSFER}


def html_to_pdf(html, *, variant=None):
    """Lay out already-rendered report HTML as an A4 PDF and return its bytes."""
    if variant not in VARIANTS:
        raise ValueError(f"Unknown PDF variant {variant!r}; choose from {list(VARIANTS)}")
    try:
        document = HTML(string=html, base_url=BASE_URL, url_fetcher=_fetcher())
        return document.write_pdf(pdf_variant=VARIANTS[variant])
    except FatalURLFetchingError as error:
        # WeasyPrint stops with a BaseException, which would escape Django's
        # error handling; an ordinary exception gives a logged 500 instead.
        raise ReportResourceError(f"{error}: {error.__cause__}") from error


def render_pdf(template_name, context, *, variant=None):
    """Render ``template_name`` with ``context`` to PDF bytes (see the module docstring)."""
    return html_to_pdf(render_to_string(template_name, context), variant=variant)


def identifier(candidate, unit):
    """The learner identifier a result is reported with: (label, value or "")."""
    if unit.is_nzqa:
        return "NSN", candidate.national_student_number
    return "USI", candidate.unique_student_identifier


def _filename(*parts, variant):
    return "-".join([*parts, *(["archival"] if variant else [])]) + ".pdf"


def record_filename(assessment, *, variant=None):
    enrolment = assessment.enrolment
    return _filename(
        enrolment.unit.display_code,
        "assessment-record",
        enrolment.candidate.username,
        f"attempt-{assessment.attempt}",
        variant=variant,
    )


def transcript_filename(candidate, *, variant=None):
    return _filename("transcript", candidate.username, variant=variant)


# --- the assessment record -------------------------------------------------------


def _coverage_rule(statement):
    if statement.coverage == RangeStatement.Coverage.ALL:
        return "every item required"
    if statement.coverage == RangeStatement.Coverage.MINIMUM:
        return f"at least {statement.minimum} required"
    return "examples only, none required"


def _coverage(statements):
    """How much of each range statement of a criterion its judgement covers:
    ``statements`` as ``services.attempt_ranges`` gives a criterion's."""
    return [
        {
            "statement": statement,
            "covered": [item for item in items if item.covered],
            "total": len(items),
            "rule": _coverage_rule(statement),
        }
        for statement, items in statements
    ]


def record_attempts():
    """Attempts with the people, unit and sign-off their record shows.

    A view narrows it to what its user may see and reads the attempt once, so the
    access check and the record do not each fetch it.
    """
    return Assessment.objects.select_related(
        "enrolment__candidate",
        "enrolment__unit",
        "enrolment__assessor",
        "sign_off__signed_by",
    )


def attempt_evidence(assessment, *related):
    """The attempt's evidence in the order records list it, with its ``related`` objects
    and its files (``file_list``): two queries, and no prefetching, which cost ~1 ms a
    page at 10,000 candidates (issue 13)."""
    evidence = assessment.evidence.order_by("occurred_on", "created_at", "pk")
    evidence = list(evidence.select_related(*related) if related else evidence)
    files = {item.pk: [] for item in evidence}
    if evidence:
        for file in EvidenceFile.objects.filter(evidence__in=evidence):
            files[file.evidence_id].append(file)
    for item in evidence:
        item.file_list = files[item.pk]
    return evidence


def assessment_record_context(assessment, *, candidate_view=False):
    """The context of ``reports/assessment_record.html`` for one attempt, read from
    ``record_attempts()``, and the rest in a fixed number of plain queries.

    ``candidate_view`` gives the record as its candidate may see it, as on
    the assessment page: verdicts and comments only once the result is signed
    off, and without the staff-only change history.
    """
    enrolment = assessment.enrolment
    unit, candidate = enrolment.unit, enrolment.candidate
    signed = getattr(assessment, "sign_off", None)
    show_judgements = not candidate_view or signed is not None
    # Ordered within the one attempt and unit: the models' default orderings would join
    # the attempt, enrolment, statement and unit only to sort by them.
    criteria = (
        PerformanceCriterion.objects.filter(outcome__unit=unit)
        .select_related("outcome")
        .order_by("outcome__sort_key", "sort_key")
    )
    judgements = {j.criterion_id: j for j in assessment.judgements.order_by()}
    ranges = attempt_ranges(assessment)
    outcomes = []
    for criterion in criteria:
        if not outcomes or outcomes[-1]["outcome"].pk != criterion.outcome_id:
            outcomes.append({"outcome": criterion.outcome, "rows": []})
        judgement = judgements.get(criterion.pk) if show_judgements else None
        outcomes[-1]["rows"].append(
            {
                "criterion": criterion,
                "judgement": judgement,
                "verdict": verdict_label(judgement.verdict if judgement else ""),
                "coverage": _coverage(ranges.get(criterion.pk, [])) if judgement else [],
                "rules": [rule for rule in RULES_OF_EVIDENCE if getattr(judgement, rule, False)],
            }
        )

    entries = list(assessment.audit.select_related("actor", "judgement__criterion"))
    amendments = amendment_rows(assessment, entries, unit)
    identifier_label, identifier_value = identifier(candidate, unit)
    return {
        "title": (
            f"Assessment record: {unit.display_code} {unit.title} – {candidate}, "
            f"attempt {assessment.attempt}"
        ),
        "author": str(enrolment.assessor),
        "generated_at": timezone.now(),
        "running_head": f"{unit.display_code} · {candidate}",
        "assessment": assessment,
        "enrolment": enrolment,
        "unit": unit,
        "candidate": candidate,
        "identifier_label": identifier_label,
        "identifier": identifier_value,
        "sign_off": signed,
        "signed_result": unit.result_label(signed.result) if signed else "",
        "outcomes": outcomes,
        "show_judgements": show_judgements,
        "evidence": attempt_evidence(assessment),
        "amendments": amendments,
        "staff_view": not candidate_view,
        # A judgement covers only items of its criterion's range, so the unit's items read
        # above are all that the history can name.
        "history": history_rows(entries, unit, range_item_texts(ranges))
        if not candidate_view
        else [],
        "chain": audit.chain_summary(entries),
    }


# --- the candidate transcript -----------------------------------------------------


def transcript_context(candidate, viewer):
    """The context of ``reports/transcript.html``: every unit with its current result.

    The current result is the latest attempt's: signed off (with its date, and
    the latest amendment's if corrected) or, until then, in progress. Only the
    units ``viewer`` may see are listed: an assessor sees those they assess.
    """
    visible = Enrolment.objects.visible_to(viewer)
    enrolments = (
        visible.filter(candidate=candidate)
        .select_related("unit", "assessor")
        .prefetch_related(
            Prefetch(
                "assessments",
                # An attempt an amendment closed is not the unit's current result.
                queryset=Assessment.objects.exclude(status=Assessment.Status.CLOSED)
                .select_related("sign_off")
                .prefetch_related("amendments"),
            )
        )
        .order_by("unit__framework", "unit__code")
    )
    rows = []
    for enrolment in enrolments:
        attempts = list(enrolment.assessments.all())  # ordered by attempt
        latest = attempts[-1] if attempts else None
        signed = getattr(latest, "sign_off", None)
        amendments = list(latest.amendments.all()) if signed else []
        rows.append(
            {
                "enrolment": enrolment,
                "unit": enrolment.unit,
                "attempt": latest.attempt if latest else None,
                "result": enrolment.unit.result_label(latest.result) if signed else "",
                "achieved": (signed is not None and latest.result == Assessment.Result.ACHIEVED)
                or enrolment.status in RECOGNISED,
                "signed_at": signed.signed_at if signed else None,
                "amended_at": amendments[-1].amended_at if amendments else None,
                # Withdrawn, RPL or credit transfer: decided other than by assessment.
                "decision": ""
                if enrolment.status == Enrolment.Status.ACTIVE
                else enrolment.get_status_display(),
            }
        )
    return {
        "title": f"Transcript: {candidate}",
        "author": "Assessment Portal",
        "generated_at": timezone.now(),
        "running_head": f"Transcript · {candidate}",
        "candidate": candidate,
        "rows": rows,
        "partial": not viewer.is_administrator and viewer.pk != candidate.pk,
        "nzqa_credits": sum(
            row["unit"].credits or 0 for row in rows if row["achieved"] and row["unit"].is_nzqa
        ),
    }
