"""Administrator pages for integrations: API tokens, the call log, webhooks and exports."""

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from assessment_portal.access import administrator_required
from standards.models import Unit

from . import case, tokens
from .exporters import EXPORTERS
from .forms import ApiTokenForm, ResultsExportForm, WebhookForm
from .models import ApiCall, ApiToken, Webhook, WebhookDelivery

PAGE_SIZE = 50


@administrator_required
def token_list(request):
    page = Paginator(
        ApiToken.objects.select_related("created_by", "revoked_by", "acts_for"), PAGE_SIZE
    )
    return render(
        request, "integrations/token_list.html", {"page": page.get_page(request.GET.get("page"))}
    )


@administrator_required
@never_cache
def token_create(request):
    form = ApiTokenForm(request.POST or None, initial={"acts_for": request.user})
    if request.method == "POST" and form.is_valid():
        try:
            token, raw = tokens.create_token(
                name=form.cleaned_data["name"],
                scope=form.cleaned_data["scope"],
                expires_at=form.expires_at(),
                acts_for=form.cleaned_data["acts_for"],
                by=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            # Shown on this response only: the portal keeps just its hash.
            return render(request, "integrations/token_created.html", {"token": token, "raw": raw})
    return render(request, "integrations/form_page.html", {"form": form, "title": "New API token"})


@administrator_required
@require_POST
def token_revoke(request, pk):
    token = get_object_or_404(ApiToken, pk=pk)
    try:
        tokens.revoke_token(token=token, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Revoked {token}. Calls with it are now refused.")
    return redirect("integrations:token_list")


@administrator_required
def call_list(request):
    calls = ApiCall.objects.select_related("token")
    token = None
    if request.GET.get("token", "").isdigit():
        token = get_object_or_404(ApiToken, pk=request.GET["token"])
        calls = calls.filter(token=token)
    page = Paginator(calls, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "integrations/call_list.html",
        {"page": page, "token": token, "filters": f"token={token.pk}" if token else ""},
    )


@administrator_required
def webhook_list(request):
    return render(
        request,
        "integrations/webhook_list.html",
        {"webhooks": Webhook.objects.select_related("created_by")},
    )


@administrator_required
def webhook_edit(request, pk=None):
    webhook = get_object_or_404(Webhook, pk=pk) if pk else None
    form = WebhookForm(request.POST or None, instance=webhook)
    if request.method == "POST" and form.is_valid():
        saved = form.save(commit=False)
        if webhook is None:
            saved.created_by = request.user
        saved.save()
        messages.success(request, f"Saved the webhook to {saved.url}.")
        return redirect("integrations:webhook_detail", pk=saved.pk)
    title = f"Edit webhook {webhook.url}" if webhook else "New webhook"
    return render(request, "integrations/form_page.html", {"form": form, "title": title})


@administrator_required
def webhook_detail(request, pk):
    webhook = get_object_or_404(Webhook, pk=pk)
    deliveries = WebhookDelivery.objects.filter(webhook=webhook).defer("payload")
    page = Paginator(deliveries, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "integrations/webhook_detail.html", {"webhook": webhook, "page": page})


@administrator_required
def results_export(request):
    form = ResultsExportForm(request.GET if "format" in request.GET else None)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        exporter = EXPORTERS[data["format"]](
            unit=data["unit"],
            cohort=data["cohort"],
            period_start=data["period_start"],
            period_end=data["period_end"],
        )
        response = HttpResponse(exporter.render(), content_type=exporter.content_type)
        response["Content-Disposition"] = f'attachment; filename="{exporter.filename()}"'
        response["Cache-Control"] = "private, no-store"
        return response
    return render(request, "integrations/results_export.html", {"form": form})


def unit_case(request, code):
    """The unit as a CASE 1.1 package; the catalogue is open to everyone signed in."""
    unit = Unit.objects.with_structure().filter(code=code).current().first()
    if unit is None:
        raise Http404
    response = HttpResponse(
        json.dumps(case.package(unit), indent=2, ensure_ascii=False),
        content_type="application/json",
    )
    response["Content-Disposition"] = f'attachment; filename="{unit.display_code}-case.json"'
    return response
