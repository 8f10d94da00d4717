"""The marking page as a workspace: evidence panel, evidence-first decisions, bulk apply, the
per-criterion save's cost, and the candidate's view of feedback."""

import io
from functools import cache

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject

from assessments import services
from assessments.models import AuditEntry, ModerationRound, ModerationSample
from evidence import review
from evidence.models import EvidenceFile, EvidenceMapping, MappingDecision
from evidence.services import create_evidence_with_files, map_evidence
from standards.models import PerformanceCriterion, Unit

from .conftest import US57_1_2_RANGE
from .test_assessment import ALL_RULES, add_evidence, judge, judge_all, judgement, satisfactory

pytestmark = pytest.mark.django_db

HOSTILE_HTML = b"<html><body><script>alert('polyglot')</script></body></html>"


@cache
def png_bytes(size=(40, 30)):
    buffer = io.BytesIO()
    Image.new("RGB", size, "teal").save(buffer, format="PNG")
    return buffer.getvalue()


@cache
def polyglot_png():
    """A valid PNG that is also an HTML page with a script, if anything sniffed it as HTML."""
    return png_bytes() + HOSTILE_HTML


@cache
def pdf_with_javascript(pages=2):
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=300, height=400)
    script = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Action"),
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject("app.alert('pdf script ran');"),
        }
    )
    action = writer._add_object(script)
    writer._root_object[NameObject("/OpenAction")] = action
    writer._root_object[NameObject("/Names")] = DictionaryObject(
        {
            NameObject("/JavaScript"): DictionaryObject(
                {NameObject("/Names"): ArrayObject([TextStringObject("open"), action])}
            )
        }
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def hostile_files(candidate, title):
    """An item of a polyglot PNG and a PDF with JavaScript (both pass the upload check)."""
    return create_evidence_with_files(
        candidate=candidate,
        by=candidate,
        kind="file",
        data={"title": title},
        uploads=[
            SimpleUploadedFile("desk.png", polyglot_png()),
            SimpleUploadedFile("log.pdf", pdf_with_javascript()),
        ],
    )


def enrol_and_submit(people, candidate, unit_code, numbers, title="Workplace log"):
    enrolment = services.enrol(
        candidate=candidate,
        unit=Unit.objects.get(code=unit_code),
        assessor=people["assessor"],
        by=people["admin"],
    )
    add_evidence(candidate, unit_code, numbers, title=title)
    return services.submit_for_assessment(
        assessment=enrolment.assessments.get(), by=candidate, declaration_accepted=True
    )


@pytest.fixture
def people(make_user):
    return {
        "admin": make_user("admin", "administrator"),
        "assessor": make_user("assessor", "assessor"),
        "other_assessor": make_user("other", "assessor"),
        "moderator": make_user("moderator", "assessor", is_moderator=True),
        "candidate": make_user("cand", "candidate"),
        "other_candidate": make_user("cand2", "candidate"),
    }


def criterion(number, unit_code="57"):
    return PerformanceCriterion.objects.get(outcome__unit__code=unit_code, number=number)


@pytest.fixture
def attempt(people):
    """Lucy's US57 attempt, submitted with a written answer, a photo (a polyglot) and a PDF
    (with JavaScript), each mapped to criteria; the answer claims part of 1.2's range."""
    enrolment = services.enrol(
        candidate=people["candidate"],
        unit=Unit.objects.get(code="57"),
        assessor=people["assessor"],
        by=people["admin"],
    )
    candidate = people["candidate"]
    answer = add_evidence(candidate, "57", [], title="Written answer")
    c12 = criterion("1.2")
    map_evidence(
        evidence=answer,
        by=candidate,
        criteria=[c12, criterion("1.1")],
        note="Who my customers are.",
        range_items=[i for s in c12.range_statements.all() for i in s.items.all()][:2],
    )
    files = hostile_files(candidate, "Service desk photo and log")
    map_evidence(evidence=files, by=candidate, criteria=[criterion("2.1")])
    assessment = services.submit_for_assessment(
        assessment=enrolment.assessments.get(), by=candidate, declaration_accepted=True
    )
    return assessment, answer, files


def file_named(evidence, name):
    return evidence.files.get(original_name=name)


def moderate(people, assessment):
    """Put the attempt in a moderation sample for the moderator (it must be signed off)."""
    judge_all(assessment, people["assessor"])
    services.sign_off(
        assessment=assessment, by=people["assessor"], feedback="", declaration_accepted=True
    )
    moderation_round = ModerationRound.objects.create(
        unit=assessment.enrolment.unit,
        name="Check",
        minimum_per_assessor=1,
        percent_per_assessor=0,
        period_start="2020-01-01",
        period_end="2100-01-01",
        created_by=people["admin"],
    )
    ModerationSample.objects.create(
        round=moderation_round,
        assessment=assessment,
        assessor=people["assessor"],
        moderator=people["moderator"],
        result=assessment.result,
        assigned_at=timezone.now(),
    )


# --- the evidence panel ------------------------------------------------------------------------


def test_panel_shows_written_text_image_pdf_pages_and_file_facts(client, people, attempt):
    assessment, answer, files = attempt
    client.force_login(people["assessor"])
    page = client.get(assessment.get_absolute_url()).content.decode()
    panel_url = reverse("evidence:review_panel", args=[assessment.pk, files.pk])
    assert f'hx-get="{panel_url}"' in page
    response = client.get(panel_url, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<html" not in html  # the partial, not a page
    png, pdf = file_named(files, "desk.png"), file_named(files, "log.pdf")
    assert f'src="{reverse("evidence:file_view", args=[png.pk])}"' in html
    assert reverse("evidence:pdf_page", args=[pdf.pk, 1]) in html
    assert reverse("evidence:pdf_page", args=[pdf.pk, 2]) in html
    assert "log.pdf, page 2 of 2" in html
    assert pdf.sha256 in html and png.sha256 in html
    assert "Confirm 2.1" in html
    # Without JavaScript the same panel is a page of its own.
    full = client.get(panel_url).content.decode()
    assert "<html" in full and "Back to the marking page" in full
    written = client.get(
        reverse("evidence:review_panel", args=[assessment.pk, answer.pk]),
        headers={"HX-Request": "true"},
    ).content.decode()
    assert "What I did." in written
    assert "Range items claimed: customer; front-line customer service staff" in written


def test_a_polyglot_image_is_reencoded_and_served_sandboxed(client, people, attempt):
    assessment, _, files = attempt
    client.force_login(people["assessor"])
    response = client.get(reverse("evidence:file_view", args=[file_named(files, "desk.png").pk]))
    body = response.getvalue()
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith("sandbox; default-src 'none'")
    assert b"<script" not in body and b"<html" not in body
    assert Image.open(io.BytesIO(body)).size == (40, 30)


def test_pdf_pages_are_drawn_as_images_within_the_bound(client, people, attempt, settings):
    assessment, _, files = attempt
    pdf = file_named(files, "log.pdf")
    client.force_login(people["assessor"])
    response = client.get(reverse("evidence:pdf_page", args=[pdf.pk, 2]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Security-Policy"].startswith("sandbox")
    assert response["X-Content-Type-Options"] == "nosniff"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG" and image.size[0] == 1000
    assert client.get(reverse("evidence:pdf_page", args=[pdf.pk, 3])).status_code == 404
    settings.EVIDENCE_PDF_PREVIEW_PAGES = 1
    assert client.get(reverse("evidence:pdf_page", args=[pdf.pk, 2])).status_code == 404
    html = client.get(
        reverse("evidence:review_panel", args=[assessment.pk, files.pk]),
        headers={"HX-Request": "true"},
    ).content.decode()
    assert "Showing the first 1 of 2 pages" in html
    # A PDF is never served inline as a PDF, nor an image as a page.
    assert client.get(reverse("evidence:file_view", args=[pdf.pk])).status_code == 404
    png = file_named(files, "desk.png")
    assert client.get(reverse("evidence:pdf_page", args=[png.pk, 1])).status_code == 404


def test_text_files_are_plain_text_and_office_files_only_download(client, people, attempt):
    assessment, _, files = attempt
    text = EvidenceFile.objects.create(
        evidence=files,
        file=SimpleUploadedFile("notes.txt", b"<script>alert(1)</script> plain notes"),
        original_name="notes.txt",
        content_type="text/plain",
        size=37,
        sha256="0" * 64,
    )
    docx = EvidenceFile.objects.create(
        evidence=files,
        file=SimpleUploadedFile("plan.docx", b"PK\x03\x04"),
        original_name="plan.docx",
        content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        size=4,
        sha256="1" * 64,
    )
    client.force_login(people["assessor"])
    response = client.get(reverse("evidence:file_view", args=[text.pk]))
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Security-Policy"].startswith("sandbox")
    assert client.get(reverse("evidence:file_view", args=[docx.pk])).status_code == 404
    html = client.get(
        reverse("evidence:review_panel", args=[assessment.pk, files.pk]),
        headers={"HX-Request": "true"},
    ).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; plain notes" in html
    assert "Download plan.docx" in html and "1" * 64 in html


VIDEO = bytes(range(256)) * 40  # 10,240 bytes


def _video(evidence):
    return EvidenceFile.objects.create(
        evidence=evidence,
        file=SimpleUploadedFile("role-play.mp4", VIDEO),
        original_name="role-play.mp4",
        content_type="video/mp4",
        size=len(VIDEO),
        sha256="a" * 64,
    )


def _body(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize(
    ("asked", "status", "content_range", "body"),
    [
        (None, 200, None, VIDEO),
        ("bytes=0-", 206, "bytes 0-10239/10240", VIDEO),
        ("bytes=100-199", 206, "bytes 100-199/10240", VIDEO[100:200]),
        ("bytes=10000-20000", 206, "bytes 10000-10239/10240", VIDEO[10000:]),
        ("bytes=-40", 206, "bytes 10200-10239/10240", VIDEO[-40:]),
        ("bytes=-20000", 206, "bytes 0-10239/10240", VIDEO),
        ("bytes=10240-", 416, "bytes */10240", b""),
        ("bytes=-0", 416, "bytes */10240", b""),
        # Not taken up, as HTTP allows: the whole file.
        ("bytes=0-1,5-9", 200, None, VIDEO),
        ("bytes=9-5", 200, None, VIDEO),
        ("items=0-5", 200, None, VIDEO),
        ("bytes=x-5", 200, None, VIDEO),
    ],
)
def test_video_is_served_by_the_byte_range_the_browser_asks_for(
    client, people, attempt, asked, status, content_range, body
):
    """Browsers play and seek in audio and video by asking for ranges of bytes; Safari
    plays no video from a server that does not answer them."""
    _, _, files = attempt
    video = _video(files)
    client.force_login(people["assessor"])
    headers = {"Range": asked} if asked else {}
    response = client.get(reverse("evidence:file_view", args=[video.pk]), headers=headers)
    assert response.status_code == status
    assert response.get("Content-Range") == content_range
    assert _body(response) == body
    if status != 416:
        assert response["Content-Length"] == str(len(body))
        assert response["Content-Type"] == "video/mp4"
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"] == f'"{"a" * 64}"'
    assert response["Content-Security-Policy"].startswith("sandbox")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_resumed_download_gets_the_rest_only_of_the_same_file(client, people, attempt):
    _, _, files = attempt
    video = _video(files)
    client.force_login(people["candidate"])
    url = video.get_absolute_url()
    same = client.get(url, headers={"Range": "bytes=5000-", "If-Range": f'"{"a" * 64}"'})
    assert same.status_code == 206 and _body(same) == VIDEO[5000:]
    assert same["Content-Disposition"].startswith("attachment")
    # The browser holds another version of the file: all of this one.
    other = client.get(url, headers={"Range": "bytes=5000-", "If-Range": '"0000"'})
    assert other.status_code == 200 and _body(other) == VIDEO
    dated = client.get(
        url, headers={"Range": "bytes=5000-", "If-Range": "Wed, 21 Oct 2026 07:28:00 GMT"}
    )
    assert dated.status_code == 200 and _body(dated) == VIDEO


def test_a_range_of_someone_elses_file_is_404(client, people, attempt):
    _, _, files = attempt
    video = _video(files)
    client.force_login(people["other_candidate"])
    for url in (video.get_absolute_url(), reverse("evidence:file_view", args=[video.pk])):
        assert client.get(url, headers={"Range": "bytes=0-99"}).status_code == 404


@pytest.mark.parametrize(
    ("who", "panel", "files"),
    [
        ("assessor", 200, 200),
        ("admin", 200, 200),
        ("other_assessor", 404, 404),
        ("other_candidate", 404, 404),
        # Candidates see their own files; the panel belongs to the marking page.
        ("candidate", 404, 200),
    ],
)
def test_panel_and_inline_files_are_404_for_anyone_not_entitled(
    client, people, attempt, who, panel, files
):
    assessment, _, evidence = attempt
    client.force_login(people[who])
    png, pdf = file_named(evidence, "desk.png"), file_named(evidence, "log.pdf")
    url = reverse("evidence:review_panel", args=[assessment.pk, evidence.pk])
    assert client.get(url, headers={"HX-Request": "true"}).status_code == panel
    assert client.get(reverse("evidence:file_view", args=[png.pk])).status_code == files
    assert client.get(reverse("evidence:pdf_page", args=[pdf.pk, 1])).status_code == files
    mapping = evidence.mappings.get()
    decide = reverse("evidence:decide_mapping", args=[assessment.pk, mapping.pk])
    expected = 302 if who == "assessor" else 404
    assert client.post(decide, {"decision": "confirmed"}).status_code == expected
    apply_url = reverse("assessments:apply_to_unjudged", args=[assessment.pk])
    assert client.post(apply_url, {"methods": ["portfolio"]}).status_code == expected
    j = judgement(assessment, "2.3")
    judge_url = reverse("assessments:judge", args=[assessment.pk, j.pk])
    posted = {f"j{j.pk}-verdict": "", f"j{j.pk}-version": str(j.version)}
    assert client.post(judge_url, posted).status_code == expected
    assert client.post(judge_url, posted, headers={"HX-Request": "true"}).status_code == (
        200 if who == "assessor" else 404
    )


def test_the_moderator_of_a_sample_opens_its_evidence_but_decides_nothing(client, people, attempt):
    assessment, _, evidence = attempt
    client.force_login(people["moderator"])
    url = reverse("evidence:review_panel", args=[assessment.pk, evidence.pk])
    assert client.get(url).status_code == 404
    moderate(people, assessment)
    html = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "desk.png" in html and "Confirm 2.1" not in html
    mapping = evidence.mappings.get()
    decide = reverse("evidence:decide_mapping", args=[assessment.pk, mapping.pk])
    assert client.post(decide, {"decision": "confirmed"}).status_code == 404


def test_an_item_outside_the_attempt_is_404_in_its_panel(client, people, attempt):
    assessment, _, _ = attempt
    later = add_evidence(people["candidate"], "57", ["3.1"], title="After submitting")
    client.force_login(people["assessor"])
    url = reverse("evidence:review_panel", args=[assessment.pk, later.pk])
    assert client.get(url).status_code == 404


# --- evidence-first judging -------------------------------------------------------------------


def test_confirming_a_mapping_is_audited_and_ticks_its_range_items(client, people, attempt):
    assessment, answer, _ = attempt
    mapping = answer.mappings.get(criterion__number="1.2")
    client.force_login(people["assessor"])
    response = client.post(
        reverse("evidence:decide_mapping", args=[assessment.pk, mapping.pk]),
        {"decision": "confirmed"},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    c12 = criterion("1.2")
    # The criterion's list on the marking page is swapped too, saying which items to tick.
    assert f'id="mapped-{c12.pk}" class="mapped-evidence" hx-swap-oob="true"' in html
    decision = MappingDecision.objects.get()
    assert (decision.decision, decision.decided_by) == ("confirmed", people["assessor"])
    entry = AuditEntry.objects.get(action="mapping confirmed")
    assert entry.after["criterion"] == "1.2" and entry.before is None
    j = judgement(assessment, "1.2")
    # Folded on the page, 1.2 is loaded as the browser does when the assessor opens it.
    page = client.get(reverse("assessments:judge", args=[assessment.pk, j.pk])).content.decode()
    ticked = [
        item
        for s in c12.range_statements.all()
        for item in s.items.all()
        if f'id="j{j.pk}-r-{item.pk}" value="{item.pk}" checked' in page
    ]
    assert [item.text for item in ticked] == US57_1_2_RANGE[:2]
    assert "Confirmed" in page


def test_rejecting_needs_a_reason_and_is_shown_with_the_criterion(client, people, attempt):
    assessment, _, files = attempt
    mapping = files.mappings.get()
    with pytest.raises(ValidationError, match="Say why"):
        review.decide_mapping(
            assessment=assessment, mapping=mapping, by=people["assessor"], decision="rejected"
        )
    review.decide_mapping(
        assessment=assessment,
        mapping=mapping,
        by=people["assessor"],
        decision="rejected",
        reason="The photo does not show a customer.",
    )
    review.decide_mapping(
        assessment=assessment, mapping=mapping, by=people["assessor"], decision="confirmed"
    )
    entries = AuditEntry.objects.filter(action__startswith="mapping").order_by("pk")
    assert [e.action for e in entries] == ["mapping rejected", "mapping confirmed"]
    assert entries[1].before == {
        "decision": "rejected",
        "reason": "The photo does not show a customer.",
    }
    assert MappingDecision.objects.get().decision == "confirmed"


def test_decisions_only_while_awaiting_judgement_and_only_on_the_attempts_mappings(people, attempt):
    assessment, answer, _ = attempt
    other = add_evidence(people["candidate"], "57", ["3.1"], title="Not submitted")
    with pytest.raises(ValidationError, match="not part of this attempt"):
        review.decide_mapping(
            assessment=assessment,
            mapping=other.mappings.get(),
            by=people["assessor"],
            decision="confirmed",
        )
    judge_all(assessment, people["assessor"])
    services.sign_off(
        assessment=assessment, by=people["assessor"], feedback="", declaration_accepted=True
    )
    with pytest.raises(ValidationError, match="not awaiting judgement"):
        review.decide_mapping(
            assessment=assessment,
            mapping=answer.mappings.first(),
            by=people["assessor"],
            decision="confirmed",
        )
    assert not MappingDecision.objects.exists()


# --- the compact page ---------------------------------------------------------------------------


def test_coverage_rule_is_stated_where_the_range_items_are(client, people, attempt):
    assessment, _, _ = attempt
    client.force_login(people["assessor"])
    opened = reverse("assessments:judge", args=[assessment.pk, judgement(assessment, "1.2").pk])
    assert "All items required" in client.get(opened).content.decode()
    au_attempt = enrol_and_submit(people, people["candidate"], "BSBCUS301B", ["1.1"])
    au_page = client.get(au_attempt.get_absolute_url()).content.decode()
    assert "Examples only" in au_page


def test_judged_criteria_fold_to_one_line_and_the_next_is_open(client, people, attempt):
    assessment, _, _ = attempt
    j = judgement(assessment, "1.1")
    services.record_judgement(
        judgement=j, by=people["assessor"], expected_version=0, data=satisfactory(j)
    )
    client.force_login(people["assessor"])
    page = client.get(assessment.get_absolute_url()).content.decode()
    assert page.count('<details class="criterion-details" open>') == 1
    opened = page.index('<details class="criterion-details" open>')
    assert page.rindex('id="criterion-1.2"', 0, opened) > page.index('id="criterion-1.1"')
    # A folded criterion's form is loaded when it is opened (htmx), or with ?criterion=
    # (without JavaScript); it shows what was saved, an unjudged one "Not judged yet".
    unjudged = judgement(assessment, "1.2").pk
    saved_radio = (
        f'type="radio" name="j{j.pk}-verdict" id="j{j.pk}-v-s" value="satisfactory" checked>'
    )
    url = reverse("assessments:judge", args=[assessment.pk, j.pk])
    assert saved_radio not in page
    assert f'hx-get="{url}" hx-trigger="toggle once"' in page
    assert f'href="?criterion={j.pk}#criterion-1.1"' in page
    loaded = client.get(url).content.decode()
    assert loaded.count('<details class="criterion-details" open>') == 1
    assert saved_radio in loaded and "Evidence mapped to 1.1" in loaded
    without_js = client.get(f"{assessment.get_absolute_url()}?criterion={j.pk}").content.decode()
    assert saved_radio in without_js
    assert without_js.count('<details class="criterion-details" open>') == 1
    assert f'type="radio" name="j{unjudged}-verdict" id="j{unjudged}-v-u" value="" checked>' in page
    assert f'id="j{unjudged}-v-n" value="not_yet"><label class="form-check-label"' in page
    assert "Keyboard shortcuts" in page and "<kbd>j</kbd>" in page
    assert 'src="/static/js/marking.js"' in page
    assert "style=" not in page and "<script>" not in page


def test_apply_to_unjudged_saves_and_audits_each_criterion_leaving_verdicts(
    client, people, attempt
):
    assessment, _, _ = attempt
    done = judgement(assessment, "1.1")
    services.record_judgement(
        judgement=done, by=people["assessor"], expected_version=0, data=satisfactory(done)
    )
    client.force_login(people["assessor"])
    response = client.post(
        reverse("assessments:apply_to_unjudged", args=[assessment.pk]),
        {"methods": ["portfolio", "questioning"], "rules": ["valid", "authentic"]},
        follow=True,
    )
    assert "Applied to 11 unjudged criteria" in response.content.decode()
    for j in assessment.judgements.exclude(pk=done.pk):
        assert (j.verdict, j.methods, j.valid, j.authentic, j.sufficient) == (
            "",
            ["portfolio", "questioning"],
            True,
            True,
            False,
        )
    done.refresh_from_db()
    assert done.methods == ["observation"]
    assert AuditEntry.objects.filter(action="judgement changed").count() == 12


def test_apply_to_unjudged_refuses_an_empty_choice(people, attempt):
    assessment, _, _ = attempt
    with pytest.raises(ValidationError, match="Choose the methods"):
        services.apply_to_unjudged(
            assessment=assessment, by=people["assessor"], methods=[], rules=[]
        )
    assert not AuditEntry.objects.filter(action="judgement changed").exists()


def test_a_range_item_of_another_criterion_is_refused(client, people, attempt):
    assessment, _, _ = attempt
    j = judgement(assessment, "1.1")
    foreign = criterion("1.2").range_statements.first().items.first()
    with pytest.raises(ValidationError, match="this criterion's range only"):
        services.record_judgement(
            judgement=j,
            by=people["assessor"],
            expected_version=0,
            data=satisfactory(j, range_items=[foreign.pk]),
        )


def test_a_judgement_of_another_attempt_is_404(client, people, attempt, make_user):
    assessment, _, _ = attempt
    other = services.enrol(
        candidate=people["other_candidate"],
        unit=Unit.objects.get(code="57"),
        assessor=people["assessor"],
        by=people["admin"],
    )
    foreign = other.assessments.get().judgements.first()
    client.force_login(people["assessor"])
    response = client.post(
        reverse("assessments:judge", args=[assessment.pk, foreign.pk]),
        {f"j{foreign.pk}-version": "0", f"j{foreign.pk}-verdict": ""},
    )
    assert response.status_code == 404


def _more_of_everything(people, assessment, n):
    """More candidates, evidence, mappings and decisions: what must not change the counts."""
    for i in range(n):
        candidate = people["other_candidate"].__class__.objects.create_user(
            username=f"more{n}{i}", password="x", role="candidate"
        )
        enrol_and_submit(people, candidate, "57", ["1.1"])
        extra = add_evidence(people["candidate"], "57", ["1.2", "2.1", "3.2"], title=f"X{n}{i}")
        assessment.evidence.add(extra)
        for mapping in EvidenceMapping.objects.filter(evidence=extra):
            review.decide_mapping(
                assessment=assessment, mapping=mapping, by=people["assessor"], decision="confirmed"
            )


def save_criterion(client, assessment, j, **extra):
    """A save of one criterion as the page posts it; call the result to send it."""
    prefix = f"j{j.pk}"
    j.refresh_from_db()
    items = [i.pk for s in j.criterion.range_statements.all() for i in s.items.all()]
    return lambda: client.post(
        reverse("assessments:judge", args=[assessment.pk, j.pk]),
        {
            f"{prefix}-verdict": "satisfactory",
            f"{prefix}-methods": ["observation"],
            f"{prefix}-range_items": items,
            **{f"{prefix}-{rule}": "on" for rule in ALL_RULES},
            f"{prefix}-comment": "",
            f"{prefix}-version": str(j.version),
            **extra,
        },
        headers={"HX-Request": "true"},
    )


# Besides the session and the user: the locked judgement with its attempt and progress, its
# range with what is ticked, the update, the range items added and the audit entry. The
# criterion's mapped evidence is not read: the page keeps its list. The test's transaction
# adds a savepoint pair (production: BEGIN and COMMIT).
SAVE_QUERIES = 7
SAVEPOINTS = 2


@pytest.mark.parametrize("size", [0, 4])
def test_page_and_save_query_counts_do_not_grow(
    client, people, attempt, django_assert_max_num_queries, size
):
    assessment, _, _ = attempt
    _more_of_everything(people, assessment, size)
    client.force_login(people["assessor"])
    # Session, user, attempt, judgements, every criterion's range, mappings and what the
    # confirmed ones claim, attempts, audit entries.
    with django_assert_max_num_queries(9):
        response = client.get(assessment.get_absolute_url())
    assert response.status_code == 200
    # Opening a folded criterion: session, user, attempt, judgements, its range, its
    # mappings and what they claim.
    opened = reverse("assessments:judge", args=[assessment.pk, judgement(assessment, "2.1").pk])
    with django_assert_max_num_queries(7):
        response = client.get(opened, headers={"HX-Request": "true"})
    assert 'class="judgement-form"' in response.content.decode()
    for number in ["1.2", "2.1"]:
        save = save_criterion(client, assessment, judgement(assessment, number))
        with django_assert_max_num_queries(SAVE_QUERIES + SAVEPOINTS):
            response = save()
        assert "Saved." in response.content.decode()
        # The page keeps the criterion's mapped evidence as it shows it.
        assert 'class="mapped-evidence" hx-preserve="true"></div>' in response.content.decode()
    # A change of mind (items removed as well as added) is one query more, still in bound.
    j = judgement(assessment, "1.2")
    first = criterion("1.2").range_statements.first().items.first()
    save = save_criterion(
        client, assessment, j, **{f"j{j.pk}-verdict": "", f"j{j.pk}-range_items": [first.pk]}
    )
    with django_assert_max_num_queries(SAVE_QUERIES + 1 + SAVEPOINTS):
        save()


@pytest.mark.parametrize("size", [0, 4])
def test_signed_off_page_query_count_does_not_grow(
    client, people, attempt, django_assert_max_num_queries, size
):
    assessment, _, _ = attempt
    _more_of_everything(people, assessment, size)
    judge_all(assessment, people["assessor"])
    services.sign_off(
        assessment=assessment, by=people["assessor"], feedback="", declaration_accepted=True
    )
    client.force_login(people["admin"])
    # Session, user, attempt, judgements, every criterion's range, mappings (their claims
    # are only read to tick an unjudged criterion), attempts, audit entries. Amendments
    # are read once the history has one (tests/test_amendments.py).
    with django_assert_max_num_queries(8):
        response = client.get(assessment.get_absolute_url())
    assert response.status_code == 200
    assert "Satisfactory" in response.content.decode()
    # A folded criterion opened: the judgement as recorded, no form.
    opened = reverse("assessments:judge", args=[assessment.pk, judgement(assessment, "2.1").pk])
    with django_assert_max_num_queries(7):
        html = client.get(opened, headers={"HX-Request": "true"}).content.decode()
    assert "Rules of evidence" in html and "Evidence mapped to 2.1" in html
    assert "judgement-form" not in html


@pytest.mark.parametrize("saves", [1, 60])
def test_the_attempt_page_shows_its_latest_changes_and_the_history_is_paged(
    client, people, attempt, django_assert_max_num_queries, saves
):
    """An attempt saved many times costs its marking page no more: the page loads its
    latest changes when they come into view, current then; the whole history has a page
    of its own, 50 changes a page; each in a fixed number of queries."""
    assessment, _, _ = attempt
    j = judgement(assessment, "2.1")
    for n in range(saves):
        j.refresh_from_db()
        judge(j, people["assessor"], comment=f"Saved {n} times over.")
    count = assessment.audit.count()
    client.force_login(people["assessor"])
    with django_assert_max_num_queries(7):
        page = client.get(assessment.get_absolute_url()).content.decode()
    section = page[page.rindex("<section", 0, page.index('id="history-h"')) :]
    latest_url = reverse("assessments:assessment_latest_changes", args=[assessment.pk])
    assert f'hx-get="{latest_url}" hx-trigger="revealed"' in section.split(">")[0]
    assert '<td class="text-nowrap">' not in section  # not read with the page
    # Without JavaScript, the whole history is a link away.
    history_url = reverse("assessments:assessment_history", args=[assessment.pk])
    assert f'href="{history_url}"' in section
    j.refresh_from_db()
    judge(j, people["assessor"], comment="Saved after the page was read.")
    with django_assert_max_num_queries(5):
        latest = client.get(latest_url, headers={"HX-Request": "true"}).content.decode()
    assert latest.lstrip().startswith("<section") and 'id="history-h"' in latest
    assert "hx-get" not in latest  # loaded once, in place
    assert latest.count('<td class="text-nowrap">') == min(count + 1, 5)
    assert "Saved after the page was read." in latest
    assert f"Saved {saves - 1} times over." in latest
    count += 1
    assert f"{count} entries, hash-chained" in latest
    url = reverse("assessments:assessment_history", args=[assessment.pk])
    with django_assert_max_num_queries(8):
        first = client.get(url).content.decode()
    assert first.count('<td class="text-nowrap">') == min(count, 50)
    assert "Saved 0 times over." in first
    if count > 50:
        assert "Page 1 of 2" in first
        second = client.get(url, {"page": 2}).content.decode()
        assert second.count('<td class="text-nowrap">') == count - 50
        assert f"Saved {saves - 1} times over." in second


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("assessor", 200),
        ("admin", 200),
        ("other_assessor", 404),
        ("moderator", 404),
        ("candidate", 404),
        ("other_candidate", 404),
    ],
)
def test_the_history_page_is_404_for_anyone_not_entitled(client, people, attempt, who, status):
    assessment, _, _ = attempt
    client.force_login(people[who])
    url = reverse("assessments:assessment_history", args=[assessment.pk])
    assert client.get(url).status_code == status


def test_save_without_the_test_transaction_is_at_most_seven_queries(
    client, people, attempt, django_assert_max_num_queries
):
    """The same save, counted as production runs it: no savepoints inside a test transaction."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    assessment, _, _ = attempt
    client.force_login(people["assessor"])
    save = save_criterion(client, assessment, judgement(assessment, "2.1"))
    with CaptureQueriesContext(connection) as queries:
        save()
    real = [q for q in queries if "SAVEPOINT" not in q["sql"]]
    assert len(real) <= SAVE_QUERIES, [q["sql"][:80] for q in real]


# --- the candidate's view of feedback ---------------------------------------------------------


def test_candidate_sees_what_to_do_next_for_each_not_yet_criterion(client, people, attempt):
    assessment, _, _ = attempt
    judge_all(assessment, people["assessor"], not_yet={"3.1"})
    services.sign_off(
        assessment=assessment,
        by=people["assessor"],
        feedback="One more example of a complaint, please.",
        declaration_accepted=True,
    )
    client.force_login(people["candidate"])
    page = client.get(assessment.get_absolute_url()).content.decode()
    assert "What to do next" in page
    assert '<a href="#criterion-3.1">3.1</a>: Show this with a real customer.' in page
    assert "Show 3.1 in attempt 2" in page
    assert reverse("evidence:evidence_create", args=["file"]) in page
    assert reverse("evidence:submit", args=[assessment.enrolment_id]) in page
    # The assessor's panel and decisions are not the candidate's.
    assert reverse("evidence:review_panel", args=[assessment.pk, 1])[:-2] not in page


def test_a_signed_off_criterion_lists_the_range_covered_and_the_rules_met_in_order(
    client, people, attempt
):
    assessment, _, _ = attempt
    judge_all(assessment, people["assessor"], not_yet={"1.2"})
    j = judgement(assessment, "1.2")
    items = [i for s in j.criterion.range_statements.all() for i in s.items.all()]
    judge(
        j,
        people["assessor"],
        verdict="not_yet",
        comment="Show the rest of the range.",
        range_items=[items[2], items[0]],
        sufficient=False,
        authentic=False,
    )
    services.sign_off(
        assessment=assessment,
        by=people["assessor"],
        feedback="1.2 next.",
        declaration_accepted=True,
    )
    client.force_login(people["admin"])
    page = client.get(assessment.get_absolute_url()).content.decode()
    criterion_html = page[page.index('id="criterion-1.2"') : page.index('id="criterion-1.3"')]
    assert f">{items[0].text}; {items[2].text}; </dd>" in criterion_html
    assert 'Rules of evidence</dt><dd class="col-sm-9">valid current</dd>' in criterion_html


def test_pdf_with_javascript_is_stored_but_only_ever_drawn(people, attempt):
    _, _, files = attempt
    pdf = file_named(files, "log.pdf")
    with pdf.file.open("rb") as stored:
        reader = PdfReader(stored)
        assert "/JavaScript" in reader.trailer["/Root"]["/Names"]


def test_a_stale_save_is_refused_again_until_the_page_is_reloaded(client, people, attempt):
    assessment, _, _ = attempt
    j = judgement(assessment, "2.3")
    stale = save_criterion(client, assessment, j)
    services.record_judgement(
        judgement=j, by=people["assessor"], expected_version=0, data=satisfactory(j)
    )
    client.force_login(people["assessor"])
    html = stale().content.decode()
    assert "after you opened it" in html
    # The refused form keeps the version it was read at, so saving it again is refused too.
    assert f'name="j{j.pk}-version" value="0"' in html


def test_marking_checkboxes_escape_what_they_show():
    from assessment_portal.templatetags.choices import inline_checkboxes

    html = inline_checkboxes(
        [
            ("j1-range_items", "j1-r-2", 2, "<b>Tom & Jerry</b>", True),
            ("j1-valid", "j1-valid", None, "Valid", False),
        ]
    )
    assert (
        '<input class="form-check-input" type="checkbox" name="j1-range_items" id="j1-r-2" '
        'value="2" checked><label class="form-check-label" for="j1-r-2">'
        "&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</label>"
    ) in html
    assert 'name="j1-valid" id="j1-valid"><label' in html
