"""Printable records: the assessment record and the candidate transcript.

Each is a PDF download and an HTML preview of the same template; building the
context and rendering happen in ``assessments.pdf``.
"""

from django.contrib.auth import get_user_model
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.cache import cache_control

from assessment_portal.access import get_visible_or_404, security_log

from . import pdf

RECORD_TEMPLATE = "reports/assessment_record.html"
TRANSCRIPT_TEMPLATE = "reports/transcript.html"


def _variant(request):
    """?variant=archival asks for PDF/A-3a; anything else gets the ordinary PDF."""
    return "archival" if request.GET.get("variant") == "archival" else None


def _pdf_response(content, filename):
    return HttpResponse(
        content,
        content_type="application/pdf",
        headers={"Content-Disposition": content_disposition_header(True, filename)},
    )


def _record_context(request, pk):
    assessment = get_visible_or_404(pdf.record_attempts(), request.user, pk=pk)
    return pdf.assessment_record_context(assessment, candidate_view=request.user.is_candidate)


# Personal records: no shared cache may keep them (private), nor the browser's
# cache once shown (no-store).
@cache_control(private=True, no_store=True)
def assessment_record(request, pk):
    context = _record_context(request, pk)
    variant = _variant(request)
    return _pdf_response(
        pdf.render_pdf(RECORD_TEMPLATE, context, variant=variant),
        pdf.record_filename(context["assessment"], variant=variant),
    )


@cache_control(private=True, no_store=True)
def assessment_record_preview(request, pk):
    context = _record_context(request, pk)
    pdf_url = reverse("reports:assessment_record", args=[pk])
    return render(request, RECORD_TEMPLATE, {**context, "preview": True, "pdf_url": pdf_url})


def _candidate_or_404(user, pk):
    """The candidate whose transcript ``user`` asks for, if they may see it.

    Candidates see their own, assessors those of the candidates they assess,
    administrators any. Anything else is 404, logged when the candidate exists.
    """
    User = get_user_model()
    candidates = User.objects.filter(role=User.Role.CANDIDATE)
    if user.is_administrator:
        visible = candidates
    elif user.is_assessor:
        visible = candidates.filter(enrolments__assessor=user).distinct()
    else:
        visible = candidates.filter(pk=user.pk)
    candidate = visible.filter(pk=pk).first()
    if candidate is None:
        if candidates.filter(pk=pk).exists():
            security_log.warning("access denied: user=%s transcript of user=%s", user.pk, pk)
        raise Http404
    return candidate


@cache_control(private=True, no_store=True)
def transcript(request, pk):
    candidate = _candidate_or_404(request.user, pk)
    variant = _variant(request)
    return _pdf_response(
        pdf.render_pdf(
            TRANSCRIPT_TEMPLATE, pdf.transcript_context(candidate, request.user), variant=variant
        ),
        pdf.transcript_filename(candidate, variant=variant),
    )


@cache_control(private=True, no_store=True)
def transcript_preview(request, pk):
    candidate = _candidate_or_404(request.user, pk)
    context = {
        **pdf.transcript_context(candidate, request.user),
        "preview": True,
        "pdf_url": reverse("reports:transcript", args=[candidate.pk]),
    }
    return render(request, TRANSCRIPT_TEMPLATE, context)
