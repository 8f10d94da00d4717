"""The project's quick links and dates print what Django's reverse() and |date print."""

import datetime
import zoneinfo

import pytest
from django.template import Context, Template
from django.test import override_settings
from django.urls import reverse, set_script_prefix

from assessment_portal.links import object_url

PK_VIEWS = [
    "assessments:cohort_detail",
    "assessments:enrolment_detail",
    "assessments:assessment_detail",
    "moderation:round_detail",
    "moderation:review",
    "evidence:evidence_detail",
    "evidence:file_download",
    "notifications:open",
]


@pytest.mark.parametrize("viewname", PK_VIEWS)
@pytest.mark.parametrize("prefix", ["/", "/portal/"])
def test_object_url_is_reverse(viewname, prefix):
    # Served under a path (SCRIPT_NAME), links carry it, as reverse() gives them.
    set_script_prefix(prefix)
    try:
        for pk in (1, 7, 40_213, "12"):
            assert object_url(viewname, pk) == reverse(viewname, args=[pk])
    finally:
        set_script_prefix("/")


def test_object_url_refuses_what_is_not_a_key():
    with pytest.raises(ValueError):
        object_url("evidence:evidence_detail", "1/../../admin")


AUCKLAND = zoneinfo.ZoneInfo("Pacific/Auckland")
VALUES = [
    # 23:30 UTC is the next day in Auckland: both print the local day.
    datetime.datetime(2026, 3, 4, 23, 30, tzinfo=datetime.UTC),
    datetime.datetime(2026, 12, 31, 9, 5, tzinfo=AUCKLAND),
    datetime.datetime(2025, 1, 1, 0, 0, tzinfo=datetime.UTC),
]


@override_settings(TIME_ZONE="Pacific/Auckland")
@pytest.mark.parametrize("value", VALUES)
def test_dates_print_as_django_date_filter_does(value):
    def render(source, value):
        return Template("{% load portal %}" + source).render(Context({"v": value}))

    assert render("{{ v|day_month_year }}", value) == render('{{ v|date:"j M Y" }}', value)
    assert render("{{ v|day_month_year_time }}", value) == render('{{ v|date:"j M Y H:i" }}', value)
    day = value.date()
    assert render("{{ v|day_month_year }}", day) == render('{{ v|date:"j M Y" }}', day)
    assert render("{{ v|day_month_year }}", None) == render('{{ v|date:"j M Y" }}', None) == ""


def test_every_month_prints_as_django_does():
    for month in range(1, 13):
        day = datetime.date(2026, month, 9)
        ours = Template("{% load portal %}{{ v|day_month_year }}").render(Context({"v": day}))
        assert ours == Template('{{ v|date:"j M Y" }}').render(Context({"v": day}))
