from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_GET, require_POST

from assessment_portal.access import administrator_required, get_visible_or_404, security_log
from assessment_portal.queries import UNIT_CODE_FIELDS, fields_of
from assessment_portal.storage import stored_file_response

from . import dashboards, moderation
from .models import (
    Assessment,
    ModerationExport,
    ModerationRound,
    ModerationSample,
)
from .moderation_forms import (
    AssignModeratorForm,
    DrawSampleForm,
    ExportForm,
    PickSampleForm,
    ResponseForm,
    ReviewForm,
    RoundForm,
)


def _round_or_404(request, pk):
    return get_visible_or_404(
        ModerationRound.objects.select_related("unit", "sampled_by"), request.user, pk=pk
    )


def _sample_or_404(request, scoped, pk):
    """A sample from ``scoped`` (the user's own), else 404; denials of real samples are logged."""
    try:
        return scoped.get(pk=pk)
    except ModerationSample.DoesNotExist:
        if ModerationSample.objects.filter(pk=pk).exists():
            security_log.warning(
                "access denied: user=%s model=assessments.ModerationSample lookup=%s",
                request.user.pk,
                {"pk": pk},
            )
        raise Http404 from None


def _deny(request):
    security_log.warning("access denied: user=%s path=%s", request.user.pk, request.path)
    raise Http404


User = get_user_model()
SAMPLES_PER_PAGE = 25
POPULATION_PER_PAGE = 25
# A hand-picked selection travels in the query string; beyond this, draw by rule.
MAX_HAND_PICKED = 200
RESULTS = ["achieved", "not_achieved"]


def _sample_rows(queryset):
    """Samples with what every list of them shows: the candidate, the review and the unit.

    Units are few and wide (pages of descriptive text), so they are prefetched rather
    than joined into every row; each list adds the people it shows, also by prefetch
    unless already joined, as each join of the users' table cost ~1 ms of planning and
    led PostgreSQL to scan every attempt (~8 ms a page of 50 at 10k candidates in all).
    The round is left to the caller: one round's samples (``round_.samples``) have it.
    """
    return queryset.select_related("assessment__enrolment__candidate", "review").prefetch_related(
        "round__unit"
    )


def _samples_with_people(queryset):
    # One sample: joined, not prefetched. Its page names its attempt, and so the
    # attempt's unit (Enrolment.__str__).
    return _sample_rows(queryset).select_related(
        "round__unit", "assessment__enrolment__unit", "assessor", "moderator"
    )


# --- administrators: rounds ----------------------------------------------------------


@administrator_required
def round_list(request):
    rounds = (
        ModerationRound.objects.select_related("unit")
        .only(
            "name",
            "period_start",
            "period_end",
            "sampled_at",
            "population_by_assessor",
            *fields_of("unit", UNIT_CODE_FIELDS),
        )
        .annotate(**dashboards.round_counts())
        .order_by("-period_end", "-pk")
    )
    page = Paginator(rounds, 50).get_page(request.GET.get("page"))
    return render(request, "moderation/round_list.html", {"page": page})


@administrator_required
def round_create(request):
    form = RoundForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            round_ = moderation.create_round(by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Created {round_}: now choose its sample.")
            return redirect(round_)
    return render(
        request, "moderation/form_page.html", {"form": form, "title": "New moderation round"}
    )


@administrator_required
def round_detail(request, pk):
    round_ = _round_or_404(request, pk)
    draw_form = None
    if not round_.is_sampled:
        draw_form = DrawSampleForm(request.POST if "draw" in request.POST else None)
        if draw_form.is_bound and draw_form.is_valid():
            try:
                samples = moderation.draw_sample(
                    round_=round_, by=request.user, **draw_form.cleaned_data
                )
            except ValidationError as error:
                draw_form.add_error(None, error)
            else:
                return _sampled(request, round_, samples)
    # Paged by primary key, the candidate's name read by a subquery for each of the round's
    # samples; then the page's rows with their people. Sorted with the people joined, the
    # round's samples were joined to every attempt in the database (~3 ms at 10k).
    # Unordered: the people's default order would sort each sample's one candidate.
    candidate_name = User.objects.filter(enrolments__assessments=OuterRef("assessment")).order_by()
    ordered = round_.samples.order_by(
        "assessor__last_name", Subquery(candidate_name.values("last_name")), "assessment_id"
    ).values_list("pk", flat=True)
    sizes = moderation.sizes(round_)
    paginator = Paginator(ordered, SAMPLES_PER_PAGE)
    paginator.count = sizes["sample"]  # counted with the sizes: no COUNT query
    page = paginator.get_page(request.GET.get("page"))
    rows = _sample_rows(round_.samples.all()).prefetch_related("moderator").in_bulk(page)
    samples = [rows[pk] for pk in page]
    assessors = _assessors(sizes)  # read by sizes(): not joined again
    for sample in samples:
        sample.assessor = assessors[sample.assessor_id]
    return render(
        request,
        "moderation/round_detail.html",
        {
            "round": round_,
            "sizes": sizes,
            "page": page,
            "samples": samples,
            "conflicted": moderation.conflicted_samples(samples) if round_.is_sampled else set(),
            "draw_form": draw_form,
        },
    )


def _sampled(request, round_, samples):
    n = len(samples)
    messages.success(request, f"Sampled {n} attempt{pluralize(n)} for moderation.")
    return redirect(round_)


def _picked_ids(values):
    return sorted({int(value) for value in values if value.isdigit()})


@administrator_required
def round_population(request, pk):
    """The round's population, filtered and paged, to pick a sample from by hand.

    The selection travels in the query string (``picked``), so it survives
    paging and filtering; recording it is one POST with the moderators.
    """
    round_ = _round_or_404(request, pk)
    if round_.is_sampled:
        messages.info(request, "This round's sample has already been chosen.")
        return redirect(round_)
    form = PickSampleForm(request.POST or None, round_=round_)
    if request.method == "POST" and form.is_valid():
        try:
            samples = moderation.pick_sample(round_=round_, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return _sampled(request, round_, samples)
    source = (
        request.POST.getlist("pick-assessments") if form.is_bound else request.GET.getlist("picked")
    )
    picked = _picked_ids(source)
    too_many = len(picked) > MAX_HAND_PICKED
    population = round_.population.select_related("enrolment__candidate", "sign_off")
    members, filters = moderation.filter_population(round_, request.GET)
    # Paged by primary key, then the page's rows read with their people: sorting the
    # whole population with all those columns cost ~3 ms more at 10k candidates.
    paginator = Paginator(
        members.order_by(
            "assessment__enrolment__candidate__last_name",
            "assessment__enrolment__candidate__first_name",
            "assessment_id",
        ).values_list("assessment_id", flat=True),
        POPULATION_PER_PAGE,
    )
    sizes = moderation.sizes(round_)
    if not any(filters.values()):
        paginator.count = sizes["population"]  # counted with the sizes: no COUNT query
    page = paginator.get_page(request.GET.get("page"))
    # The page's ids are the population's: read by key alone, neither joined to the
    # round's population again nor sorted by the attempts' default order.
    rows = (
        Assessment.objects.select_related("enrolment__candidate", "sign_off")
        .order_by()
        .in_bulk(page)
    )
    selected = picked and list(
        population.filter(pk__in=picked[:MAX_HAND_PICKED]).order_by(
            "enrolment__candidate__last_name", "pk"
        )
    )
    _take_round_people([*rows.values(), *selected], round_, sizes)
    on_page = set(page)
    if not form.is_bound:
        form = PickSampleForm(initial={"assessments": [a.pk for a in selected]}, round_=round_)
    return render(
        request,
        "moderation/population.html",
        {
            "round": round_,
            "sizes": sizes,
            "page": page,
            "attempts": [rows[pk] for pk in page],
            "filters": filters,
            # (value, label, chosen), drawn once here: the template's lookups for each of
            # an institution's assessors were ~0.5 ms of the page.
            "assessor_options": [
                (
                    row.assessor.pk,
                    f"{row.assessor} ({row.population})",
                    str(row.assessor.pk) == filters["assessor"],
                )
                for row in sizes["per_assessor"]
            ],
            "results": [(value, round_.unit.result_label(value)) for value in RESULTS],
            "picked": {a.pk for a in selected},
            "picked_elsewhere": [a.pk for a in selected if a.pk not in on_page],
            "selected": selected,
            "too_many": too_many,
            "max_picked": MAX_HAND_PICKED,
            "form": form,
        },
    )


def _assessors(sizes):
    """The assessors ``moderation.sizes()`` has read, by primary key: every signer in the
    round's population. Rows take theirs from here rather than join the users again:
    PostgreSQL plans a join of five tables in ~1 ms, of three in ~0.4 ms."""
    return {row.assessor.pk: row.assessor for row in sizes["per_assessor"]}


def _take_round_people(attempts, round_, sizes):
    """Give each of the population's ``attempts`` the round's unit and its signer."""
    assessors = _assessors(sizes)
    for attempt in attempts:
        attempt.enrolment.unit = round_.unit
        attempt.sign_off.signed_by = assessors[attempt.sign_off.signed_by_id]


@administrator_required
def sample_assign(request, pk):
    sample = get_object_or_404(_samples_with_people(ModerationSample.objects.all()), pk=pk)
    form = AssignModeratorForm(request.POST or None, initial={"moderator": sample.moderator_id})
    if request.method == "POST" and form.is_valid():
        try:
            moderation.assign_moderator(
                sample=sample, moderator=form.cleaned_data["moderator"], by=request.user
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"{form.cleaned_data['moderator']} now moderates {sample}.")
            return redirect(sample.round)
    return render(
        request,
        "moderation/form_page.html",
        {"form": form, "title": f"Moderator of {sample.assessment}", "back": sample.round},
    )


@administrator_required
def round_summary(request, pk):
    round_ = _round_or_404(request, pk)
    return render(
        request,
        "moderation/summary.html",
        {"round": round_, "summary": moderation.summary(round_)},
    )


# --- administrators: report exports -------------------------------------------------


@administrator_required
def round_export(request, pk):
    round_ = _round_or_404(request, pk)
    form = ExportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        moderation.request_export(
            round_=round_, format=form.cleaned_data["format"], by=request.user
        )
        messages.info(request, "The report is being built; it appears below when ready.")
        return redirect("moderation:round_export", round_.pk)
    moderation.fail_stale_exports(round_.exports.all())
    exports = round_.exports.select_related("created_by")[:20]
    return render(
        request, "moderation/export.html", {"round": round_, "form": form, "exports": exports}
    )


@require_GET
@administrator_required
def export_status(request, pk):
    moderation.fail_stale_exports(ModerationExport.objects.filter(pk=pk))
    export = get_object_or_404(ModerationExport, pk=pk)
    return render(request, "moderation/_export_status.html", {"export": export})


@require_POST
@administrator_required
def export_retry(request, pk):
    export = get_object_or_404(ModerationExport.objects.select_related("round"), pk=pk)
    try:
        moderation.retry_export(export=export, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.info(request, "The report is being built again; it appears below when ready.")
    return redirect("moderation:round_export", export.round_id)


@require_GET
@administrator_required
def export_download(request, pk):
    export = get_object_or_404(
        ModerationExport.objects.select_related("round__unit"),
        pk=pk,
        status=ModerationExport.Status.DONE,
    )
    return stored_file_response(
        request,
        export.file,
        filename=moderation.export_filename(export),
        content_type="application/pdf" if export.format == "pdf" else "text/csv; charset=utf-8",
    )


# --- moderators ----------------------------------------------------------------------


def my_reviews(request):
    if not request.user.is_moderator:
        _deny(request)
    samples = (
        _sample_rows(ModerationSample.objects.moderated_by(request.user))
        .select_related("round")
        .prefetch_related("assessor")
        .order_by("-round__period_end", "assessment_id")
    )
    page = Paginator(samples, SAMPLES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "moderation/my_reviews.html", {"samples": page})


def review(request, pk):
    sample = _sample_or_404(
        request,
        ModerationSample.objects.moderated_by(request.user).select_related(
            "round__unit", "assessor", "review"
        ),
        pk,
    )
    sample.moderator = request.user  # whose samples these are: not joined
    context = moderation.review_context(sample)
    # The attempt as review_context read it, with its people and sign-off: not read twice.
    sample.assessment = context["assessment"]
    done = getattr(sample, "review", None)
    form = refusal = None
    if done is None:
        refusal = moderation.review_refusal(
            sample, request.user, evidence=[item for item, _ in context["evidence"]]
        )
    if done is None and refusal is None:
        form = ReviewForm(request.POST or None, judgements=context["judgements"])
        if request.method == "POST" and form.is_valid():
            try:
                moderation.submit_review(sample=sample, by=request.user, **form.review_data())
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, "Review submitted. Thank you.")
                return redirect("moderation:review", sample.pk)
    verdicts = {c.judgement_id: c for c in done.criteria.all()} if done else {}
    rows = [
        {
            "judgement": j,
            "fields": form.fields_for(j) if form else None,
            "moderated": verdicts.get(j.pk),
        }
        for j in context["judgements"]
    ]
    return render(
        request,
        "moderation/review.html",
        {
            **context,
            "sample": sample,
            "done": done,
            "form": form,
            "refusal": refusal,
            "rows": rows,
        },
    )


# --- assessors --------------------------------------------------------------------------


def my_decisions(request):
    if not request.user.is_assessor:
        _deny(request)
    samples = (
        _sample_rows(ModerationSample.objects.decided_by(request.user))
        .select_related("round")
        .order_by("-round__period_end", "assessment_id")
    )
    page = Paginator(samples, SAMPLES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "moderation/my_decisions.html", {"samples": page})


def decision(request, pk):
    sample = _sample_or_404(
        request,
        _samples_with_people(ModerationSample.objects.decided_by(request.user)).prefetch_related(
            *moderation.review_prefetches()
        ),
        pk,
    )
    done = getattr(sample, "review", None)
    form = ResponseForm(request.POST or None) if done else None
    if form is not None and request.method == "POST" and form.is_valid():
        try:
            moderation.respond(review=done, by=request.user, text=form.cleaned_data["text"])
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Response recorded.")
            return redirect("moderation:decision", sample.pk)
    return render(
        request, "moderation/decision.html", {"sample": sample, "done": done, "form": form}
    )
