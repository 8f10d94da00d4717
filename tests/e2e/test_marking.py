"""The marking page in Chromium: judging a whole unit by keyboard with the evidence panel
open, evidence viewed inline, and hostile files that must not run."""

import re
import time

import pytest
from django.core.management import call_command
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from assessments import services
from assessments.models import Assessment, AuditEntry
from evidence.models import MappingDecision
from evidence.services import map_evidence
from standards.models import PerformanceCriterion, Unit

from ..test_marking import hostile_files
from .conftest import log_in, serious_violations

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DEMO_PASSWORD = "demo-portal-2026"
US57_CRITERIA = ["1.1", "1.2", "1.3", "1.4", "2.1", "2.2", "2.3", "2.4", "3.1", "3.2", "3.3", "3.4"]


@pytest.fixture
def demo(site, settings):
    settings.DEBUG = True
    call_command("seed_demo")
    settings.DEBUG = False


def press_tab_until(page, locator, limit=150):
    """Tab through the page (keyboard only) until ``locator`` has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if locator.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {locator}")


def focused(page, selector):
    """Whether the focus is on ``selector`` within a few seconds (a folded criterion's form
    loads when it is opened, and a key pressed meanwhile acts once it has)."""
    try:
        page.wait_for_function(f"() => document.activeElement.matches({selector!r})", timeout=5000)
    except PlaywrightTimeoutError:
        return False
    return True


def watch_for_scripts(page):
    """Dialogs and console messages that a hostile file's script would cause."""
    seen = []
    page.on("dialog", lambda dialog: (seen.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.on(
        "console",
        lambda message: (
            seen.append(f"console: {message.text}")
            if "polyglot" in message.text or "pdf script" in message.text
            else None
        ),
    )
    return seen


def slow_criterion_loads(route):
    if route.request.method == "GET":
        time.sleep(0.3)
    route.continue_()


def test_assessor_judges_a_whole_unit_by_keyboard_with_the_evidence_panel_open(page, demo):
    log_in(page, "assessor", DEMO_PASSWORD)
    assessment = Assessment.objects.get(
        enrolment__candidate__username="candidate2", enrolment__unit__code="57"
    )
    # A folded criterion's form arrives a moment after it is opened: the keys pressed
    # meanwhile (s below) act once it has.
    page.route(re.compile(r"/criteria/\d+/$"), slow_criterion_loads)
    page.goto(assessment.get_absolute_url())
    expect(page.locator("#progress")).to_contain_text("0 of 12")

    # One action gives every unjudged criterion its methods and rules of evidence.
    apply = page.locator("details.apply-all")
    press_tab_until(page, apply.locator("summary"))
    page.keyboard.press("Enter")
    for label in ["Portfolio", "Questioning", "Valid", "Sufficient", "Authentic", "Current"]:
        press_tab_until(page, apply.get_by_label(label, exact=True))
        page.keyboard.press("Space")
    press_tab_until(page, apply.get_by_role("button", name=re.compile("^Apply to the 12")))
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert").filter(has_text="Applied to 12 unjudged")).to_be_visible()
    page.wait_for_load_state()

    # j to the first criterion, e to see its evidence beside it.
    page.keyboard.press("j")
    assert focused(page, "[id='criterion-1.1'] summary")
    page.keyboard.press("e")
    panel = page.locator("#evidence-panel")
    expect(panel.get_by_role("heading", level=2)).to_be_visible()
    # Evidence-first: p goes to the panel, where the assessor confirms the item's first mapping.
    page.keyboard.press("p")
    assert focused(page, "#evidence-panel")
    confirm = panel.get_by_role("button", name=re.compile(r"^Confirm \d"))
    press_tab_until(page, confirm.first, limit=20)
    page.keyboard.press("Enter")
    expect(panel.locator(".badge", has_text="Confirmed").first).to_be_visible()
    assert MappingDecision.objects.filter(decision="confirmed").count() == 1
    # j comes back to the criterion from the panel.
    page.keyboard.press("j")
    assert focused(page, "[id='criterion-1.1'] summary")

    page.evaluate("() => { window.stillThisPage = true; }")
    for done, number in enumerate(US57_CRITERIA, start=1):
        article = page.locator(f"[id='criterion-{number}']")
        if done > 1:
            page.keyboard.press("j")
        assert focused(page, f"[id='criterion-{number}'] summary"), number
        page.keyboard.press("s")
        assert focused(page, "input[type=radio][value=satisfactory]")
        # Tick whatever range items are not ticked yet (all are required on some criteria).
        for box in article.locator("input[name$='-range_items']").all():
            if not box.is_checked():
                press_tab_until(page, box)
                page.keyboard.press("Space")
        page.keyboard.press("Control+Enter")
        expect(article.get_by_role("status")).to_have_text("Saved.")
        expect(page.locator("#progress")).to_contain_text(f"{done} of 12")
        # Saved, it folds to one line and the keyboard stays on it.
        expect(article.locator("details")).not_to_have_attribute("open", "")
    assert page.evaluate("() => window.stillThisPage") is True
    expect(page.locator("#proposed-result")).to_contain_text("Achieved")
    assert serious_violations(page) == []

    sign_off = page.get_by_role("region", name="Sign off")
    press_tab_until(page, sign_off.get_by_label("I make the assessor declaration above."))
    page.keyboard.press("Space")
    press_tab_until(page, sign_off.get_by_role("button", name="Sign off the result"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert").filter(has_text="Signed off: Achieved.")).to_be_visible()
    assert AuditEntry.objects.filter(assessment=assessment, action="judgement changed").count() == (
        24
    )


@pytest.fixture
def hostile(site, make_user):
    """A submitted US57 attempt whose evidence is a polyglot PNG and a PDF with JavaScript."""
    admin = make_user("admin", "administrator")
    assessor = make_user("assessor", "assessor")
    candidate = make_user("cand", "candidate", first_name="Ana", last_name="Tui")
    enrolment = services.enrol(
        candidate=candidate, unit=Unit.objects.get(code="57"), assessor=assessor, by=admin
    )
    evidence = hostile_files(candidate, "Desk photo and log")
    map_evidence(
        evidence=evidence,
        by=candidate,
        criteria=[PerformanceCriterion.objects.get(outcome__unit__code="57", number="2.1")],
    )
    return services.submit_for_assessment(
        assessment=enrolment.assessments.get(), by=candidate, declaration_accepted=True
    ), evidence


def test_images_and_pdf_pages_show_inline_and_hostile_files_cannot_run(page, hostile):
    assessment, evidence = hostile
    seen = watch_for_scripts(page)
    log_in(page, "assessor")
    page.goto(assessment.get_absolute_url())
    page.get_by_role("link", name="Desk photo and log").first.click()
    panel = page.locator("#evidence-panel")
    image = panel.get_by_role("img", name=re.compile("^desk.png"))
    pages = panel.get_by_role("img", name=re.compile(r"^log.pdf, page \d of 2"))
    expect(image).to_be_visible()
    expect(pages).to_have_count(2)
    for img in [image, *pages.all()]:
        img.scroll_into_view_if_needed()
        expect(img).to_have_js_property("complete", True)
        assert img.evaluate("i => i.naturalWidth") > 0
    expect(panel).to_contain_text(evidence.files.get(original_name="log.pdf").sha256)
    assert serious_violations(page) == []

    # The assessor confirms the mapping in the panel; the criterion says so at once.
    panel.get_by_role("button", name="Confirm 2.1").click()
    expect(page.locator("[id='criterion-2.1'] .mapped-evidence")).to_contain_text("Confirmed")
    assert MappingDecision.objects.get().decision == "confirmed"

    # Opened on their own, as a page, the inline responses are still inert.
    for url in [image.get_attribute("src"), pages.first.get_attribute("src")]:
        response = page.goto(url)
        headers = response.headers
        assert headers["content-type"] == "image/png"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["content-security-policy"].startswith("sandbox; default-src 'none'")
    # The PDF itself only ever downloads.
    page.goto(assessment.get_absolute_url())
    with page.expect_download() as download:
        page.evaluate(
            "url => { const a = document.createElement('a'); a.href = url; a.click(); }",
            evidence.files.get(original_name="log.pdf").get_absolute_url(),
        )
    assert download.value.suggested_filename == "log.pdf"
    page.wait_for_timeout(300)
    assert seen == []
