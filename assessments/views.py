from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import OuterRef, Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from assessment_portal import people
from assessment_portal.access import administrator_required, get_visible_or_404
from assessment_portal.queries import count_of
from standards.models import Unit

from . import cohorts, dashboards, services
from .forms import (
    AmendmentForm,
    AssessorForm,
    CohortEnrolmentForm,
    CohortForm,
    EnrolmentForm,
    JudgementForm,
    SignOffForm,
)
from .models import Assessment, Cohort, CohortEnrolment, Enrolment

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
    page = Paginator(enrolments, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "assessments/enrolment_list.html",
        {
            "page": page,
            "units": Unit.objects.all(),
            "unit_code": unit_code,
            "cohort_name": cohort_name,
        },
    )


def enrolment_detail(request, pk):
    enrolment = get_visible_or_404(
        Enrolment.objects.select_related("candidate", "unit", "assessor", "cohort"),
        request.user,
        pk=pk,
    )
    attempts = list(enrolment.assessments.select_related("sign_off"))
    return render(
        request,
        "assessments/enrolment_detail.html",
        {
            "enrolment": enrolment,
            "attempts": attempts,
            "current": attempts[-1] if attempts else None,
        },
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


@administrator_required
def cohort_list(request):
    cohorts = Cohort.objects.annotate(
        candidate_count=count_of(Cohort.candidates.through.objects.filter(cohort=OuterRef("pk"))),
        enrolment_count=count_of(Enrolment.objects.filter(cohort=OuterRef("pk"))),
    )
    q = request.GET.get("q", "").strip()
    if q:
        cohorts = cohorts.filter(name__icontains=q)
    page = Paginator(cohorts, 50).get_page(request.GET.get("page"))
    return render(request, "assessments/cohort_list.html", {"page": page, "q": q})


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
    members = cohort.candidates.order_by("last_name", "first_name", "pk")
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
            "members": Paginator(members, 50).get_page(request.GET.get("page")),
            "q": q,
            "found": found,
            "enrolments": Paginator(
                cohort.enrolments.select_related("candidate", "unit", "assessor").order_by(
                    "candidate__last_name", "candidate__first_name", "unit__code", "pk"
                ),
                50,
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
    counts = dashboards.waiting_by_unit(waiting)
    waiting, unit_code, cohort_name = _filter_by_unit_and_cohort(
        waiting, request, via="enrolment__"
    )
    waiting = waiting.select_related(
        "enrolment__candidate", "enrolment__unit", "enrolment__assessor", "enrolment__cohort"
    ).order_by("submitted_at")
    return render(
        request,
        "assessments/queue.html",
        {
            "page": Paginator(waiting, 50).get_page(request.GET.get("page")),
            "counts": counts,
            "total": sum(unit.total for unit in counts),
            "units": Unit.objects.all(),
            "unit_code": unit_code,
            "cohort_name": cohort_name,
        },
    )


def _assessment_for_page(request, pk):
    from evidence.models import EvidenceMapping

    assessment = get_visible_or_404(
        Assessment.objects.select_related(
            "enrolment__candidate", "enrolment__unit", "enrolment__assessor", "sign_off__signed_by"
        ),
        request.user,
        pk=pk,
    )
    submitted = assessment.evidence.all()
    judgements = (
        assessment.judgements.select_related("criterion__outcome", "updated_by")
        .prefetch_related(
            "range_items",
            "criterion__range_statements__items",
            Prefetch(
                "criterion__evidence_mappings",
                queryset=EvidenceMapping.objects.filter(evidence__in=submitted)
                .select_related("evidence")
                .prefetch_related("evidence__files"),
                to_attr="submitted_mappings",
            ),
        )
        .order_by("criterion__outcome__sort_key", "criterion__sort_key")
    )
    return assessment, list(judgements)


def _find(judgements, pk):
    for judgement in judgements:
        if judgement.pk == pk:
            return judgement
    raise Http404


def _progress(judgements):
    judged = sum(1 for j in judgements if j.verdict)
    return {"judged": judged, "total": len(judgements)}


def assessment_detail(request, pk):
    assessment, judgements = _assessment_for_page(request, pk)
    return _render_assessment(request, assessment, judgements)


def _render_assessment(request, assessment, judgements, bound_form=None):
    marking = (
        services.can_judge(request.user, assessment)
        and assessment.status == Assessment.Status.SUBMITTED
    )
    # Candidates read verdicts and comments once the result is signed off, not while
    # the assessor is still deciding.
    show_judgements = not request.user.is_candidate or assessment.status == "signed_off"
    rows = [
        {
            "judgement": j,
            "form": (
                bound_form
                if bound_form and bound_form.prefix == f"j{j.pk}"
                else JudgementForm(judgement=j)
                if marking
                else None
            ),
        }
        for j in judgements
    ]
    return render(
        request,
        "assessments/assessment_detail.html",
        {
            "assessment": assessment,
            "unit": assessment.enrolment.unit,
            "rows": rows if show_judgements else [],
            "marking": marking,
            "progress": _progress(judgements),
            "proposed_result": services.proposed_result(assessment) if marking else None,
            "sign_off_form": SignOffForm() if marking else None,
            "assessor_declaration": services.ASSESSOR_DECLARATION,
            "can_amend": assessment.status == "signed_off"
            and services.can_amend(request.user, assessment),
            "history": assessment.audit.select_related("actor", "judgement__criterion"),
            "amendments": assessment.amendments.select_related("amended_by"),
            "attempts": assessment.enrolment.assessments.all(),
        },
    )


@require_POST
def judge(request, pk, judgement_pk):
    """Save one criterion. htmx swaps just that criterion; without JavaScript, the page reloads."""
    assessment, judgements = _assessment_for_page(request, pk)
    if not services.can_judge(request.user, assessment):
        raise Http404
    judgement = _find(judgements, judgement_pk)
    form = JudgementForm(request.POST, judgement=judgement)
    saved = False
    if form.is_valid():
        data = {**form.cleaned_data, "range_items": form.cleaned_data.get("range_items", [])}
        try:
            services.record_judgement(
                judgement=judgement,
                by=request.user,
                expected_version=form.cleaned_data["version"],
                data=data,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            saved = True
    if not request.headers.get("HX-Request"):
        if not saved:
            # The whole page again, with what the assessor typed still in the form.
            return _render_assessment(request, assessment, judgements, bound_form=form)
        messages.success(request, f"Saved {judgement.criterion.number}.")
        return redirect(f"{assessment.get_absolute_url()}#criterion-{judgement.criterion.number}")
    if saved:
        _, judgements = _assessment_for_page(request, pk)
        judgement = _find(judgements, judgement_pk)
        form = JudgementForm(judgement=judgement)
    return render(
        request,
        "assessments/_judgement.html",
        {
            "row": {"judgement": judgement, "form": form},
            "assessment": assessment,
            "unit": assessment.enrolment.unit,
            "marking": True,
            "saved": saved,
            "progress": _progress(judgements),
            "proposed_result": services.proposed_result(assessment),
            "sign_off_form": SignOffForm(),
            "assessor_declaration": services.ASSESSOR_DECLARATION,
            "oob": True,
        },
    )


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
        for message in error.messages:
            messages.error(request, message)
        return redirect(assessment)
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
            services.amend_result(assessment=assessment, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "The amendment is recorded; the signed record is kept.")
            return redirect(assessment)
    return render(
        request,
        "assessments/form_page.html",
        {"form": form, "title": f"Amend the result of {assessment}"},
    )
