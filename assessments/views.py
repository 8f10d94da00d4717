import logging

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Prefetch, Q, Subquery
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from assessment_portal import people
from assessment_portal.access import administrator_required, get_visible_or_404
from assessment_portal.queries import NAME_FIELDS, UNIT_CODE_FIELDS, built_once, count_of, fields_of
from evidence.review import (
    by_criterion,
    confirmed_range_items,
    mappings_in_attempt,
    read_confirmed_claims,
)
from standards.models import Unit

from . import audit, cohorts, dashboards, enrolment_status, history, services
from .forms import (
    RULES,
    AmendmentForm,
    ApplyToUnjudgedForm,
    AssessorForm,
    CohortEnrolmentForm,
    CohortForm,
    EnrolmentForm,
    EnrolmentStatusForm,
    JudgementForm,
    SignOffForm,
)
from .models import Assessment, Cohort, CohortEnrolment, Enrolment, Judgement

security_log = logging.getLogger("assessment_portal.security")
User = get_user_model()


def _filter_by_unit_and_cohort(queryset, request, via=""):
    """Apply the ?unit= (code) and ?cohort= (part of its name) filters; ``via`` is the path
    to the enrolment. A name to search, not a list of every cohort: there are hundreds."""
    unit_code = request.GET.get("unit", "")
    if unit_code:
        queryset = queryset.filter(**{f"{via}unit__code": unit_code})
    cohort_name = request.GET.get("cohort", "").strip()
    if cohort_name:
        queryset = queryset.filter(**{f"{via}cohort__name__icontains": cohort_name})
    return queryset, unit_code, cohort_name


def enrolment_list(request):
    enrolments = Enrolment.objects.visible_to(request.user).select_related(
        "candidate", "unit", "assessor", "cohort"
    )
    enrolments, unit_code, cohort_name = _filter_by_unit_and_cohort(enrolments, request)
    overdue = request.GET.get("overdue") == "1"
    if overdue:
        enrolments = enrolments.overdue(timezone.localdate())
    page = Paginator(enrolments, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "assessments/enrolment_list.html",
        {
            "page": page,
            "units": Unit.objects.all(),
            "unit_code": unit_code,
            "cohort_name": cohort_name,
            "overdue": overdue,
        },
    )


def enrolment_detail(request, pk):
    enrolment = get_visible_or_404(
        Enrolment.objects.select_related("candidate", "unit", "assessor", "cohort"),
        request.user,
        pk=pk,
    )
    attempts = list(
        enrolment.assessments.select_related("sign_off").annotate(
            amendment_count=Count("amendments")
        )
    )
    return render(
        request,
        "assessments/enrolment_detail.html",
        {
            "enrolment": enrolment,
            "attempts": attempts,
            "current": attempts[-1] if attempts else None,
            "status_changes": enrolment.status_changes.select_related("changed_by"),
        },
    )


@administrator_required
def enrolment_status_change(request, pk):
    """Record a withdrawal, RPL or credit-transfer decision, or reinstate the enrolment."""
    enrolment = get_object_or_404(Enrolment.objects.select_related("unit", "candidate"), pk=pk)
    form = EnrolmentStatusForm(request.POST or None, enrolment=enrolment)
    if request.method == "POST" and form.is_valid():
        try:
            change = enrolment_status.change_status(
                enrolment=enrolment, by=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Recorded: {change.get_new_status_display()}.")
            return redirect(enrolment)
    return render(
        request,
        "assessments/form_page.html",
        {"form": form, "title": f"Withdrawal, RPL or credit transfer: {enrolment}"},
    )


@administrator_required
def enrolment_create(request):
    candidates = User.objects.filter(role=User.Role.CANDIDATE, is_active=True)
    chosen = (request.POST or request.GET).get("candidate", "")
    candidate = candidates.filter(pk=chosen).first() if chosen.isdigit() else None
    form = EnrolmentForm(request.POST or None, initial=request.GET.dict(), candidate=candidate)
    if request.method == "POST" and form.is_valid():
        try:
            enrolment = services.enrol(by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Enrolled {enrolment}.")
            return redirect(enrolment)
    q = request.GET.get("q", "").strip()
    found = (
        people.matching(candidates, q).order_by("last_name", "first_name", "pk")[:20] if q else []
    )
    return render(
        request,
        "assessments/enrolment_form.html",
        {"form": form, "candidate": candidate, "q": q, "found": found},
    )


@administrator_required
def enrolment_reassign(request, pk):
    enrolment = get_visible_or_404(Enrolment.objects.all(), request.user, pk=pk)
    form = AssessorForm(request.POST or None, initial={"assessor": enrolment.assessor_id})
    if request.method == "POST" and form.is_valid():
        try:
            services.reassign_assessor(
                enrolment=enrolment, assessor=form.cleaned_data["assessor"], by=request.user
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"{enrolment.assessor} now assesses {enrolment}.")
            return redirect(enrolment)
    return render(
        request,
        "assessments/form_page.html",
        {"form": form, "title": f"Reassign the assessor of {enrolment}"},
    )


@built_once
def _candidate_count():
    members = Cohort.candidates.through.objects.filter(cohort=OuterRef("pk"))
    return {"candidate_count": count_of(members)}


@administrator_required
def cohort_list(request):
    cohorts = Cohort.objects.with_progress().annotate(**_candidate_count())
    q = request.GET.get("q", "").strip()
    if q:
        cohorts = cohorts.filter(name__icontains=q)
    page = Paginator(cohorts, 50).get_page(request.GET.get("page"))
    return render(request, "assessments/cohort_list.html", {"page": page, "q": q})


# Two lists on one page (members, enrolments), each with its own pages.
COHORT_ROWS_PER_PAGE = 25


@administrator_required
def cohort_detail(request, pk):
    cohort = get_object_or_404(Cohort, pk=pk)
    form = CohortEnrolmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = cohorts.request_enrolment(cohort=cohort, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            unit = job.unit.display_code
            if job.status == CohortEnrolment.Status.DONE:
                messages.success(request, f"Enrolled {job.enrolled} candidates in {unit}.")
            else:
                messages.info(
                    request, f"Enrolling the cohort in {unit}; its progress is shown below."
                )
            return redirect(cohort)
    q = request.GET.get("q", "").strip()
    # The membership rows, so that they are counted without joining the users' table
    # (~1 ms for 500 candidates at 10k).
    members = (
        Cohort.candidates.through.objects.filter(cohort=cohort)
        .select_related("user")
        .only(*fields_of("user", (*NAME_FIELDS, "email")))
        .order_by("user__last_name", "user__first_name", "user_id")
    )
    found = []
    if q:
        # Up to 20 candidates not yet in the cohort, to add.
        found = people.matching(
            User.objects.filter(role=User.Role.CANDIDATE, is_active=True).exclude(cohorts=cohort),
            q,
        ).order_by("last_name", "first_name", "pk")[:20]
    return render(
        request,
        "assessments/cohort_detail.html",
        {
            "cohort": cohort,
            "members": Paginator(members, COHORT_ROWS_PER_PAGE).get_page(request.GET.get("page")),
            "q": q,
            "found": found,
            "enrolments": Paginator(
                cohort.enrolments.select_related("candidate", "unit", "assessor")
                .only(
                    *fields_of("candidate", NAME_FIELDS),
                    *fields_of("assessor", NAME_FIELDS),
                    *fields_of("unit", UNIT_CODE_FIELDS),
                )
                .order_by("candidate__last_name", "candidate__first_name", "unit__code", "pk"),
                COHORT_ROWS_PER_PAGE,
            ).get_page(request.GET.get("enrolments")),
            "requests": cohort.enrolment_requests.select_related("unit", "requested_by")[:5],
            "form": form,
        },
    )


@require_POST
@administrator_required
def cohort_members(request, pk):
    """Add or remove one candidate; the cohort page lists and finds them a page at a time."""
    cohort = get_object_or_404(Cohort, pk=pk)
    candidate = get_object_or_404(
        User, pk=request.POST.get("candidate", ""), role=User.Role.CANDIDATE
    )
    if request.POST.get("action") == "remove":
        cohort.candidates.remove(candidate)
        messages.success(request, f"Removed {candidate} from {cohort}. Their enrolments are kept.")
    else:
        cohort.candidates.add(candidate)
        messages.success(request, f"Added {candidate} to {cohort}.")
    return redirect(cohort)


@require_GET
@administrator_required
def cohort_enrolment_status(request, pk):
    job = get_object_or_404(CohortEnrolment.objects.select_related("unit"), pk=pk)
    return render(request, "assessments/_cohort_enrolment_status.html", {"job": job})


@administrator_required
def cohort_edit(request, pk=None):
    cohort = get_object_or_404(Cohort, pk=pk) if pk else None
    form = CohortForm(request.POST or None, instance=cohort)
    if request.method == "POST" and form.is_valid():
        cohort = form.save()
        messages.success(request, f"Saved cohort {cohort}.")
        return redirect(cohort)
    title = f"Edit cohort {cohort}" if cohort else "New cohort"
    return render(request, "assessments/form_page.html", {"form": form, "title": title})


# --- assessing -----------------------------------------------------------------


def queue(request):
    """Submissions awaiting judgement: an assessor's own, or everyone's for administrators."""
    if request.user.is_candidate:
        raise Http404
    waiting = Assessment.objects.visible_to(request.user).filter(status=Assessment.Status.SUBMITTED)
    units = dashboards.units_with_waiting(waiting)
    counts = [unit for unit in units if unit.total]
    total = sum(unit.total for unit in counts)
    waiting, unit_code, cohort_name = _filter_by_unit_and_cohort(
        waiting, request, via="enrolment__"
    )
    # Assessors keep this page open: its rows load only the columns they print, and the
    # assessor only for administrators, who see everyone's submissions. Units are those
    # read for the counts (dashboards.take_units), and cohorts come by prefetch.
    shown = ["enrolment__candidate"]
    if request.user.is_administrator:
        shown.append("enrolment__assessor")
    waiting = (
        waiting.select_related(*shown)
        .prefetch_related(Prefetch("enrolment__cohort", queryset=Cohort.objects.only("name")))
        .only(
            "attempt",
            "submitted_at",
            "enrolment__unit",
            "enrolment__cohort",
            *(name for person in shown for name in fields_of(person, NAME_FIELDS)),
        )
        .order_by("submitted_at")
    )
    paginator = Paginator(waiting, 50)
    if not cohort_name:
        # The counts per unit already say how many rows there are: no COUNT query.
        paginator.count = sum(unit.total for unit in counts if unit_code in ("", unit.code))
    page = paginator.get_page(request.GET.get("page"))
    dashboards.take_units((attempt.enrolment for attempt in page), units)
    return render(
        request,
        "assessments/queue.html",
        {
            "page": page,
            "counts": counts,
            "total": total,
            "units": units,
            "unit_code": unit_code,
            "cohort_name": cohort_name,
        },
    )


def _find(judgements, pk):
    for judgement in judgements:
        if judgement.pk == pk:
            return judgement
    raise Http404


# The per-criterion form prints the choices' values and labels and its prefix ~100 times
# per criterion. They are ours, so marked safe once rather than escaped each time: that was
# a tenth of the marking page's rendering (issue 13).
METHODS = [
    (mark_safe(value), mark_safe(label))  # noqa: S308 - our own choices
    for value, label in Judgement.Method.choices
]
SAFE_RULES = [(mark_safe(rule), mark_safe(rule.capitalize())) for rule in RULES]  # noqa: S308


def _row(judgement, statements, mappings, form=None, pre_tick=True):
    """What the per-criterion template shows: the saved judgement, or what was typed.

    With ``pre_tick``, an untouched criterion starts with the range items of the
    mappings the assessor confirmed ticked (evidence-first judging).
    """
    data = form.data if form is not None else None
    prefix = f"j{judgement.pk}-"
    if data is not None:
        checked_items = {v for v in data.getlist(prefix + "range_items") if v.isdigit()}
        values = {
            "verdict": data.get(prefix + "verdict", ""),
            "methods": set(data.getlist(prefix + "methods")),
            "items": {int(v) for v in checked_items},
            "rules": {rule for rule in RULES if data.get(prefix + rule)},
            "comment": data.get(prefix + "comment", ""),
            # The version the assessor read: a stale save stays refused until they reload.
            "version": data.get(prefix + "version", ""),
        }
    else:
        covered = {item.pk for _, items in statements for item in items if item.covered}
        if pre_tick and not judgement.verdict and not covered:
            covered = confirmed_range_items(mappings)
        values = {
            "verdict": judgement.verdict,
            "methods": set(judgement.methods),
            "items": covered,
            "rules": {rule for rule in RULES if getattr(judgement, rule)},
            "comment": judgement.comment,
            "version": judgement.version,
        }
    ranges = [
        {
            "statement": statement,
            "rule": services.coverage_rule(statement, items),
            "items": [(item, item.pk in values["items"]) for item in items],
            "checkboxes": [
                (
                    f"{prefix}range_items",
                    f"{prefix}r-{item.pk}",
                    item.pk,
                    item.text,
                    item.pk in values["items"],
                )
                for item in items
            ],
            "covered": sum(1 for item in items if item.covered),
            "required": services.required_count(statement, items),
        }
        for statement, items in statements
    ]
    return {
        "judgement": judgement,
        "criterion": judgement.criterion,
        "prefix": mark_safe(prefix[:-1]),  # noqa: S308 - "j" and an id
        "ranges": ranges,
        "mappings": mappings,
        "values": values,
        # Checkboxes as assessment_portal/templatetags/choices.py draws them:
        # (name, id, value, label, checked).
        "methods": [
            (f"{prefix}methods", f"{prefix}m-{value}", value, label, value in values["methods"])
            for value, label in METHODS
        ],
        "rules": [
            (f"{prefix}{rule}", f"{prefix}{rule}", None, label, rule in values["rules"])
            for rule, label in SAFE_RULES
        ],
        "errors": form.non_field_errors() if form is not None else [],
        "open": form is not None,
        "lazy": False,
    }


def _assessment_for_page(request, pk):
    assessment = get_visible_or_404(
        Assessment.objects.select_related(
            "enrolment__candidate",
            "enrolment__unit",
            "enrolment__assessor",
            "sign_off__signed_by",
        ),
        request.user,
        pk=pk,
    )
    judgements = assessment.judgements.select_related("criterion__outcome").order_by(
        "criterion__outcome__sort_key", "criterion__sort_key"
    )
    return assessment, list(judgements)


def assessment_detail(request, pk):
    assessment, judgements = _assessment_for_page(request, pk)
    return _render_assessment(request, assessment, judgements)


def _marking(user, assessment):
    return services.can_judge(user, assessment) and assessment.status == Assessment.Status.SUBMITTED


def _render_assessment(request, assessment, judgements, bound_form=None, sign_off_form=None):
    marking = _marking(request.user, assessment)
    # Candidates read verdicts and comments once the result is signed off, not while
    # the assessor is still deciding.
    show_judgements = not request.user.is_candidate or assessment.status == "signed_off"
    # Candidates have their own evidence pages; the panel is for those who judge or oversee.
    with_evidence = show_judgements and not request.user.is_candidate
    mappings = {}
    if with_evidence:
        criteria = [j.criterion_id for j in judgements]
        mappings = by_criterion(mappings_in_attempt(assessment, criteria=criteria, claims=False))
    if marking:
        # An unjudged criterion starts with the items its confirmed mappings claim.
        read_confirmed_claims([m for ms in mappings.values() for m in ms])
    ranges = services.attempt_ranges(assessment)
    rows = [
        _row(
            j,
            ranges.get(j.criterion_id, []),
            mappings.get(j.criterion_id, []),
            bound_form if bound_form is not None and bound_form.prefix == f"j{j.pk}" else None,
            pre_tick=marking,
        )
        for j in judgements
    ]
    # Every criterion folds to one line; the one to judge next is open (or the one refused).
    # Read-only, the "not yet" criteria are open: their feedback is what matters.
    # ?criterion= opens one (the folded criteria's link, without JavaScript).
    asked = request.GET.get("criterion", "")
    for row in rows:
        if str(row["judgement"].pk) == asked:
            row["open"] = True
    if not marking:
        for row in rows:
            row["open"] |= row["judgement"].verdict == Judgement.Verdict.NOT_YET
    elif not any(row["open"] for row in rows):
        first_unjudged = next((row for row in rows if not row["judgement"].verdict), None)
        if first_unjudged:
            first_unjudged["open"] = True
    # A folded criterion's evidence and form are hidden until it is opened: for those who
    # judge or oversee, htmx loads them then (the criterion view, GET). Rendering them all
    # was ~1.5 ms of the marking page at 10k candidates (issue 13).
    for row in rows:
        row["lazy"] = with_evidence and not row["open"]
    progress = services.Progress(
        judged=sum(1 for j in judgements if j.verdict),
        total=len(judgements),
        satisfactory=sum(1 for j in judgements if j.verdict == Judgement.Verdict.SATISFACTORY),
    )
    evidence = {m.evidence_id: m.evidence for ms in mappings.values() for m in ms}
    # The enrolment's attempts, for links between them: ordered by number alone, as the
    # default order (by enrolment) would join the enrolment for each.
    attempts = list(assessment.enrolment.assessments.order_by("attempt").only("attempt", "status"))
    return render(
        request,
        "assessments/assessment_detail.html",
        {
            "assessment": assessment,
            "unit": assessment.enrolment.unit,
            "rows": rows if show_judgements else [],
            "not_yet": [row for row in rows if row["judgement"].verdict == "not_yet"]
            if request.user.is_candidate and show_judgements
            else [],
            "evidence_items": sorted(evidence.values(), key=lambda e: e.title.lower()),
            "marking": marking,
            "progress": progress,
            "proposed_result": progress.proposed_result if marking else None,
            "unjudged": progress.total - progress.judged,
            "sign_off_form": (sign_off_form or SignOffForm()) if marking else None,
            "apply_form": ApplyToUnjudgedForm() if marking else None,
            "assessor_declaration": services.ASSESSOR_DECLARATION,
            "can_amend": assessment.status == "signed_off"
            and services.can_amend(request.user, assessment),
            "attempts": attempts,
            **_history_context(request, assessment, attempts, judgements, ranges, marking),
            "next_attempt": next(
                (a for a in attempts if a.attempt == assessment.attempt + 1), None
            ),
            # What a criterion's own save sets (judge): named here, as a template's lookup
            # of a missing name costs an exception, ~1 ms a page over 12 criteria.
            "saved": False,
            "oob": False,
        },
    )


# The attempt page shows its latest changes; the whole history has a page of its own, so
# that an attempt saved many times costs its marking page no more (issue 13).
LATEST_CHANGES = 5
CHANGES_PER_PAGE = 50


def _latest_entries(assessment, *related):
    """In one query: the attempt's latest changes, and any amendment or closing, however old."""
    newest = assessment.audit.order_by("-sequence").values("sequence")[:1]
    return list(
        assessment.audit.filter(
            Q(sequence__gt=Subquery(newest) - LATEST_CHANGES)
            | Q(action__in=history.AMENDING_AND_CLOSING)
        )
        .select_related("actor", *related)
        .order_by("sequence")
    )


def _history_context(request, assessment, attempts, judgements, ranges, marking):
    """The latest changes in words, amendments and why the attempt was closed
    (assessments/history.py).

    The page has read the attempt's ``judgements`` (with their criteria) and ``ranges``
    (as ``services.attempt_ranges`` gives them, the unit's range items): not read again.

    While it is being marked (``marking``), an attempt has neither amendment nor closing,
    and every save adds to its history: the page loads the latest changes when they come
    into view (``assessment_latest_changes``), current then, and reads none of them
    itself (~2.7 ms of the marking page at 10,000 candidates, issue 13).
    """
    if marking:
        return {"history": None, "chain": None, "amendments": [], "closed_by": None}
    unit = assessment.enrolment.unit
    entries = _latest_entries(assessment)
    latest = entries[-LATEST_CHANGES:]
    by_pk = {j.pk: j for j in judgements}
    for entry in latest:
        if entry.judgement_id:
            entry.judgement = by_pk[entry.judgement_id]
    return {
        "history": []
        if request.user.is_candidate
        else history.history_rows(latest, unit, services.range_item_texts(ranges)),
        "chain": audit.chain_summary(latest),
        "amendments": history.amendment_rows(assessment, entries, unit),
        "closed_by": history.closed_by(entries, attempts, unit)
        if assessment.status == Assessment.Status.CLOSED
        else None,
    }


def _history_attempt_or_404(request, pk):
    """The attempt whose history staff may read; a candidate reads the decisions on the
    attempt page, so the history pages are 404 to them."""
    if request.user.is_candidate:
        raise Http404
    return get_visible_or_404(
        Assessment.objects.select_related("enrolment__candidate", "enrolment__unit"),
        request.user,
        pk=pk,
    )


@require_GET
def assessment_latest_changes(request, pk):
    """The attempt page's History section, as htmx loads it while the attempt is marked."""
    assessment = _history_attempt_or_404(request, pk)
    latest = _latest_entries(assessment, "judgement__criterion")[-LATEST_CHANGES:]
    return render(
        request,
        "assessments/_history.html",
        {
            "assessment": assessment,
            "history": history.history_rows(latest, assessment.enrolment.unit),
            "chain": audit.chain_summary(latest),
        },
    )


@require_GET
def assessment_history(request, pk):
    """Every change to the attempt in words, oldest first, a page at a time (staff)."""
    assessment = _history_attempt_or_404(request, pk)
    unit = assessment.enrolment.unit
    entries = assessment.audit.select_related("actor", "judgement__criterion").order_by("sequence")
    page = Paginator(entries, CHANGES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "assessments/history.html",
        {
            "assessment": assessment,
            "unit": unit,
            "page": page,
            "history": history.history_rows(page, unit),
            "chain": audit.chain_summary(
                list(assessment.audit.order_by("-sequence").only("sequence", "hash")[:1])
            ),
        },
    )


@require_http_methods(["GET", "POST"])
def judge(request, pk, judgement_pk):
    """Save one criterion. htmx swaps just that criterion (and the progress and sign-off
    panels, out of band); without JavaScript, the page reloads at the criterion.

    GET: the criterion unfolded, with its evidence and (while it is being marked) its
    form, as htmx loads it when a folded criterion is opened on the attempt page.
    """
    if request.method == "GET":
        # A candidate's attempt page shows every criterion whole: nothing to load.
        if request.user.is_candidate:
            raise Http404
        assessment, judgements = _assessment_for_page(request, pk)
        return _render_row(request, assessment, _find(judgements, judgement_pk))
    form = JudgementForm(request.POST, judgement_pk=judgement_pk)
    judgement = Judgement(pk=judgement_pk)
    saved = None
    if form.is_valid():
        data = {**form.cleaned_data, "range_items": form.cleaned_data["range_items"] or []}
        try:
            saved = services.record_judgement(
                judgement=judgement,
                by=request.user,
                expected_version=form.cleaned_data["version"],
                data=data,
                assessment_pk=pk,
            )
        except Judgement.DoesNotExist:
            raise Http404 from None
        except PermissionDenied:
            security_log.warning("access denied: user=%s path=%s", request.user.pk, request.path)
            raise Http404 from None
        except ValidationError as error:
            form.add_error(None, error)
    else:
        form.add_error(None, "The form was incomplete; reload the page and judge again.")
    if saved is None:
        # The whole page again, with what the assessor typed still in the form (htmx
        # swaps it in whole too: the errors may concern another reader's change).
        assessment, judgements = _assessment_for_page(request, pk)
        if not services.can_judge(request.user, assessment):
            raise Http404
        if request.headers.get("HX-Request"):
            return _render_row(request, assessment, _find(judgements, judgement_pk), form)
        return _render_assessment(request, assessment, judgements, bound_form=form)
    number = saved.criterion.number
    if not request.headers.get("HX-Request"):
        messages.success(request, f"Saved {number}.")
        return redirect(f"{saved.assessment.get_absolute_url()}#criterion-{number}")
    # The criterion's mapped evidence is not read: the page keeps the list it shows.
    return render(
        request,
        "assessments/_judgement.html",
        {
            "row": _row(saved, saved.range, [], pre_tick=False),
            "assessment": saved.assessment,
            "unit": saved.assessment.enrolment.unit,
            "marking": True,
            "saved": True,
            "progress": saved.progress,
            "proposed_result": saved.progress.proposed_result,
            "sign_off_form": SignOffForm(),
            "assessor_declaration": services.ASSESSOR_DECLARATION,
            "oob": True,
        },
    )


def _render_row(request, assessment, judgement, form=None):
    """One criterion unfolded, as htmx swaps it: opened, or with the refused ``form``."""
    marking = form is not None or _marking(request.user, assessment)
    statements = services.criterion_range(judgement.criterion, judgement=judgement)
    mappings = mappings_in_attempt(assessment, criteria=[judgement.criterion_id])
    row = _row(judgement, statements, list(mappings), form, pre_tick=marking)
    row["open"] = True
    return render(
        request,
        "assessments/_judgement.html",
        {
            "row": row,
            "assessment": assessment,
            "unit": assessment.enrolment.unit,
            "marking": marking,
            "saved": False,
            "oob": False,
        },
    )


@require_POST
def apply_to_unjudged(request, pk):
    """One action for every unjudged criterion: these methods and rules of evidence."""
    assessment = get_visible_or_404(
        Assessment.objects.select_related("enrolment"), request.user, pk=pk
    )
    if not services.can_judge(request.user, assessment):
        raise Http404
    form = ApplyToUnjudgedForm(request.POST)
    if form.is_valid():
        try:
            count = services.apply_to_unjudged(
                assessment=assessment,
                by=request.user,
                methods=form.cleaned_data["methods"],
                rules=form.cleaned_data["rules"],
            )
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
        else:
            messages.success(
                request,
                f"Applied to {count} unjudged criteria; each still needs its verdict.",
            )
    else:
        messages.error(request, "Choose methods and rules of evidence from the lists.")
    return redirect(f"{assessment.get_absolute_url()}#criteria-h")


@require_POST
def sign_off(request, pk):
    assessment = get_visible_or_404(Assessment.objects.all(), request.user, pk=pk)
    if not services.can_judge(request.user, assessment):
        raise Http404
    form = SignOffForm(request.POST)
    form.is_valid()
    try:
        assessment, next_attempt = services.sign_off(
            assessment=assessment,
            by=request.user,
            feedback=form.cleaned_data.get("feedback", ""),
            declaration_accepted=form.cleaned_data.get("declaration", False),
        )
    except ValidationError as error:
        # The page again with the refusal beside the form and the feedback as typed:
        # a redirect would lose what the assessor wrote.
        form.add_error(None, error)
        assessment, judgements = _assessment_for_page(request, pk)
        return _render_assessment(request, assessment, judgements, sign_off_form=form)
    messages.success(request, f"Signed off: {assessment.result_label}.")
    if next_attempt:
        messages.info(request, f"Attempt {next_attempt.attempt} is open for resubmission.")
    return redirect(assessment)


def amend(request, pk):
    assessment = get_visible_or_404(
        Assessment.objects.select_related("enrolment__unit"), request.user, pk=pk
    )
    if not (assessment.status == "signed_off" and services.can_amend(request.user, assessment)):
        raise Http404
    form = AmendmentForm(request.POST or None, unit=assessment.enrolment.unit)
    if request.method == "POST" and form.is_valid():
        try:
            outcome = services.amend_result(
                assessment=assessment, by=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, outcome.message)
            for sample in assessment.moderation_samples.filter(
                moderator=request.user, review__isnull=True
            ).select_related("round"):
                messages.warning(
                    request,
                    f"You moderate this decision in the round “{sample.round.name}”; having "
                    "amended it you can no longer review it. Give the sample to another "
                    "moderator (Moderation, the round, “change” beside the moderator).",
                )
            return redirect(assessment)
    return render(
        request,
        "assessments/form_page.html",
        {"form": form, "title": f"Amend the result of {assessment}"},
    )
