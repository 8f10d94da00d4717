"""The portal's URLs and /bench/trivial/: the site's layout around one word, for a baseline."""

from django.http import HttpResponse
from django.template import engines
from django.urls import include, path

TRIVIAL = engines["django"].from_string(
    '{% extends "base.html" %}{% block content %}<p>ok</p>{% endblock %}'
)


def trivial(request):
    return HttpResponse(TRIVIAL.render({}, request))


urlpatterns = [
    path("bench/trivial/", trivial, name="bench_trivial"),
    path("", include("assessment_portal.urls")),
]
