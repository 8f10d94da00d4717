"""axe-core in Chromium over every main page: no serious or critical violation."""

import pytest
from django.core.management import call_command

from assessments.models import Assessment, Enrolment

from .conftest import log_in, serious_violations

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DEMO_PASSWORD = "demo-portal-2026"


@pytest.fixture
def demo(site, settings):
    settings.DEBUG = True
    call_command("seed_demo")
    settings.DEBUG = False


def check(page, path):
    page.goto(path)
    assert page.title(), path
    assert serious_violations(page) == [], path


def test_login_page(page):
    check(page, "/accounts/login/")
    check(page, "/accounts/password_reset/")


def test_administrator_pages(page, demo):
    log_in(page, "admin", DEMO_PASSWORD)
    enrolment = Enrolment.objects.first()
    for path in [
        "/enrolments/",
        enrolment.get_absolute_url(),
        "/enrolments/new/",
        "/cohorts/",
        "/cohorts/new/",
        "/people/",
        "/people/new/",
        "/people/import/",
        "/assess/",
        "/standards/",
        "/standards/57/",
        "/standards/BSBCUS301B/",
        "/accounts/password_change/",
    ]:
        check(page, path)


def test_candidate_pages(page, demo):
    log_in(page, "candidate", DEMO_PASSWORD)
    for path in [
        "/enrolments/",
        Assessment.objects.filter(enrolment__candidate__username="candidate")
        .first()
        .get_absolute_url(),
    ]:
        check(page, path)


def test_keyboard_user_can_reach_main_content(page, demo):
    log_in(page, "assessor", DEMO_PASSWORD)
    page.goto("/enrolments/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    assert skip.evaluate("el => el === document.activeElement")
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
