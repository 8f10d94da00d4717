from django.db.models import Count
from django.shortcuts import get_object_or_404, render

from .models import Unit


def unit_list(request):
    units = Unit.objects.annotate(
        outcome_count=Count("outcomes", distinct=True),
        criterion_count=Count("outcomes__criteria", distinct=True),
    )
    return render(request, "standards/unit_list.html", {"units": units})


def unit_detail(request, code):
    unit = get_object_or_404(Unit.objects.with_structure(), code=code)
    return render(request, "standards/unit_detail.html", {"unit": unit})
