"""axe-core in Chromium over every main page, for every role, on the demo data
(``seed_demo``): no serious or critical violation. Then the keyboard: the skip
link, the collapsed navbar at tablet width and the navbar's dropdown menus."""

import re

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import expect

from assessment_portal.models import User
from assessments import moderation
from assessments.models import Assessment, Cohort, Enrolment, ModerationRound, ModerationSample
from evidence.models import Evidence

from .conftest import AXE, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DEMO_PASSWORD = "demo-portal-2026"


# conftest.serious_violations, made quicker for many pages: axe-core is loaded by the
# browser into every page it opens, and returns only its violations (handing back
# every rule that passed, with its elements, took half of the time).
SERIOUS = """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
  .filter(v => v.impact === "serious" || v.impact === "critical")
  .map(v => ({
    id: v.id, impact: v.impact, help: v.help, elements: v.nodes.slice(0, 5).map(n => n.target)
  }))"""


def serious_violations(page):
    return page.evaluate(SERIOUS)


@pytest.fixture
def page(page):
    page.context.add_init_script(path=str(AXE))
    return page


@pytest.fixture
def demo(site, settings):
    settings.DEBUG = True
    call_command("seed_demo")
    settings.DEBUG = False


def attempt(username, code, number=1):
    return Assessment.objects.get(
        enrolment__candidate__username=username, enrolment__unit__code=code, attempt=number
    )


def enrolment(username, code):
    return Enrolment.objects.get(candidate__username=username, unit__code=code)


def unsampled_round(demo_round):
    """A second round over the demo round's population, its sample not chosen yet."""
    return moderation.create_round(
        unit=demo_round.unit,
        name="Still to sample",
        period_start=demo_round.period_start,
        period_end=demo_round.period_end,
        by=User.objects.get(username="admin"),
    )


def administrator_pages():
    lucy = enrolment("candidate2", "57")
    mia = attempt("candidate4", "BSBCUS301B")
    cohort = Cohort.objects.get(name__contains="(AU)")
    round_ = ModerationRound.objects.get()
    sample = ModerationSample.objects.filter(round=round_).first()
    unsampled = unsampled_round(round_)
    return [
        "/",
        reverse("assessments:enrolment_list"),
        lucy.get_absolute_url(),
        reverse("assessments:enrolment_create"),
        reverse("assessments:enrolment_reassign", args=[lucy.pk]),
        reverse("assessments:cohort_list"),
        cohort.get_absolute_url(),
        reverse("assessments:cohort_create"),
        reverse("assessments:cohort_edit", args=[cohort.pk]),
        reverse("user_list"),
        reverse("user_create"),
        reverse("candidate_import"),
        reverse("user_edit", args=[lucy.candidate_id]),
        reverse("assessments:queue"),
        reverse("evidence:evidence_list"),
        reverse("evidence:evidence_list") + f"?candidate={lucy.candidate_id}",
        mia.get_absolute_url(),
        reverse("assessments:amend", args=[mia.pk]),
        reverse("reports:assessment_record_preview", args=[mia.pk]),
        reverse("reports:transcript_preview", args=[mia.enrolment.candidate_id]),
        reverse("moderation:round_list"),
        reverse("moderation:round_create"),
        round_.get_absolute_url(),
        # Its forms to draw the sample, and to pick it by hand from the population.
        unsampled.get_absolute_url(),
        reverse("moderation:round_population", args=[unsampled.pk]),
        reverse("moderation:round_summary", args=[round_.pk]),
        reverse("moderation:round_export", args=[round_.pk]),
        reverse("moderation:sample_assign", args=[sample.pk]),
        # The administrator moderates the demo round.
        reverse("moderation:my_reviews"),
        sample.get_absolute_url(),
        reverse("standards:unit_list"),
        reverse("standards:unit_detail", args=["57"]),
        reverse("standards:unit_detail", args=["BSBCUS301B"]),
        reverse("standards:unit_detail", args=["BSBCUS501B"]),
        reverse("password_change"),
        reverse("assessments:enrolment_status_change", args=[lucy.pk]),
        reverse("integrations:token_list"),
        reverse("integrations:token_create"),
        reverse("integrations:call_list"),
        reverse("integrations:webhook_list"),
        reverse("integrations:webhook_create"),
        reverse("integrations:results_export"),
    ]


def assessor_pages():
    lucy = enrolment("candidate2", "57")
    submitted = attempt("candidate2", "57")
    locked = Evidence.objects.get(candidate__username="candidate2")
    return [
        "/",
        reverse("assessments:queue"),
        # The marking page: Lucy's US57 attempt is waiting for this assessor.
        submitted.get_absolute_url(),
        reverse("assessments:enrolment_list"),
        lucy.get_absolute_url(),
        reverse("evidence:evidence_list") + f"?candidate={lucy.candidate_id}",
        locked.get_absolute_url(),
        reverse("evidence:coverage", args=[lucy.pk]),
        reverse("evidence:evidence_create", args=["observation"]),
        reverse("evidence:evidence_create", args=["questioning"]),
        reverse("evidence:evidence_create", args=["third_party"]),
        reverse("reports:transcript_preview", args=[lucy.candidate_id]),
        reverse("moderation:my_decisions"),
    ]


def second_assessor_pages():
    mia = attempt("candidate4", "BSBCUS301B")
    jack = attempt("candidate3", "BSBCUS301B")
    sample = ModerationSample.objects.get(assessment=mia)
    return [
        "/",
        mia.get_absolute_url(),
        jack.get_absolute_url(),
        reverse("assessments:amend", args=[mia.pk]),
        reverse("reports:assessment_record_preview", args=[mia.pk]),
        reverse("moderation:my_decisions"),
        reverse("moderation:decision", args=[sample.pk]),
        reverse("moderation:my_reviews"),
    ]


def candidate_pages():
    tama = enrolment("candidate", "57")
    evidence = Evidence.objects.get(candidate__username="candidate")
    return [
        "/",
        reverse("assessments:enrolment_list"),
        tama.get_absolute_url(),
        attempt("candidate", "57").get_absolute_url(),
        reverse("evidence:evidence_list"),
        evidence.get_absolute_url(),
        reverse("evidence:evidence_edit", args=[evidence.pk]),
        reverse("evidence:evidence_map", args=[evidence.pk]),
        reverse("evidence:evidence_create", args=["file"]),
        reverse("evidence:evidence_create", args=["written"]),
        reverse("evidence:coverage", args=[tama.pk]),
        reverse("evidence:submit", args=[tama.pk]),
        reverse("reports:transcript_preview", args=[tama.candidate_id]),
        reverse("password_change"),
    ]


def submitted_candidate_pages():
    lucy = enrolment("candidate2", "57")
    return [
        attempt("candidate2", "57").get_absolute_url(),
        Evidence.objects.get(candidate__username="candidate2").get_absolute_url(),
        reverse("evidence:submit", args=[lucy.pk]),
    ]


def resubmitting_candidate_pages():
    jack = enrolment("candidate3", "BSBCUS301B")
    return [
        "/",
        jack.get_absolute_url(),
        attempt("candidate3", "BSBCUS301B", 1).get_absolute_url(),
        attempt("candidate3", "BSBCUS301B", 2).get_absolute_url(),
        reverse("evidence:coverage", args=[jack.pk]),
        reverse("evidence:submit", args=[jack.pk]),
        reverse("notifications:list"),
        reverse("notifications:settings"),
    ]


def competent_candidate_pages():
    mia = attempt("candidate4", "BSBCUS301B")
    return [
        "/",
        mia.get_absolute_url(),
        reverse("reports:assessment_record_preview", args=[mia.pk]),
        reverse("reports:transcript_preview", args=[mia.enrolment.candidate_id]),
    ]


PAGES = {
    "admin": administrator_pages,
    "assessor": assessor_pages,
    "assessor2": second_assessor_pages,
    "candidate": candidate_pages,
    "candidate2": submitted_candidate_pages,
    "candidate3": resubmitting_candidate_pages,
    "candidate4": competent_candidate_pages,
}


def audit(page, paths):
    """Every page's serious and critical violations, by path (all of them, not just the first)."""
    found = {}
    for path in paths:
        response = page.goto(path)
        assert response.ok, f"{path}: HTTP {response.status}"
        assert page.title(), path
        violations = serious_violations(page)
        if violations:
            found[path] = violations
    return found


def test_login_pages(page):
    assert (
        audit(page, [reverse("login"), reverse("password_reset"), reverse("password_reset_done")])
        == {}
    )


@pytest.mark.parametrize("username", PAGES)
def test_every_main_page_of_each_role(page, demo, username):
    log_in(page, username, DEMO_PASSWORD)
    assert audit(page, PAGES[username]()) == {}


def test_pages_showing_errors_and_htmx_updates(page, demo):
    """Error messages and htmx swaps change the markup; axe checks it in those states too."""
    found = {}

    def check(state):
        violations = serious_violations(page)
        if violations:
            found[state] = violations

    log_in(page, "assessor", DEMO_PASSWORD)
    page.goto(attempt("candidate2", "57").get_absolute_url())
    card = page.get_by_role("article", name=re.compile(r"^1\.2 "))
    card.locator("summary").click()  # folded to one line until opened
    card.get_by_label("Satisfactory", exact=True).check()
    card.get_by_role("button", name="Save 1.2").click()
    expect(card.get_by_role("alert")).to_be_visible()
    check("judgement refused")
    card = page.get_by_role("article", name=re.compile(r"^1\.1 "))
    card.get_by_label("Not yet satisfactory", exact=True).check()
    card.get_by_label("Comment").fill("Define customer care in your own words.")
    card.get_by_role("button", name="Save 1.1").click()
    expect(card.get_by_role("status")).to_have_text("Saved.")
    expect(page.get_by_role("button", name="Sign off the result")).to_be_disabled()
    check("judgement saved, progress and sign-off swapped in")

    log_in(page, "candidate", DEMO_PASSWORD)
    page.goto(reverse("evidence:evidence_create", args=["written"]))
    page.get_by_role("button", name="Add to portfolio").click()
    expect(page.get_by_text("This field is required.").first).to_be_visible()
    check("evidence form with errors")
    page.goto(
        reverse(
            "evidence:evidence_map", args=[Evidence.objects.get(candidate__username="candidate").pk]
        )
    )
    page.get_by_role("button", name="Map", exact=True).click()
    expect(page.get_by_text("This field is required.")).to_be_visible()
    check("map form with errors")

    log_in(page, "admin", DEMO_PASSWORD)
    page.goto(reverse("moderation:round_create"))
    page.get_by_label("Unit").select_option(label="US57 Provide customer service")
    page.get_by_label("Name").fill("Nothing to moderate")
    page.get_by_label("First day").fill("2025-01-01")
    page.get_by_label("Last day").fill("2025-01-31")
    page.get_by_role("button", name="Create round").click()
    expect(page.get_by_text("No attempts at US57 were signed off")).to_be_visible()
    check("round form with errors")
    page.goto(unsampled_round(ModerationRound.objects.get()).get_absolute_url())
    page.get_by_role("button", name="Draw the sample").click()
    expect(page.get_by_text("This field is required.")).to_be_visible()
    check("draw form with errors")
    assert found == {}


def test_keyboard_user_can_reach_main_content(page, demo):
    log_in(page, "assessor", DEMO_PASSWORD)
    page.goto("/enrolments/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    assert skip.evaluate("el => el === document.activeElement")
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"


# Bootstrap's collapse: "collapsing" while it slides, then "collapse show" when open.
OPEN = re.compile(r"(^|\s)show(\s|$)")
OPEN_OR_MOVING = re.compile(r"(^|\s)(show|collapsing)(\s|$)")


def is_focused(locator):
    return locator.evaluate("el => el === document.activeElement")


def open_menu_by_keyboard(page, name, key, first_item):
    """Open a navbar dropdown from the keyboard, walk into it, close it with Escape."""
    toggle = page.get_by_role("button", name=name)
    toggle.focus()
    page.keyboard.press(key)
    item = page.get_by_role("link", name=first_item)
    item.wait_for(state="visible")
    assert toggle.get_attribute("aria-expanded") == "true"
    page.keyboard.press("ArrowDown")
    assert is_focused(item), f"{name}: ArrowDown does not reach {first_item!r}"
    page.keyboard.press("Escape")
    item.wait_for(state="hidden")
    assert is_focused(toggle), f"{name}: Escape does not return focus to the toggle"


def test_navbar_dropdowns_open_with_the_keyboard(page, demo):
    log_in(page, "admin", DEMO_PASSWORD)
    page.goto("/")
    open_menu_by_keyboard(page, "Moderation", "Enter", "Moderation rounds")
    open_menu_by_keyboard(page, "Administration", "Space", "People")
    open_menu_by_keyboard(page, "Aroha Ngata", "Enter", "Change password")
    page.get_by_role("button", name="Aroha Ngata").click()
    expect(page.get_by_text("Administrator, moderator", exact=True)).to_be_visible()


def test_navbar_fits_every_width_without_sideways_scrolling(page, demo):
    """The administrator's navbar is the longest: it must collapse before it overflows."""
    log_in(page, "admin", DEMO_PASSWORD)
    toggler = page.get_by_role("button", name="Toggle navigation")
    for width, collapsed in [(768, True), (1024, True), (1199, True), (1200, False), (1280, False)]:
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width, width
        assert toggler.is_visible() == collapsed, width


def test_tablet_navbar_collapses_and_opens_by_keyboard(browser, site, demo):
    # Reduced motion: Bootstrap then skips its transitions, so axe never measures the
    # colours of a button halfway through a fade.
    context = browser.new_context(
        viewport={"width": 768, "height": 1024}, base_url=site.url, reduced_motion="reduce"
    )
    context.set_default_timeout(15_000)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    try:
        log_in(page, "admin", DEMO_PASSWORD)
        page.goto("/")
        toggler = page.get_by_role("button", name="Toggle navigation")
        menu = page.locator("#main-nav")
        units = menu.get_by_role("link", name="Units", exact=True)
        expect(toggler).to_be_visible()
        expect(toggler).to_have_attribute("aria-expanded", "false")
        expect(units).to_be_hidden()
        assert serious_violations(page) == []

        toggler.focus()
        page.keyboard.press("Enter")
        # Bootstrap ignores the toggler while the menu slides, so wait until it has settled.
        expect(menu).to_have_class(OPEN)
        expect(toggler).to_have_attribute("aria-expanded", "true")
        expect(units).to_be_visible()
        # The dropdowns work from the keyboard inside the opened menu too.
        open_menu_by_keyboard(page, "Administration", "Enter", "People")
        open_menu_by_keyboard(page, "Aroha Ngata", "Space", "Change password")
        page.keyboard.press("Enter")
        expect(page.get_by_role("link", name="Change password")).to_be_visible()
        assert serious_violations(page) == []
        page.keyboard.press("Escape")

        toggler.focus()
        page.keyboard.press("Space")
        expect(menu).not_to_have_class(OPEN_OR_MOVING)
        expect(toggler).to_have_attribute("aria-expanded", "false")
        expect(units).to_be_hidden()
        page.keyboard.press("Space")
        expect(menu).to_have_class(OPEN)
        expect(units).to_be_visible()
    finally:
        context.close()
