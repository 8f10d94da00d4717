"""The assessment record and transcript: PDF contents, metadata, fonts, access."""

import io
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject

from assessments import enrolment_status, pdf, services
from evidence.models import EvidenceFile
from standards.models import PerformanceCriterion, Unit
from tests.test_assessment import add_evidence, judge_all, submitted

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(make_user):
    return {
        "admin": make_user("admin", "administrator"),
        "assessor": make_user("assessor", "assessor", first_name="Priya", last_name="Nair"),
        "other_assessor": make_user("other", "assessor"),
        "candidate": make_user(
            "cand",
            "candidate",
            first_name="Aroha",
            last_name="Ngāta",
            national_student_number="123456789",
            unique_student_identifier="3AW88YH9U5",
        ),
        "other_candidate": make_user("cand2", "candidate"),
    }


def signed_off(people, unit_code="57", not_yet=()):
    assessment = submitted(people, unit_code)
    judge_all(assessment, people["assessor"], not_yet=not_yet)
    assessment, _ = services.sign_off(
        assessment=assessment,
        by=people["assessor"],
        feedback="Show this with a real customer." if not_yet else "",
        declaration_accepted=True,
    )
    return assessment


def read_pdf(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    return PdfReader(io.BytesIO(response.content))


def text_of(reader):
    return "\n".join(page.extract_text() for page in reader.pages)


def criterion_numbers(unit_code):
    return list(
        PerformanceCriterion.objects.filter(outcome__unit__code=unit_code).values_list(
            "number", flat=True
        )
    )


def record_url(assessment, **query):
    url = reverse("reports:assessment_record", args=[assessment.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_record_pdf_shows_every_criterion_the_candidate_and_the_result(client, people):
    assessment = signed_off(people)
    client.force_login(people["assessor"])
    response = client.get(record_url(assessment))
    reader = read_pdf(response)
    text = text_of(reader)

    assert 1 <= len(reader.pages) <= 8
    numbers = criterion_numbers("57")
    assert len(numbers) == 12
    for number in numbers:
        assert number in text
    assert "Aroha Ngāta" in text
    assert "NSN 123456789" in text
    assert "Result Achieved" in text
    assert "Outcome 1" in text
    assert f"Page 1 of {len(reader.pages)}" in text
    assert "US57 · Aroha Ngāta" in reader.pages[-1].extract_text()  # running header
    assert services.CANDIDATE_DECLARATION[:60] in text.replace("\n", " ")
    # History times in the configured zone, named (issue 11): not UTC mislabelled.
    assert "When (Pacific/Auckland)" in text
    assert re.search(r"\d{2}:\d{2}:\d{2}\sNZ[DS]T", text)
    assert "Signed off: Achieved" in text

    assert response["Content-Disposition"] == (
        'attachment; filename="US57-assessment-record-cand-attempt-1.pdf"'
    )
    assert "private" in response["Cache-Control"]
    assert reader.metadata.title == (
        "Assessment record: US57 Provide customer service – Aroha Ngāta, attempt 1"
    )
    assert reader.metadata.author == "Priya Nair"


def test_record_lists_evidence_files_with_their_sha256(client, people):
    assessment = signed_off(people)
    evidence = assessment.evidence.get()
    digest = "ab" * 32
    EvidenceFile.objects.create(
        evidence=evidence,
        file="evidence/stored-name.pdf",
        original_name="customer-feedback.pdf",
        content_type="application/pdf",
        size=2048,
        sha256=digest,
    )
    client.force_login(people["assessor"])
    text = text_of(read_pdf(client.get(record_url(assessment))))
    assert "Workplace log · Written answer" in text
    assert "customer-feedback.pdf" in text
    assert f"SHA-256 {digest}" in text


def test_record_embeds_only_the_bundled_font(client, people):
    client.force_login(people["assessor"])
    reader = read_pdf(client.get(record_url(signed_off(people))))
    fonts = {
        font.get_object()["/BaseFont"]: font.get_object()
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert fonts
    for name, font in fonts.items():
        # Subset fonts are named "ABCDEF+<family>"; the font program is embedded.
        assert re.fullmatch(r"/[A-Z]{6}\+Source-Sans-3.*", name), name
        descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
        assert "/FontFile2" in descriptor


def _structure(reader):
    """(structure tree root, MarkInfo, Lang, XMP metadata text) of a PDF."""
    root = reader.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data().decode()
    return root.get("/StructTreeRoot"), root.get("/MarkInfo"), root.get("/Lang"), xmp


def _tags(node, found):
    """Every structure element type under ``node`` (issue 14: a tagged PDF)."""
    node = node.get_object()
    if isinstance(node, list | ArrayObject):
        for child in node:
            _tags(child, found)
    elif isinstance(node, DictionaryObject):
        if "/S" in node:
            found.add(node["/S"])
        if "/K" in node:
            _tags(node["/K"], found)
    return found


def test_archival_variant_is_tagged_pdf_a_3a(client, people):
    assessment = signed_off(people)
    client.force_login(people["assessor"])
    response = client.get(record_url(assessment, variant="archival"))
    reader = read_pdf(response)
    tree, mark_info, lang, xmp = _structure(reader)
    assert re.search(r"pdfaid:part(>|=\")3", xmp)
    assert re.search(r"pdfaid:conformance(>|=\")A", xmp)
    assert "/OutputIntents" in reader.trailer["/Root"]
    assert tree is not None and mark_info["/Marked"]
    assert lang == "en"
    assert response["Content-Disposition"].endswith('-attempt-1-archival.pdf"')


@pytest.mark.parametrize("document", ["record", "transcript"])
def test_ordinary_pdfs_are_tagged_pdf_ua(client, people, document):
    """Issue 14 item 6: a screen reader gets headings, tables and the language."""
    assessment = signed_off(people)
    client.force_login(people["assessor"])
    url = (
        record_url(assessment)
        if document == "record"
        else reverse("reports:transcript", args=[people["candidate"].pk])
    )
    reader = read_pdf(client.get(url))
    tree, mark_info, lang, xmp = _structure(reader)
    assert re.search(r"pdfuaid:part(>|=\")1", xmp)
    assert "pdfaid" not in xmp  # the ordinary PDF makes no PDF/A claim
    assert mark_info["/Marked"]
    assert lang == "en"
    tags = _tags(tree["/K"], set())
    assert {"/H1", "/H2", "/Table", "/TR", "/TH", "/TD"} <= tags
    assert reader.trailer["/Root"]["/ViewerPreferences"]["/DisplayDocTitle"]
    expected_title = (
        "Assessment record: US57 Provide customer service – Aroha Ngāta, attempt 1"
        if document == "record"
        else "Transcript: Aroha Ngāta"
    )
    assert reader.metadata.title == expected_title
    assert expected_title in xmp


def test_au_record_uses_competency_labels_and_shows_amendments(client, people):
    assessment = signed_off(people, unit_code="BSBCUS501B", not_yet={"2.2"})
    services.amend_result(
        assessment=assessment,
        by=people["admin"],
        new_result="achieved",
        reason="Workplace supervisor's report for 2.2 was found in the file.",
    )
    client.force_login(people["admin"])
    reader = read_pdf(client.get(record_url(assessment)))
    text = text_of(reader)
    for number in criterion_numbers("BSBCUS501B"):
        assert number in text
    assert "Element 1" in text
    assert "Performance criterion" in text
    assert "USI 3AW88YH9U5" in text
    assert "Result Competent" in text
    assert "signed off as Not yet competent" in text
    assert "Not yet competent → Competent" in text
    assert "supervisor's report for 2.2" in text
    assert "2.2: Not judged → Not yet satisfactory" in text
    assert "Achieved" not in text


def test_preview_is_the_same_template_in_html(client, people):
    assessment = signed_off(people)
    client.force_login(people["candidate"])
    response = client.get(reverse("reports:assessment_record_preview", args=[assessment.pk]))
    assert response.status_code == 200
    assert "reports/assessment_record.html" in [t.name for t in response.templates]
    content = response.content.decode()
    for number in criterion_numbers("57"):
        assert f'<th scope="row" class="number">{number}</th>' in content
    assert record_url(assessment) in content
    assert "css/report.css" in content
    assert "private" in response["Cache-Control"]


def test_candidate_sees_judgements_only_once_signed_off_and_no_change_history(client, people):
    assessment = submitted(people)
    judge_all(assessment, people["assessor"])
    client.force_login(people["candidate"])
    text = text_of(read_pdf(client.get(record_url(assessment))))
    assert "once the result is signed off" in text
    assert "Satisfactory" not in text
    assert "Not yet signed off" in text

    services.sign_off(
        assessment=assessment, by=people["assessor"], feedback="", declaration_accepted=True
    )
    text = text_of(read_pdf(client.get(record_url(assessment))))
    assert "Satisfactory" in text
    assert "Judgement and result history" not in text


@pytest.mark.parametrize("name", ["reports:assessment_record", "reports:assessment_record_preview"])
def test_record_is_not_found_for_anyone_else(client, people, name):
    url = reverse(name, args=[signed_off(people).pk])
    assert client.get(url)["Location"].startswith(reverse("login"))
    for role in ["other_candidate", "other_assessor"]:
        client.force_login(people[role])
        assert client.get(url).status_code == 404, role


def test_record_reads_the_same_number_of_queries_however_large(
    client, people, django_assert_max_num_queries
):
    small = submitted(people)  # US57: one evidence item, nothing judged

    big = signed_off(people, unit_code="BSBCUS301B", not_yet={"3.5"})
    for number in range(4):
        evidence = add_evidence(people["candidate"], "BSBCUS301B", ["1.1"], title=f"Log {number}")
        big.evidence.add(evidence)
        for part in range(3):
            EvidenceFile.objects.create(
                evidence=evidence,
                file=f"evidence/{number}-{part}",
                original_name=f"log-{number}-{part}.pdf",
                content_type="application/pdf",
                size=1,
                sha256="0" * 64,
            )
    services.amend_result(assessment=big, by=people["admin"], new_result="achieved", reason="x")

    # The history names range items from the unit's structure read for the outcomes.
    # Amendments are read only once the history records one: big's one more query.
    with django_assert_max_num_queries(7) as small_queries:
        small_context = pdf.assessment_record_context(pdf.record_attempts().get(pk=small.pk))
    with django_assert_max_num_queries(8) as big_queries:
        big_context = pdf.assessment_record_context(pdf.record_attempts().get(pk=big.pk))
    assert len(big_queries) == len(small_queries) + 1
    assert len(big_context["amendments"]) == 1
    assert len(big_context["evidence"]) == 5
    assert len(big_context["history"]) > len(small_context["history"])

    # The preview checks access and reads the record with the same fetch of the attempt.
    client.force_login(people["admin"])
    with django_assert_max_num_queries(9) as small_page:
        client.get(reverse("reports:assessment_record_preview", args=[small.pk]))
    with django_assert_max_num_queries(10) as big_page:
        client.get(reverse("reports:assessment_record_preview", args=[big.pk]))
    assert len(big_page) == len(small_page) + 1


def test_reports_load_nothing_but_static_files():
    with pytest.raises(pdf.ReportResourceError, match="only load static files"):
        pdf.html_to_pdf('<link rel="stylesheet" href="https://example.com/x.css">')
    with pytest.raises(pdf.ReportResourceError, match="No static file"):
        pdf.html_to_pdf('<link rel="stylesheet" href="/static/css/missing.css">')
    with pytest.raises(pdf.ReportResourceError):  # no climbing out of the static folders
        pdf.html_to_pdf('<img src="/static/%2e%2e/assessment_portal/settings.py">')


# --- transcript ---------------------------------------------------------------------


def test_transcript_lists_every_unit_with_its_current_result(client, people):
    signed_off(people)  # US57 achieved
    services.enrol(
        candidate=people["candidate"],
        unit=Unit.objects.get(code="BSBCUS301B"),
        assessor=people["other_assessor"],
        by=people["admin"],
    )
    client.force_login(people["candidate"])
    url = reverse("reports:transcript", args=[people["candidate"].pk])
    response = client.get(url)
    reader = read_pdf(response)
    text = text_of(reader)
    assert "NSN 123456789" in text
    assert "USI 3AW88YH9U5" in text
    assert "US57" in text
    assert "Provide customer service" in text
    assert "Achieved" in text
    assert "BSBCUS301B" in text
    assert "In progress" in text
    assert "NZQA credits 2 achieved" in text
    assert reader.metadata.title == "Transcript: Aroha Ngāta"
    assert response["Content-Disposition"] == 'attachment; filename="transcript-cand.pdf"'

    preview = client.get(reverse("reports:transcript_preview", args=[people["candidate"].pk]))
    assert "In progress" in preview.content.decode()
    assert url in preview.content.decode()


def test_transcript_shows_decisions_made_other_than_by_assessment(client, people):
    """Credit transfer counts as achieved (with its credits); a withdrawal is named."""
    for code, status in [("57", "credit_transfer"), ("BSBCUS301B", "withdrawn")]:
        enrolment = services.enrol(
            candidate=people["candidate"],
            unit=Unit.objects.get(code=code),
            assessor=people["assessor"],
            by=people["admin"],
        )
        enrolment_status.change_status(
            enrolment=enrolment,
            new_status=status,
            effective_date=timezone.localdate(),
            reason="Recorded by the provider.",
            by=people["admin"],
        )
    client.force_login(people["candidate"])
    page = client.get(reverse("reports:transcript_preview", args=[people["candidate"].pk]))
    html = page.content.decode()
    assert "Credit transfer" in html and "Withdrawn" in html
    assert '<td class="result">In progress' not in html
    assert "NZQA credits</th><td>2 achieved" in html


@pytest.mark.parametrize("name", ["reports:transcript", "reports:transcript_preview"])
def test_transcript_access(client, people, name):
    signed_off(people)
    url = reverse(name, args=[people["candidate"].pk])
    assert client.get(url)["Location"].startswith(reverse("login"))
    for role, status in [
        ("candidate", 200),
        ("assessor", 200),
        ("admin", 200),
        ("other_candidate", 404),
        ("other_assessor", 404),
    ]:
        client.force_login(people[role])
        assert client.get(url).status_code == status, role
    # Only candidates have transcripts.
    client.force_login(people["admin"])
    assert client.get(reverse(name, args=[people["assessor"].pk])).status_code == 404
