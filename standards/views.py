from django.db.models import Count
from django.http import Http404
from django.shortcuts import render

from .models import Unit


def unit_list(request):
    units = (
        Unit.objects.with_release_status()
        .annotate(
            outcome_count=Count("outcomes", distinct=True),
            criterion_count=Count("outcomes__criteria", distinct=True),
        )
        .order_by("framework", "code", "-version_number")
    )
    return render(request, "standards/unit_list.html", {"units": units})


def unit_detail(request, code, version=None):
    """A release of a unit; without a version, the current one (else the latest)."""
    releases = list(
        Unit.objects.with_release_status()
        .filter(code=code)
        .order_by("-version_number")
        .only("code", "version", "framework", "withdrawn")
    )
    if version is None:
        chosen = next((r for r in releases if r.is_current), releases[0] if releases else None)
    else:
        chosen = next((r for r in releases if r.version == version), None)
    if chosen is None:
        raise Http404("No such unit release.")
    unit = Unit.objects.with_structure().get(pk=chosen.pk)
    unit.is_current = chosen.is_current
    corrections = unit.corrections.select_related("corrected_by")
    current = next((r for r in releases if r.is_current), None)
    return render(
        request,
        "standards/unit_detail.html",
        {"unit": unit, "releases": releases, "current": current, "corrections": corrections},
    )
