"""Evidence portfolio pages.

Everyone sees evidence through ``Evidence.objects.visible_to``; what they may
change is decided by ``services.can_change`` (the person who recorded the item)
and ``services.can_map`` (its candidate, or the assessor who recorded it).
Anything else answers 404, as if it did not exist.
"""

import functools
import logging

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from assessment_portal import people
from assessment_portal.access import get_visible_or_404
from assessment_portal.queries import NAME_FIELDS, built_once, count_of, newest_first_page
from assessment_portal.storage import stored_file_response
from assessments.models import Assessment, Enrolment
from assessments.services import can_judge, submit_for_assessment
from standards.models import PerformanceCriterion, Unit

from . import review, services, viewing
from .forms import AddFilesForm, EvidenceForm, MapForm, SubmitForm, files_help_text
from .models import Evidence, EvidenceFile, EvidenceMapping
from .upload_handlers import MaxSizeUploadHandler, UploadTooLarge

security_log = logging.getLogger("assessment_portal.security")


def _deny(request):
    """The item is visible, but not this user's to change: answer as if it did not exist."""
    security_log.warning("access denied: user=%s path=%s", request.user.pk, request.path)
    raise Http404


def _evidence(request, pk, allowed=None):
    evidence = get_visible_or_404(
        Evidence.objects.with_lock_state().select_related("candidate", "recorded_by"),
        request.user,
        pk=pk,
    )
    if allowed is not None and not allowed(request.user, evidence):
        _deny(request)
    return evidence


def _refuse_locked(request, evidence):
    messages.error(request, services.EvidenceLocked(evidence).message)
    return redirect(evidence)


def _receiving_uploads(view):
    """Install the upload size limit before anything reads the request body.

    The CSRF check reads the body, so it moves inside, after the handler is in
    place (see evidence.upload_handlers).
    """
    protected = csrf_protect(view)

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        request.upload_handlers.insert(
            0, MaxSizeUploadHandler(request, max_files=services.MAX_FILES_PER_UPLOAD)
        )
        try:
            return protected(request, *args, **kwargs)
        except UploadTooLarge:
            # Nothing was read or saved; the body must not be touched again.
            return render(
                request,
                "evidence/upload_refused.html",
                {"rejections": request.upload_rejections, "files_help": files_help_text()},
                status=413,
            )

    return wrapper


def _bound(request):
    return request.POST if request.method == "POST" else None


# --- the portfolio -----------------------------------------------------------------------


def _label_mapped_criteria(items):
    """Set ``mapped_to`` on each item: its criteria as "US57 1.1", in the unit's order.

    A page of 50 items has hundreds of mappings to a few dozen criteria: read as values in
    one query, each unit's code made once, not a mapping, criterion, outcome and unit
    object per mapping (8 ms of the page at 10k).
    """
    unit = "criterion__outcome__unit__"
    rows = (
        EvidenceMapping.objects.filter(evidence__in=[item.pk for item in items])
        .order_by(f"{unit}framework", f"{unit}code", f"{unit}version", "criterion__sort_key")
        .values_list("evidence", f"{unit}framework", f"{unit}code", "criterion__number")
    )
    codes = {}
    mapped = {}
    for evidence, framework, code, number in rows:
        if (framework, code) not in codes:
            codes[framework, code] = Unit(framework=framework, code=code).display_code
        mapped.setdefault(evidence, []).append(f"{codes[framework, code]} {number}")
    for item in items:
        item.mapped_to = mapped.get(item.pk, [])


def _read_people(items):
    """Set each item's candidate and recorder, read in one query for the page.

    Not joined: PostgreSQL would join the whole people table into every row an
    assessor's filter lets through before the page is cut.
    """
    ids = {item.candidate_id for item in items} | {item.recorded_by_id for item in items}
    named = get_user_model().objects.only(*NAME_FIELDS).in_bulk(ids - {None})
    for item in items:
        item.candidate = named[item.candidate_id]
        item.recorded_by = named.get(item.recorded_by_id)


@built_once
def _file_count():
    return {"file_count": count_of(EvidenceFile.objects.filter(evidence=OuterRef("pk")))}


def evidence_list(request):
    user = request.user
    evidence = Evidence.objects.visible_to(user).with_lock_state().annotate(**_file_count())
    candidate_id, candidate = request.GET.get("candidate", ""), None
    q = request.GET.get("q", "").strip()
    if user.is_candidate:
        candidate = user
    else:
        # A search, not a list of every candidate: an institution has thousands.
        evidence = people.matching(evidence, q, via="candidate__")
        if candidate_id.isdigit():
            evidence = evidence.filter(candidate_id=candidate_id)
            candidate = (
                get_user_model()
                .objects.filter(pk=candidate_id, enrolments__in=Enrolment.objects.visible_to(user))
                .first()
            )
    enrolments = []
    if candidate:
        enrolments = (
            Enrolment.objects.visible_to(user).filter(candidate=candidate).select_related("unit")
        )
    page = newest_first_page(evidence, request.GET, 50)
    _read_people(page)
    _label_mapped_criteria(page)
    return render(
        request,
        "evidence/evidence_list.html",
        {
            "page": page,
            "q": q,
            "candidate_id": candidate_id,
            "candidate": candidate,
            "enrolments": enrolments,
            "kinds": [
                (kind, label)
                for kind, label in Evidence.Kind.choices
                if kind in services.allowed_kinds(user)
            ],
        },
    )


@_receiving_uploads
def evidence_create(request, kind):
    if kind not in services.allowed_kinds(request.user):
        _deny(request)
    form = EvidenceForm(
        _bound(request),
        request.FILES or None,
        kind=kind,
        user=request.user,
        upload_rejections=request.upload_rejections,
        creating=True,
        # Links from an enrolment page name the candidate the record is about.
        initial={"candidate": request.GET.get("candidate")},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            evidence = services.create_evidence_with_files(
                candidate=data.get("candidate", request.user),
                by=request.user,
                kind=kind,
                data=data,
                uploads=data.get("files", []),
            )
        except services.FilesRejected as error:
            form.add_error("files" if "files" in form.fields else None, error)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Added “{evidence}”. Now map it to the criteria it shows.")
            return redirect("evidence:evidence_map", evidence.pk)
    return render(
        request,
        "evidence/evidence_form.html",
        {"form": form, "title": f"New {Evidence.Kind(kind).label.lower()}"},
    )


def evidence_detail(request, pk):
    evidence = _evidence(request, pk)
    user = request.user
    return render(
        request,
        "evidence/evidence_detail.html",
        {
            "evidence": evidence,
            "files": evidence.files.all(),
            "mappings": evidence.mappings.select_related(
                "criterion__outcome__unit"
            ).prefetch_related("range_items"),
            "assessments": evidence.assessments.visible_to(user).select_related("enrolment__unit"),
            "can_change": services.can_change(user, evidence) and not evidence.is_locked,
            "can_map": services.can_map(user, evidence),
            "can_unmap": services.can_unmap(user, evidence) and not evidence.is_locked,
            "has_files": evidence.kind in services.KINDS_WITH_FILES,
        },
    )


def evidence_edit(request, pk):
    evidence = _evidence(request, pk, services.can_change)
    if evidence.is_locked:
        return _refuse_locked(request, evidence)
    form = EvidenceForm(_bound(request), instance=evidence, kind=evidence.kind, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_evidence(evidence=evidence, by=request.user, data=form.cleaned_data)
        except services.EvidenceLocked:
            return _refuse_locked(request, evidence)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Saved “{evidence}”.")
            return redirect(evidence)
    return render(
        request, "evidence/evidence_form.html", {"form": form, "title": f"Edit “{evidence}”"}
    )


def evidence_delete(request, pk):
    evidence = _evidence(request, pk, services.can_change)
    if evidence.is_locked:
        return _refuse_locked(request, evidence)
    if request.method == "POST":
        try:
            services.delete_evidence(evidence=evidence, by=request.user)
        except services.EvidenceLocked:
            return _refuse_locked(request, evidence)
        messages.success(request, f"Deleted “{evidence}”.")
        return redirect("evidence:evidence_list")
    return render(
        request,
        "evidence/confirm_delete.html",
        {
            "title": f"Delete “{evidence}”?",
            "evidence": evidence,
            "consequence": "The item, its files and its mappings will be deleted for good.",
        },
    )


@_receiving_uploads
def evidence_add_files(request, pk):
    evidence = _evidence(request, pk, services.can_change)
    if evidence.kind not in services.KINDS_WITH_FILES:
        raise Http404
    if evidence.is_locked:
        return _refuse_locked(request, evidence)
    form = AddFilesForm(
        _bound(request), request.FILES or None, upload_rejections=request.upload_rejections
    )
    if request.method == "POST" and form.is_valid():
        files = form.cleaned_data["files"]
        try:
            services.add_files(evidence=evidence, by=request.user, uploads=files)
        except services.EvidenceLocked:
            return _refuse_locked(request, evidence)
        except ValidationError as error:
            form.add_error("files", error)
        else:
            messages.success(request, f"Added {len(files)} file(s) to “{evidence}”.")
            return redirect(evidence)
    return render(
        request,
        "evidence/evidence_form.html",
        {"form": form, "title": f"Add files to “{evidence}”", "evidence": evidence},
    )


def file_delete(request, pk):
    evidence_file = get_object_or_404(EvidenceFile, pk=pk)
    evidence = _evidence(request, evidence_file.evidence_id, services.can_change)
    if evidence.is_locked:
        return _refuse_locked(request, evidence)
    if request.method == "POST":
        try:
            services.remove_file(evidence_file=evidence_file, by=request.user)
        except services.EvidenceLocked:
            return _refuse_locked(request, evidence)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Removed “{evidence_file}” from “{evidence}”.")
        return redirect(evidence)
    return render(
        request,
        "evidence/confirm_delete.html",
        {
            "title": f"Remove “{evidence_file}” from “{evidence}”?",
            "evidence": evidence,
            "consequence": "The file will be deleted for good.",
        },
    )


def file_download(request, pk):
    evidence_file = _visible_file(request, pk)
    return stored_file_response(
        request,
        evidence_file.file,
        filename=evidence_file.original_name,
        content_type=evidence_file.content_type,
        etag=evidence_file.sha256,
    )


# --- mapping and coverage ----------------------------------------------------------------


def evidence_map(request, pk):
    evidence = _evidence(request, pk, services.can_map)
    # Units the item was submitted for are frozen: their criteria are not offered.
    units = (
        services.mappable_enrolments(request.user, evidence.candidate_id)
        .exclude(unit__in=services.submitted_units(evidence))
        .values("unit")
    )
    criteria = PerformanceCriterion.objects.filter(outcome__unit__in=units).order_by(
        "outcome__unit__code", "sort_key"
    )
    form = MapForm(_bound(request), criteria=criteria)
    if request.method == "POST" and form.is_valid():
        try:
            mappings = services.map_evidence(
                evidence=evidence, by=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            numbers = ", ".join(m.criterion.number for m in mappings)
            messages.success(request, f"Mapped “{evidence}” to {numbers}.")
            return redirect(evidence)
    return render(
        request,
        "evidence/evidence_map.html",
        {
            "evidence": evidence,
            "form": form,
            "can_unmap": services.can_unmap(request.user, evidence) and not evidence.is_locked,
            "mappings": evidence.mappings.select_related(
                "criterion__outcome__unit"
            ).prefetch_related("range_items"),
        },
    )


@require_POST
def evidence_unmap(request, pk):
    mapping = get_object_or_404(EvidenceMapping, pk=pk)
    evidence = _evidence(request, mapping.evidence_id, services.can_map)
    try:
        services.unmap_evidence(mapping=mapping, by=request.user)
    except services.EvidenceLocked:
        return _refuse_locked(request, evidence)
    except services.AssessorRecord as refused:
        messages.error(request, refused.message)
        return redirect(evidence)
    messages.success(request, f"“{evidence}” is no longer mapped to {mapping.criterion.number}.")
    if request.POST.get("next") == "map":
        return redirect("evidence:evidence_map", evidence.pk)
    return redirect(evidence)


def coverage(request, enrolment_pk):
    enrolment = get_visible_or_404(
        Enrolment.objects.select_related("unit", "candidate", "assessor"),
        request.user,
        pk=enrolment_pk,
    )
    return render(
        request,
        "evidence/coverage.html",
        {
            "enrolment": enrolment,
            "unit": enrolment.unit,
            "coverage": services.unit_coverage(enrolment.candidate_id, enrolment.unit_id),
        },
    )


def submit(request, enrolment_pk):
    enrolment = get_visible_or_404(
        Enrolment.objects.select_related("unit"), request.user, pk=enrolment_pk
    )
    if enrolment.candidate_id != request.user.pk:
        _deny(request)
    attempts = list(enrolment.assessments.all())
    open_attempt = next((a for a in attempts if a.status == Assessment.Status.OPEN), None)
    form = SubmitForm(_bound(request), initial={"attempt": open_attempt and open_attempt.attempt})
    if request.method == "POST" and form.is_valid():
        assessment = get_object_or_404(enrolment.assessments, attempt=form.cleaned_data["attempt"])
        try:
            submit_for_assessment(
                assessment=assessment,
                by=request.user,
                declaration_accepted=form.cleaned_data["declaration"],
            )
        except ValidationError as error:
            # Shown above the page, which may no longer offer the form (attempt already in).
            for message in error.messages:
                messages.error(request, message)
            return redirect("evidence:submit", enrolment.pk)
        messages.success(
            request,
            f"Submitted attempt {assessment.attempt} of {enrolment.unit.display_code} for "
            "assessment. The evidence in it is now locked.",
        )
        return redirect(enrolment)
    items = services.items_for_unit(request.user, enrolment.unit_id).prefetch_related(
        Prefetch(
            "mappings",
            queryset=EvidenceMapping.objects.filter(
                criterion__outcome__unit=enrolment.unit_id
            ).select_related("criterion"),
        ),
    )
    return render(
        request,
        "evidence/submit.html",
        {
            "enrolment": enrolment,
            "unit": enrolment.unit,
            "open_attempt": open_attempt,
            "latest_attempt": attempts[-1] if attempts else None,
            "items": items,
            "coverage": services.unit_coverage(request.user, enrolment.unit_id),
            "form": form,
        },
    )


# --- the marking page's evidence panel ------------------------------------------------------


def _visible_file(request, pk):
    """An evidence file of an item the user may see (else 404)."""
    evidence_file = get_object_or_404(EvidenceFile, pk=pk)
    get_visible_or_404(Evidence.objects.all(), request.user, pk=evidence_file.evidence_id)
    return evidence_file


def file_view(request, pk):
    """A file shown inline: images re-encoded, audio, video and text as sniffed at upload."""
    evidence_file = _visible_file(request, pk)
    kind = viewing.inline_kind(evidence_file)
    if kind == "image":
        png = viewing.display_image(evidence_file)
        if png is None:
            raise Http404
        return viewing.png_response(png, evidence_file)
    if kind not in {"audio", "video", "text"}:
        raise Http404
    content_type = evidence_file.content_type
    if kind == "text":
        content_type = "text/plain; charset=utf-8"
    response = stored_file_response(
        request,
        evidence_file.file,
        filename=evidence_file.original_name,
        content_type=content_type,
        as_attachment=False,
        etag=evidence_file.sha256,
    )
    return viewing.sandboxed(response, evidence_file)


def pdf_page(request, pk, number):
    """One page of a PDF drawn as an image on the server, for the evidence panel."""
    evidence_file = _visible_file(request, pk)
    if viewing.inline_kind(evidence_file) != "pdf":
        raise Http404
    png = viewing.pdf_page_png(evidence_file, number)
    if png is None:
        raise Http404
    return viewing.png_response(png, evidence_file)


def _reviewed_item(request, assessment_pk, evidence_pk):
    """An item of an attempt, for those who judge or oversee it; candidates use their pages."""
    if request.user.is_candidate:
        _deny(request)
    assessment = get_visible_or_404(
        Assessment.objects.select_related("enrolment__unit", "enrolment__candidate"),
        request.user,
        pk=assessment_pk,
    )
    evidence = get_object_or_404(
        assessment.evidence.select_related("candidate", "recorded_by"), pk=evidence_pk
    )
    return assessment, evidence


def _panel(request, assessment, evidence, *, error=None, status=200):
    files = list(evidence.files.all())
    for evidence_file in files:
        evidence_file.inline_kind = viewing.inline_kind(evidence_file)
        if evidence_file.inline_kind == "pdf":
            evidence_file.pages, evidence_file.page_count = viewing.shown_pages(evidence_file)
        elif evidence_file.inline_kind == "text":
            evidence_file.preview, evidence_file.truncated = viewing.text_preview(evidence_file)
    mappings = list(review.mappings_in_attempt(assessment, evidence=evidence))
    judging = (
        can_judge(request.user, assessment) and assessment.status == Assessment.Status.SUBMITTED
    )
    htmx = bool(request.headers.get("HX-Request"))
    return render(
        request,
        "evidence/panel.html" if htmx else "evidence/panel_page.html",
        {
            "assessment": assessment,
            "evidence": evidence,
            "files": files,
            "mappings": mappings,
            "judging": judging,
            "error": error,
            "oob_mappings": getattr(request, "oob_mappings", None),
        },
        status=status,
    )


def review_panel(request, assessment_pk, evidence_pk):
    """An evidence item beside the criteria: its content and its mappings to the unit."""
    assessment, evidence = _reviewed_item(request, assessment_pk, evidence_pk)
    return _panel(request, assessment, evidence)


@require_POST
def decide_mapping(request, assessment_pk, mapping_pk):
    """The assessor confirms or rejects one of the candidate's mappings in this attempt."""
    mapping = get_object_or_404(EvidenceMapping.objects.select_related("criterion"), pk=mapping_pk)
    assessment, evidence = _reviewed_item(request, assessment_pk, mapping.evidence_id)
    if not can_judge(request.user, assessment):
        _deny(request)
    try:
        review.decide_mapping(
            assessment=assessment,
            mapping=mapping,
            by=request.user,
            decision=request.POST.get("decision", ""),
            reason=request.POST.get("reason", ""),
        )
    except ValidationError as error:
        if not request.headers.get("HX-Request"):
            for message in error.messages:
                messages.error(request, message)
            return redirect("evidence:review_panel", assessment.pk, evidence.pk)
        return _panel(request, assessment, evidence, error=" ".join(error.messages), status=422)
    if not request.headers.get("HX-Request"):
        messages.success(request, f"Recorded your decision on {mapping.criterion.number}.")
        return redirect("evidence:review_panel", assessment.pk, evidence.pk)
    # The criterion's list of evidence on the marking page changes too.
    request.oob_mappings = {
        "criterion": mapping.criterion,
        "mappings": list(review.mappings_in_attempt(assessment, criteria=[mapping.criterion_id])),
    }
    return _panel(request, assessment, evidence)
