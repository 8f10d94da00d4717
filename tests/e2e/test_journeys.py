"""Three journeys through the real pages in Chromium, one per role.

Only the people and enrolments are set up beforehand (``enrol`` or ``seed_demo``);
everything else is done by clicking, typing and uploading as a person would.
Locators are accessible ones (role and label), so each journey also checks that
the controls it uses are named for assistive technology.
"""

import re

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect
from pypdf import PdfReader
from weasyprint import HTML

from assessments.models import Assessment
from assessments.services import enrol
from standards.models import Unit

from ..conftest import US57_1_2_RANGE
from .conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DEMO_PASSWORD = "demo-portal-2026"

US57_CRITERIA = ["1.1", "1.2", "1.3", "1.4", "2.1", "2.2", "2.3", "2.4", "3.1", "3.2", "3.3", "3.4"]
# Those whose range must be covered in full ("includes but is not limited to").
US57_FULL_RANGE = {"1.2", "1.3", "1.4", "2.1", "2.2", "3.2"}


@pytest.fixture
def demo(site, settings):
    settings.DEBUG = True
    call_command("seed_demo")
    settings.DEBUG = False


def see_message(page, text):
    """Wait for a flash message (an alert) that contains ``text``."""
    expect(page.get_by_role("alert").filter(has_text=text)).to_be_visible()


def navigate(page, name):
    """Follow a link in the main navigation."""
    page.get_by_role("navigation", name="Main navigation").get_by_role(
        "link", name=name, exact=True
    ).click()


def criterion_card(page, number):
    return page.get_by_role("article", name=re.compile(rf"^{re.escape(number)} "))


def unfold(card):
    """Open a criterion folded to its one line (the one to judge next is open already)."""
    if card.locator("details").get_attribute("open") is None:
        card.locator("summary").click()


# --- 1. a candidate uploads, maps, checks coverage and submits ---------------------------


def test_candidate_uploads_maps_and_submits(page, make_user, tmp_path):
    candidate = make_user("tama", "candidate", first_name="Tama", last_name="Hēnare")
    enrol(
        candidate=candidate,
        unit=Unit.objects.get(code="57"),
        assessor=make_user("sam", "assessor"),
        by=make_user("aroha", "administrator"),
    )
    pdf = tmp_path / "service-chain.pdf"
    pdf.write_bytes(
        HTML(
            string="<h1>Our service chain</h1><p>Customers, front-line and back-up staff, "
            "suppliers, manufacturers and distributors: who does what in our shop.</p>"
        ).write_pdf()
    )

    log_in(page, "tama")
    navigate(page, "My evidence")
    page.get_by_role("link", name="New uploaded files").click()
    page.get_by_label("Title").fill("Our service chain")
    page.get_by_label("Description").fill("A one-page chart I drew for the staff room.")
    page.get_by_label("Files").set_input_files(pdf)
    page.get_by_role("button", name="Add to portfolio").click()
    see_message(page, "Now map it to the criteria it shows")

    # Map it to 1.1 and 1.2, covering every item of 1.2's range.
    expect(page.get_by_role("heading", name="Map “Our service chain” to criteria")).to_be_visible()
    page.get_by_label("1.1 Terms customer care").check()
    page.get_by_label("1.2 Participants in the service chain").check()
    range_items = page.get_by_role("group", name="Range items it covers")
    for item in US57_1_2_RANGE:
        range_items.get_by_label(item, exact=True).check()
    page.get_by_label("Note").fill("The chart names each participant and their role.")
    page.get_by_role("button", name="Map", exact=True).click()
    see_message(page, "Mapped “Our service chain” to 1.1, 1.2.")
    expect(page.get_by_role("link", name="service-chain.pdf", exact=True)).to_be_visible()

    # Coverage: 1.1 and 1.2 have evidence and 1.2's range is covered.
    navigate(page, "My evidence")
    page.get_by_role("link", name="coverage of the criteria").click()
    expect(
        page.get_by_role("heading", name="Coverage of US57 Provide customer service")
    ).to_be_visible()
    expect(page.get_by_text("Of 12, 10 have no evidence yet")).to_be_visible()
    chain = page.get_by_role("row", name=re.compile(r"^1\.2 Participants"))
    expect(chain).to_contain_text("Nothing required, or all covered")
    expect(chain).not_to_contain_text("No evidence yet")
    expect(page.get_by_role("row", name=re.compile(r"^1\.3 "))).to_contain_text("No evidence yet")

    # Declare and submit.
    page.get_by_role("link", name="Submit for assessment").click()
    expect(page.get_by_role("heading", name="Gaps your assessor will see")).to_be_visible()
    page.get_by_label("I declare that the evidence I have submitted is my own work").check()
    page.get_by_role("button", name="Submit for assessment").click()
    see_message(page, "Submitted attempt 1 of US57 for assessment")
    attempt = page.get_by_role("row", name=re.compile(r"^Attempt 1 "))
    expect(attempt).to_contain_text("Awaiting judgement")

    # The item is locked: no edit, delete or add-files buttons.
    navigate(page, "My evidence")
    expect(page.get_by_role("row", name=re.compile("^Our service chain"))).to_contain_text(
        "Submitted, locked"
    )
    page.get_by_role("link", name="Our service chain").click()
    expect(page.get_by_role("heading", name="Our service chain")).to_contain_text(
        "Submitted, locked"
    )
    expect(page.get_by_role("link", name="service-chain.pdf", exact=True)).to_be_visible()
    for name in ["Edit", "Delete", "Add files", "Remove service-chain.pdf"]:
        expect(page.get_by_role("link", name=name, exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Unmap"))).to_have_count(0)
    assert Assessment.objects.get(enrolment__candidate=candidate).status == "submitted"


# --- 2. an assessor judges every criterion and signs off --------------------------------


def test_assessor_judges_every_criterion_and_signs_off(page, demo):
    log_in(page, "assessor", DEMO_PASSWORD)
    page.get_by_role("link", name="Awaiting judgement").first.click()
    expect(page.get_by_role("heading", name=re.compile("^Awaiting judgement"))).to_be_visible()
    page.get_by_role("row", name=re.compile("Lucy Chen")).get_by_role(
        "link", name="Lucy Chen"
    ).click()
    expect(page.get_by_role("heading", name="US57 Provide customer service")).to_be_visible()
    progress = page.locator("#progress")
    expect(progress).to_contain_text("0 of 12")

    # A full page load would forget this; htmx swaps keep it.
    page.evaluate("() => { window.stillThisPage = true; }")
    for done, number in enumerate(US57_CRITERIA, start=1):
        card = criterion_card(page, number)
        unfold(card)
        card.get_by_label("Satisfactory", exact=True).check()
        card.get_by_label("Portfolio", exact=True).check()
        card.get_by_label("Questioning", exact=True).check()
        if number in US57_FULL_RANGE:
            for box in (
                card.get_by_role("group", name="Range items covered").get_by_role("checkbox").all()
            ):
                box.check()
        for rule in ["Valid", "Sufficient", "Authentic", "Current"]:
            card.get_by_label(rule, exact=True).check()
        card.get_by_role("button", name=f"Save {number}").click()
        expect(card.get_by_role("status")).to_have_text("Saved.")
        expect(progress).to_contain_text(f"{done} of 12")
    expect(page.get_by_role("progressbar")).to_have_attribute("value", "12")
    assert page.evaluate("() => window.stillThisPage") is True

    sign_off = page.get_by_role("region", name="Sign off")
    expect(sign_off).to_contain_text(
        "Every criterion is satisfactory. The result will be Achieved."
    )
    sign_off.get_by_label("Feedback to the candidate").fill(
        "Clear, well-organised evidence. Well done, Lucy."
    )
    sign_off.get_by_label("I make the assessor declaration above.").check()
    sign_off.get_by_role("button", name="Sign off the result").click()
    see_message(page, "Signed off: Achieved.")
    expect(
        page.get_by_role("heading", name=re.compile("^Signed off by Sam Whitford"))
    ).to_be_visible()

    # The candidate sees the result and the feedback.
    log_in(page, "candidate2", DEMO_PASSWORD)
    page.get_by_role("link", name="Attempt 1: Achieved").click()
    expect(page.get_by_text("Achieved", exact=True)).to_be_visible()
    expect(page.get_by_text("Clear, well-organised evidence. Well done, Lucy.")).to_be_visible()
    expect(criterion_card(page, "1.2")).to_contain_text(
        "customer; front-line customer service staff"
    )


# --- 3. an administrator runs a moderation round and downloads its report ---------------


def test_administrator_moderates_and_downloads_the_report(page, demo, tmp_path):
    today = timezone.localdate()  # the administrator's calendar, as the form reads it
    log_in(page, "admin", DEMO_PASSWORD)
    page.get_by_role("button", name="Moderation").click()
    page.get_by_role("link", name="Moderation rounds").click()
    page.get_by_role("link", name="New round").click()

    page.get_by_label("Unit").select_option(
        label="BSBCUS301B Deliver and monitor a service to customers"
    )
    page.get_by_label("Name").fill("BSBCUS301B external moderation")
    page.get_by_label("First day").fill(f"{today:%Y}-01-01")
    page.get_by_label("Last day").fill(f"{today:%Y-%m-%d}")
    page.get_by_role("button", name="Create round").click()
    see_message(page, "Created BSBCUS301B external moderation")

    draw = page.get_by_role("region", name="Draw by rule")
    draw.get_by_label("Seed").fill("7")
    draw.get_by_label("Aroha Ngata (administrator)").check()
    draw.get_by_role("button", name="Draw the sample").click()
    see_message(page, "Sampled 2 attempts for moderation.")
    samples = page.get_by_role("table", name="Sampled attempts with their moderators")
    expect(samples.get_by_role("row", name=re.compile("Mia Nguyen"))).to_contain_text("Aroha Ngata")
    expect(samples.get_by_role("row", name=re.compile("Jack Morrison"))).to_contain_text(
        "awaiting review"
    )

    page.get_by_role("link", name="Report", exact=True).click()
    page.get_by_label("PDF").check()
    page.get_by_role("button", name="Build the report").click()
    see_message(page, "The report is being built")
    link = page.get_by_role("link", name="Download PDF")
    expect(link).to_be_visible()
    with page.expect_download() as download:
        link.click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.suffix == ".pdf"

    text = "\n".join(p.extract_text() for p in PdfReader(path).pages)
    assert "BSBCUS301B external moderation" in text
    assert "BSBCUS301B Deliver and monitor a service to customers" in text
    assert "0 of 2 reviewed" in text
    assert "Mia Nguyen" in text
    assert "Jack Morrison" in text
