"""The evidence portfolio: uploads, written answers, assessor records, mapping, coverage, submit."""

import hashlib
import io
import logging
import re
from datetime import date
from functools import cache

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from assessment_portal.queries import newest_first_page
from assessments import services as assessment_services
from assessments.models import Assessment, Judgement
from evidence import services
from evidence.models import Evidence, EvidenceFile, EvidenceMapping
from standards.models import PerformanceCriterion, RangeItem, Unit

from .conftest import US57_1_2_RANGE

pytestmark = pytest.mark.django_db


@cache
def pdf_bytes():
    from weasyprint import HTML

    return HTML(
        string="<h1>Customer service log</h1><p>Week 3: greeted 40 customers.</p>"
    ).write_pdf()


@cache
def png_bytes():
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "teal").save(buffer, format="PNG")
    return buffer.getvalue()


def upload(name, content):
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def criterion(unit_code, number):
    return PerformanceCriterion.objects.get(outcome__unit__code=unit_code, number=number)


def stored_files(media_root):
    return sorted(path for path in media_root.rglob("*") if path.is_file())


@pytest.fixture
def people(make_user):
    return {
        "admin": make_user("admin", "administrator"),
        "assessor": make_user("assessor", "assessor"),
        "other_assessor": make_user("other_assessor", "assessor"),
        "candidate": make_user("cand", "candidate"),
        "other": make_user("other_cand", "candidate"),
    }


@pytest.fixture
def enrolment(people):
    """The candidate in US57 with "assessor"; the other candidate with the other assessor."""
    unit = Unit.objects.get(code="57")
    assessment_services.enrol(
        candidate=people["other"],
        unit=unit,
        assessor=people["other_assessor"],
        by=people["admin"],
    )
    return assessment_services.enrol(
        candidate=people["candidate"], unit=unit, assessor=people["assessor"], by=people["admin"]
    )


def login(client, user):
    client.force_login(user)
    return client


def create_files_item(client, files, title="Customer service log"):
    return client.post(
        reverse("evidence:evidence_create", args=["file"]),
        {"title": title, "description": "My log book.", "files": files},
    )


def file_item(candidate, files=(("log.pdf", None),), title="Log book"):
    """A candidate's uploaded-files item, made through the service."""
    return services.create_evidence_with_files(
        candidate=candidate,
        by=candidate,
        kind="file",
        data={"title": title},
        uploads=[upload(name, content or pdf_bytes()) for name, content in files],
    )


def written_item(candidate, title="Answer", text="I greet each customer."):
    return services.create_evidence_with_files(
        candidate=candidate, by=candidate, kind="written", data={"title": title, "text": text}
    )


def map_to(evidence, *numbers, unit_code="57", range_items=(), by=None):
    return services.map_evidence(
        evidence=evidence,
        by=by or evidence.candidate,
        criteria=[criterion(unit_code, n) for n in numbers],
        range_items=range_items,
    )


def range_items(*texts, unit_code="57"):
    return list(
        RangeItem.objects.filter(range_statement__unit__code=unit_code, text__in=texts).order_by(
            "position"
        )
    )


# --- uploads ------------------------------------------------------------------------------


def test_good_upload_is_stored_under_a_server_name_with_its_sha256(
    client, people, enrolment, media_root
):
    login(client, people["candidate"])
    response = create_files_item(
        client, [upload("week 3 log.pdf", pdf_bytes()), upload("till.png", png_bytes())]
    )

    evidence = Evidence.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("evidence:evidence_map", args=[evidence.pk])
    assert (evidence.kind, evidence.candidate, evidence.recorded_by) == (
        "file",
        people["candidate"],
        people["candidate"],
    )
    files = list(evidence.files.all())
    assert [(f.original_name, f.content_type) for f in files] == [
        ("week 3 log.pdf", "application/pdf"),
        ("till.png", "image/png"),
    ]
    for stored, content in zip(files, [pdf_bytes(), png_bytes()], strict=True):
        assert stored.sha256 == hashlib.sha256(content).hexdigest()
        assert stored.size == len(content)
        path = media_root / stored.file.name
        assert path.read_bytes() == content
        assert path.resolve().is_relative_to(media_root.resolve())
        # Nothing of the candidate's name is used for storage.
        assert stored.file.name.startswith("evidence/")
        assert "week" not in stored.file.name and "till" not in stored.file.name
    assert len(stored_files(media_root)) == 2


def test_download_is_an_attachment_with_the_recorded_type_and_no_caching(client, people, enrolment):
    evidence = file_item(people["candidate"], files=[("Ōtaki report.pdf", None)])
    stored = evidence.files.get()
    login(client, people["candidate"])

    response = client.get(stored.get_absolute_url())

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == pdf_bytes()
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        "attachment; filename*=utf-8''%C5%8Ctaki%20report.pdf"
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"


def test_plain_file_name_is_sent_as_filename(client, people, enrolment):
    stored = file_item(people["candidate"], files=[("till.png", png_bytes())]).files.get()
    response = login(client, people["candidate"]).get(stored.get_absolute_url())
    assert response["Content-Disposition"] == 'attachment; filename="till.png"'
    assert response["Content-Type"] == "image/png"


SVG_WITH_SCRIPT = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.mark.parametrize(
    ("name", "content", "rule"),
    [
        ("empty.pdf", b"", "“empty.pdf” is empty."),
        (
            "report.pdf",
            b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
            "its contents are an HTML page, which is not an allowed evidence type",
        ),
        (
            "photo.jpg",
            b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200,
            "its contents are a Windows program, which is not an allowed evidence type",
        ),
        (
            "logo.png",
            SVG_WITH_SCRIPT,
            "its contents are an SVG image, which is not an allowed evidence type",
        ),
    ],
    ids=["empty", "html-as-pdf", "exe-as-jpg", "svg-with-script"],
)
def test_refused_file_names_the_rule_and_leaves_nothing(
    client, people, enrolment, media_root, name, content, rule
):
    login(client, people["candidate"])
    response = create_files_item(client, [upload(name, content)])

    assert response.status_code == 200
    assert rule in response.content.decode()
    assert not Evidence.objects.exists()
    assert not EvidenceFile.objects.exists()
    assert stored_files(media_root) == []


def test_one_bad_file_among_good_ones_saves_nothing(client, people, enrolment, media_root):
    login(client, people["candidate"])
    response = create_files_item(
        client,
        [
            upload("log.pdf", pdf_bytes()),
            upload("notes.pdf", b"<html><body>not a pdf</body></html>"),
            upload("till.png", png_bytes()),
        ],
    )

    assert response.status_code == 200
    assert "“notes.pdf” was not accepted" in response.content.decode()
    assert not Evidence.objects.exists()
    assert not EvidenceFile.objects.exists()
    assert stored_files(media_root) == []


def test_oversize_file_is_dropped_while_arriving_and_nothing_is_saved(
    client, people, enrolment, media_root, settings
):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 1000
    login(client, people["candidate"])
    response = create_files_item(
        client, [upload("big.pdf", b"%PDF-1.7\n" + b"x" * 5000), upload("till.png", png_bytes())]
    )

    assert response.status_code == 200
    content = response.content.decode()
    assert "“big.pdf” is over the 1000 bytes limit and was not uploaded." in content
    assert "Nothing was saved." in content
    assert not Evidence.objects.exists()
    assert stored_files(media_root) == []


def test_request_far_over_the_limit_is_refused_unread(client, people, enrolment, settings):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 1000
    login(client, people["candidate"])
    response = create_files_item(client, [upload("huge.pdf", b"%PDF-" + b"x" * (2 * 1024 * 1024))])

    assert response.status_code == 413
    assert "the limit is 1000 bytes" in response.content.decode()
    assert not Evidence.objects.exists()


def test_upload_still_needs_a_csrf_token(people, enrolment):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["candidate"])
    response = create_files_item(client, [upload("log.pdf", pdf_bytes())])
    assert response.status_code == 403
    assert not Evidence.objects.exists()


def test_files_stored_before_a_failure_are_removed(people, enrolment, media_root, monkeypatch):
    create = EvidenceFile.objects.create
    calls = []

    def fail_second(**kwargs):
        calls.append(kwargs)
        if len(calls) == 2:
            raise OSError("disk full")
        return create(**kwargs)

    monkeypatch.setattr(EvidenceFile.objects, "create", fail_second)
    with pytest.raises(OSError, match="disk full"):
        file_item(people["candidate"], files=[("a.pdf", None), ("b.png", png_bytes())])

    assert len(calls) == 2
    assert not Evidence.objects.exists()
    assert not EvidenceFile.objects.exists()
    assert stored_files(media_root) == []


def test_files_can_be_added_and_removed(
    client, people, enrolment, media_root, django_capture_on_commit_callbacks
):
    evidence = file_item(people["candidate"])
    login(client, people["candidate"])

    response = client.post(
        reverse("evidence:evidence_add_files", args=[evidence.pk]),
        {"files": [upload("till.png", png_bytes())]},
    )
    assert response.status_code == 302
    assert evidence.files.count() == 2
    first = evidence.files.first()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("evidence:file_delete", args=[first.pk]))
    assert response.status_code == 302
    assert list(evidence.files.values_list("original_name", flat=True)) == ["till.png"]
    assert len(stored_files(media_root)) == 1

    last = evidence.files.get()
    response = client.post(reverse("evidence:file_delete", args=[last.pk]), follow=True)
    assert "only file" in response.content.decode()
    assert evidence.files.count() == 1


# --- written answers and assessor records --------------------------------------------------


def test_sanitise_text_keeps_plain_text_only():
    raw = "Line one\r\nLine two\rLine\u2028three\x00\x07\x1b[31m\tindented\x7f"
    assert services.sanitise_text(raw) == "Line one\nLine two\nLine\nthree[31m\tindented"
    assert services.sanitise_text("A\nB\tC", multiline=False) == "A B C"


def test_written_answer_is_shown_escaped(client, people, enrolment):
    login(client, people["candidate"])
    response = client.post(
        reverse("evidence:evidence_create", args=["written"]),
        {"title": "Question 1", "text": "First line\r\n<script>alert(1)</script>\x07"},
    )
    evidence = Evidence.objects.get()
    assert response.status_code == 302
    assert evidence.text == "First line\n<script>alert(1)</script>"

    page = client.get(evidence.get_absolute_url()).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)</script>" not in page
    assert "First line<br>" in page


def test_assessor_records_an_observation_for_a_candidate_they_assess(client, people, enrolment):
    login(client, people["assessor"])
    page = client.get(reverse("evidence:evidence_create", args=["observation"]))
    assert list(page.context["form"].fields["candidate"].queryset) == [people["candidate"]]

    response = client.post(
        reverse("evidence:evidence_create", args=["observation"]),
        {
            "candidate": people["candidate"].pk,
            "title": "Served a customer at the counter",
            "occurred_on": "2026-03-02",
            "text": "Greeted the customer promptly, smiled, used polite language.",
        },
    )
    assert response.status_code == 302
    evidence = Evidence.objects.get()
    assert (evidence.candidate, evidence.recorded_by, evidence.kind) == (
        people["candidate"],
        people["assessor"],
        "observation",
    )
    # The candidate sees it and may map it, but only the assessor may edit it.
    login(client, people["candidate"])
    assert client.get(evidence.get_absolute_url()).status_code == 200
    assert client.get(reverse("evidence:evidence_edit", args=[evidence.pk])).status_code == 404
    assert client.get(reverse("evidence:evidence_map", args=[evidence.pk])).status_code == 200


def test_assessor_cannot_record_for_a_candidate_they_do_not_assess(client, people, enrolment):
    login(client, people["assessor"])
    response = client.post(
        reverse("evidence:evidence_create", args=["questioning"]),
        {
            "candidate": people["other"].pk,
            "title": "Oral questions",
            "occurred_on": "2026-03-02",
            "text": "Q: What is customer service? A: ...",
        },
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    with pytest.raises(ValidationError, match="You do not assess"):
        services.create_evidence_with_files(
            candidate=people["other"],
            by=people["assessor"],
            kind="observation",
            data={"title": "Q", "occurred_on": date(2026, 3, 2), "text": "Seen."},
        )
    assert not Evidence.objects.exists()


def test_third_party_report_needs_who_role_contact_and_statement(client, people, enrolment):
    login(client, people["assessor"])
    url = reverse("evidence:evidence_create", args=["third_party"])
    response = client.post(url, {"candidate": people["candidate"].pk, "title": "Supervisor"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {
        "third_party_name",
        "third_party_role",
        "third_party_contact",
        "text",
    }
    response = client.post(
        url,
        {
            "candidate": people["candidate"].pk,
            "title": "Supervisor's report",
            "third_party_name": "Mere Smith",
            "third_party_role": "Store manager",
            "third_party_contact": "mere@example.nz",
            "text": "Handles complaints calmly.",
        },
    )
    assert response.status_code == 302
    assert Evidence.objects.get().third_party_name == "Mere Smith"


def test_evidence_cannot_be_dated_in_the_future(people, enrolment):
    with pytest.raises(ValidationError, match="This date is in the future."):
        services.create_evidence_with_files(
            candidate=people["candidate"],
            by=people["assessor"],
            kind="observation",
            data={"title": "Q", "occurred_on": date(2999, 1, 1), "text": "Seen."},
        )
    assert not Evidence.objects.exists()


@pytest.mark.parametrize(
    ("role", "kind"),
    [("candidate", "observation"), ("assessor", "file"), ("admin", "written"), ("candidate", "x")],
)
def test_each_role_creates_only_its_kinds(client, people, enrolment, role, kind):
    login(client, people[role])
    assert client.get(reverse("evidence:evidence_create", args=[kind])).status_code == 404


def test_evidence_events_are_logged_with_the_actor(people, enrolment, caplog):
    with caplog.at_level(logging.INFO, logger="assessment_portal.audit"):
        evidence = written_item(people["candidate"])
        services.delete_evidence(evidence=evidence, by=people["candidate"])
    actor = people["candidate"].pk
    assert f"evidence created: evidence={evidence.pk} kind=written" in caplog.text
    assert f"evidence deleted: evidence={evidence.pk} candidate={actor} files=0 by={actor}" in (
        caplog.text
    )


def test_deleting_an_item_removes_its_stored_files_once_committed(
    client, people, enrolment, media_root, django_capture_on_commit_callbacks
):
    evidence = file_item(people["candidate"])
    login(client, people["candidate"])
    assert client.get(reverse("evidence:evidence_delete", args=[evidence.pk])).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("evidence:evidence_delete", args=[evidence.pk]))
    assert response.status_code == 302
    assert not Evidence.objects.exists()
    assert stored_files(media_root) == []


# --- who sees what ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["evidence_detail", "evidence_edit", "evidence_delete", "evidence_map", "evidence_add_files"],
)
def test_another_candidates_evidence_is_404(client, people, enrolment, name):
    evidence = file_item(people["candidate"])
    login(client, people["other"])
    assert client.get(reverse(f"evidence:{name}", args=[evidence.pk])).status_code == 404
    assert client.post(reverse(f"evidence:{name}", args=[evidence.pk])).status_code == 404
    assert Evidence.objects.get().title == "Log book"


def test_unmapping_needs_the_candidate_or_the_recording_assessor(client, people, enrolment):
    [mapping] = map_to(written_item(people["candidate"]), "1.1")
    url = reverse("evidence:evidence_unmap", args=[mapping.pk])
    for who in ["other", "assessor", "admin"]:
        assert login(client, people[who]).post(url).status_code == 404, who
    assert EvidenceMapping.objects.exists()
    assert login(client, people["candidate"]).post(url).status_code == 302
    assert not EvidenceMapping.objects.exists()


def test_downloads_only_for_those_who_may_see_the_item(client, people, enrolment, caplog):
    stored = file_item(people["candidate"]).files.get()
    url = stored.get_absolute_url()
    for who, status in [
        ("other", 404),
        ("other_assessor", 404),
        ("assessor", 200),
        ("admin", 200),
        ("candidate", 200),
    ]:
        login(client, people[who])
        with caplog.at_level(logging.WARNING, logger="assessment_portal.security"):
            assert client.get(url).status_code == status, who
    assert f"access denied: user={people['other'].pk}" in caplog.text


def test_coverage_and_submit_of_another_candidate_are_404(client, people, enrolment):
    login(client, people["other"])
    assert client.get(reverse("evidence:coverage", args=[enrolment.pk])).status_code == 404
    assert client.get(reverse("evidence:submit", args=[enrolment.pk])).status_code == 404
    login(client, people["assessor"])
    assert client.get(reverse("evidence:coverage", args=[enrolment.pk])).status_code == 200
    assert client.get(reverse("evidence:submit", args=[enrolment.pk])).status_code == 404


def test_portfolio_list_shows_what_each_role_may_see(client, people, enrolment):
    mine = written_item(people["candidate"], title="Mine")
    theirs = written_item(people["other"], title="Theirs")
    for who, expected in [
        ("candidate", {mine}),
        ("other", {theirs}),
        ("assessor", {mine}),
        ("other_assessor", {theirs}),
        ("admin", {mine, theirs}),
    ]:
        login(client, people[who])
        page = client.get(reverse("evidence:evidence_list")).context["page"]
        assert set(page) == expected, who
    login(client, people["admin"])
    response = client.get(reverse("evidence:evidence_list"), {"candidate": people["other"].pk})
    assert list(response.context["page"]) == [theirs]


def test_staff_find_a_candidates_evidence_by_search_not_a_list_of_everyone(
    client, people, enrolment, make_user, django_assert_max_num_queries
):
    people["other"].first_name, people["other"].last_name = "Aroha", "Ngata"
    people["other"].save()
    theirs = file_item(people["other"], title="Their log")
    mine = written_item(people["candidate"])
    login(client, people["admin"])
    url = reverse("evidence:evidence_list")
    page = client.get(url).content.decode()
    assert "<option" not in page  # no dropdown of every candidate
    assert list(client.get(url, {"q": "aroha ngata"}).context["page"]) == [theirs]
    login(client, people["assessor"])
    assert list(client.get(url, {"q": "aroha"}).context["page"]) == []  # not theirs to see
    assert list(client.get(url, {"q": "cand"}).context["page"]) == [mine]

    def visit(who):
        login(client, people[who])
        # Session, user, the page (and whether there is an older one), the people it names,
        # and its mapped criteria with their labels.
        with django_assert_max_num_queries(5):
            response = client.get(url)
        assert response.context["page"][0].file_count in (0, 1)

    for who in ["admin", "assessor"]:
        visit(who)
    for n in range(5):
        map_to(file_item(people["candidate"], title=f"More {n}"), "2.1", "1.1")
        file_item(make_user(f"x{n}"), title=f"Elsewhere {n}")
    for who in ["admin", "assessor"]:
        visit(who)
    page = client.get(url).content.decode()
    assert page.count("US57 1.1, US57 2.1</td>") == 5
    assert "Not mapped yet" in page


def test_evidence_pages_newest_first_walk_older_and_back_newer(client, people):
    """Older and Newer links walk the list without skipping or repeating an item; the
    filters stay on; a cursor that is not one, or past the end, shows the first page."""
    for n in range(5):
        written_item(people["candidate"], title=f"Answer {n}")
    items = list(Evidence.objects.order_by("-created_at", "-pk"))
    pages = [newest_first_page(Evidence.objects.all(), {}, 2)]
    while pages[-1].older:
        pages.append(newest_first_page(Evidence.objects.all(), {"older": pages[-1].older}, 2))
    assert [list(page) for page in pages] == [items[0:2], items[2:4], items[4:5]]
    assert [page.newer is None for page in pages] == [True, False, False]
    back = newest_first_page(Evidence.objects.all(), {"newer": pages[2].newer}, 2)
    assert list(back) == items[2:4] and back.newer and back.older
    back = newest_first_page(Evidence.objects.all(), {"newer": back.newer}, 2)
    assert list(back) == items[0:2] and back.newer is None
    for junk in ["x", "1.2.3", "-5.1", "99999999999999999.1", "", ".", "5."]:
        page = newest_first_page(Evidence.objects.all(), {"older": junk, "newer": junk}, 2)
        assert list(page) == items[0:2]
    # Nothing older than a moment in 1970: the first page again, not an empty one.
    assert list(newest_first_page(Evidence.objects.all(), {"older": "1.1"}, 2)) == items[0:2]


def test_evidence_list_links_to_older_and_newer_pages_keeping_the_search(client, people):
    for n in range(51):
        written_item(people["candidate"], title=f"Answer {n:02}")
    login(client, people["admin"])
    url = reverse("evidence:evidence_list")
    first = client.get(url, {"q": people["candidate"].last_name})
    assert "Answer 50" in first.content.decode() and "Answer 00" not in first.content.decode()
    older = first.context["page"].older
    assert f'href="?q={people["candidate"].last_name}&amp;older={older}">Older</a>' in (
        first.content.decode()
    )
    second = client.get(url, {"q": people["candidate"].last_name, "older": older})
    assert [item.title for item in second.context["page"]] == ["Answer 00"]
    assert ">Newer</a>" in second.content.decode() and ">Older</a>" not in second.content.decode()
    back = client.get(
        url, {"q": people["candidate"].last_name, "newer": second.context["page"].newer}
    )
    assert [item.title for item in back.context["page"]] == [
        f"Answer {n:02}" for n in range(50, 0, -1)
    ]


# --- mapping and coverage -------------------------------------------------------------------


def test_mapping_across_units_with_range_items(client, people, enrolment):
    assessment_services.enrol(
        candidate=people["candidate"],
        unit=Unit.objects.get(code="BSBCUS301B"),
        assessor=people["assessor"],
        by=people["admin"],
    )
    evidence = written_item(people["candidate"])
    login(client, people["candidate"])
    chosen = range_items("customer", "suppliers")

    response = client.post(
        reverse("evidence:evidence_map", args=[evidence.pk]),
        {
            "criteria": [criterion("57", "1.2").pk, criterion("BSBCUS301B", "1.1").pk],
            "range_items": [item.pk for item in chosen],
            "note": "Who is in our service chain.",
        },
    )

    assert response.status_code == 302
    mappings = {m.criterion.number: m for m in evidence.mappings.select_related("criterion")}
    assert {(m.criterion.outcome.unit.code, n) for n, m in mappings.items()} == {
        ("57", "1.2"),
        ("BSBCUS301B", "1.1"),
    }
    assert set(mappings["1.2"].range_items.all()) == set(chosen)
    assert mappings["1.2"].note == "Who is in our service chain."


def test_mapping_page_query_count_does_not_grow(
    client, people, enrolment, django_assert_max_num_queries
):
    evidence = written_item(people["candidate"])
    login(client, people["candidate"])
    url = reverse("evidence:evidence_map", args=[evidence.pk])
    with django_assert_max_num_queries(9):
        assert client.get(url).status_code == 200
    assessment_services.enrol(
        candidate=people["candidate"],
        unit=Unit.objects.get(code="BSBCUS301B"),
        assessor=people["assessor"],
        by=people["admin"],
    )
    map_to(evidence, "1.1", "1.2", "2.1", range_items=range_items("customer", "smile"))
    map_to(evidence, "1.1", "2.1", unit_code="BSBCUS301B")
    with django_assert_max_num_queries(9):
        page = client.get(url).content.decode()
    assert "BSBCUS301B 1.1 · “Appropriate interpersonal skills”" in page
    assert (
        page.count('name="criteria"')
        == PerformanceCriterion.objects.filter(outcome__unit__code__in=["57", "BSBCUS301B"]).count()
    )


def test_mapping_form_shows_what_was_wrong_and_keeps_what_was_ticked(client, people, enrolment):
    evidence = written_item(people["candidate"])
    login(client, people["candidate"])
    [smile] = range_items("smile")
    response = client.post(
        reverse("evidence:evidence_map", args=[evidence.pk]),
        {"range_items": [smile.pk], "note": "Line one"},
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "This field is required." in page
    assert re.search(rf'id="[^"]+" value="{smile.pk}" checked', page)
    assert ">\nLine one</textarea>" in page
    # Only the field that was wrong is marked invalid.
    assert 'class="form-check-input is-invalid" type="checkbox" name="criteria"' in page
    assert 'class="form-check-input is-invalid" type="checkbox" name="range_items"' not in page


def test_grouped_checkboxes_escape_what_they_show_with_the_widgets_ids():
    from django import forms

    from assessment_portal.templatetags.choices import grouped_checkboxes

    class Form(forms.Form):
        things = forms.MultipleChoiceField(
            choices=[("<i>A & B</i>", [("1", "<b>one</b>"), ("2", "two")]), ("C", [("3", "3")])],
            widget=forms.CheckboxSelectMultiple,
        )

    html = grouped_checkboxes(Form({"things": ["2"]})["things"])
    assert html.startswith("<strong>&lt;i&gt;A &amp; B&lt;/i&gt;</strong>")
    assert (
        'id="id_things_0_0" value="1"><label class="form-check-label" for="id_things_0_0">'
        "&lt;b&gt;one&lt;/b&gt;</label>"
    ) in html
    assert 'id="id_things_0_1" value="2" checked>' in html
    assert (
        '<strong>C</strong><div class="form-check"><input class="form-check-input" '
        'type="checkbox" name="things" id="id_things_1_0" value="3">'
    ) in html


def test_option_and_checkbox_tags_escape_mark_the_chosen_and_match_the_widgets_ids():
    from django import forms

    from assessment_portal.templatetags.choices import field_checkboxes, select_options

    class Form(forms.Form):
        one = forms.ChoiceField(choices=[("", "- Choose -"), ("a&b", "<b>A</b>"), ("c", "C")])
        many = forms.MultipleChoiceField(
            choices=[("1", "<i>one</i>"), ("2", "two")], widget=forms.CheckboxSelectMultiple
        )

    form = Form({"one": "a&b", "many": ["2"]})
    assert select_options(form["one"]) == (
        '<option value="">- Choose -</option>'
        '<option value="a&amp;b" selected>&lt;b&gt;A&lt;/b&gt;</option><option value="c">C</option>'
    )
    assert select_options(Form()["one"]).startswith('<option value="" selected>')
    html = field_checkboxes(form["many"])
    widget_ids = [option.id_for_label for option in form["many"]]
    assert widget_ids == ["id_many_0", "id_many_1"]
    assert 'id="id_many_0" value="1"><label class="form-check-label" for="id_many_0">' in html
    assert "&lt;i&gt;one&lt;/i&gt;" in html and 'id="id_many_1" value="2" checked>' in html
    invalid = field_checkboxes(Form({"one": "c"})["many"])
    assert invalid.count('class="form-check-input is-invalid"') == 2
    assert invalid.count('aria-invalid="true"') == 2


def test_mapping_to_a_unit_the_candidate_is_not_enrolled_in_is_refused(client, people, enrolment):
    evidence = written_item(people["candidate"])
    login(client, people["candidate"])
    response = client.post(
        reverse("evidence:evidence_map", args=[evidence.pk]),
        {"criteria": [criterion("57", "1.1").pk, criterion("BSBCUS501B", "1.1").pk]},
    )
    assert response.status_code == 200
    assert "Not mapped: you are not enrolled in BSBCUS501B." in response.content.decode()
    assert not EvidenceMapping.objects.exists()


def test_range_items_must_belong_to_a_chosen_criterion(people, enrolment):
    evidence = written_item(people["candidate"])
    with pytest.raises(ValidationError, match="belong to none of the chosen criteria: smile"):
        map_to(evidence, "1.2", range_items=range_items("customer", "smile"))
    assert not EvidenceMapping.objects.exists()


def test_coverage_shows_range_items_still_to_cover(client, people, enrolment):
    evidence = written_item(people["candidate"], title="Service chain")
    map_to(evidence, "1.1")
    map_to(evidence, "1.2", range_items=range_items("customer", "suppliers"))
    login(client, people["candidate"])

    response = client.get(reverse("evidence:coverage", args=[enrolment.pk]))

    rows = {row.criterion.number: row for row in response.context["coverage"].criteria}
    assert [item.text for item in rows["1.2"].gaps[0].missing] == [
        text for text in US57_1_2_RANGE if text not in ("customer", "suppliers")
    ]
    assert rows["1.2"].gaps[0].needed == 4
    assert rows["1.1"].has_evidence and not rows["1.1"].gaps
    assert not rows["1.3"].has_evidence
    page = response.content.decode()
    assert "back-up staff, manufacturers, distributors" in page
    assert page.count("No evidence yet") == 10


def test_coverage_and_list_query_counts_do_not_grow(
    client, people, enrolment, django_assert_max_num_queries
):
    def add_item(n):
        item = file_item(people["candidate"], title=f"Item {n}")
        map_to(item, "1.1", "1.2", "2.1", range_items=range_items("customer", "smile"))

    add_item(0)
    login(client, people["candidate"])
    urls = [
        reverse("evidence:coverage", args=[enrolment.pk]),
        reverse("evidence:evidence_list"),
        reverse("evidence:submit", args=[enrolment.pk]),
    ]
    counts = {}
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts[url] = len(queries)
    for n in range(1, 6):
        add_item(n)
    for url in urls:
        with django_assert_max_num_queries(counts[url]):
            assert client.get(url).status_code == 200


# --- submitting and locking -----------------------------------------------------------------


def submit(client, enrolment, attempt=1, declaration=True):
    data = {"attempt": attempt}
    if declaration:
        data["declaration"] = "on"
    return client.post(reverse("evidence:submit", args=[enrolment.pk]), data, follow=True)


def test_submit_page_shows_attempt_items_gaps_and_declaration(client, people, enrolment):
    evidence = written_item(people["candidate"], title="Service chain")
    map_to(evidence, "1.2", range_items=range_items("customer"))
    written_item(people["candidate"], title="Not mapped")
    login(client, people["candidate"])

    response = client.get(reverse("evidence:submit", args=[enrolment.pk]))

    page = response.content.decode()
    assert response.context["open_attempt"].attempt == 1
    assert list(response.context["items"]) == [evidence]
    assert assessment_services.CANDIDATE_DECLARATION in page
    assert re.search(r'<input[^>]*name="declaration"[^>]*\brequired\b', page)
    assert "1.1: no evidence yet" in page
    assert "1.2: range items still to cover" in page


def test_submit_with_declaration_locks_the_items(client, people, enrolment, media_root):
    evidence = file_item(people["candidate"])
    [mapping] = map_to(evidence, "1.1")
    stored = evidence.files.get()
    login(client, people["candidate"])

    response = submit(client, enrolment)

    assert "Submitted attempt 1 of US57" in response.content.decode()
    attempt = enrolment.assessments.get()
    assert attempt.status == Assessment.Status.SUBMITTED
    assert list(attempt.evidence.all()) == [evidence]
    assert Evidence.objects.with_lock_state().get().is_locked

    detail = client.get(evidence.get_absolute_url()).content.decode()
    assert "Submitted, locked" in detail
    for hidden in ["evidence_edit", "evidence_delete", "evidence_add_files", "file_delete"]:
        pk = stored.pk if hidden == "file_delete" else evidence.pk
        assert reverse(f"evidence:{hidden}", args=[pk]) not in detail
    assert reverse("evidence:evidence_unmap", args=[mapping.pk]) not in detail

    refused = [
        (reverse("evidence:evidence_edit", args=[evidence.pk]), {"title": "Changed"}),
        (reverse("evidence:evidence_delete", args=[evidence.pk]), {}),
        (reverse("evidence:evidence_unmap", args=[mapping.pk]), {}),
        (reverse("evidence:file_delete", args=[stored.pk]), {}),
        (
            reverse("evidence:evidence_add_files", args=[evidence.pk]),
            {"files": [upload("more.png", png_bytes())]},
        ),
        (
            reverse("evidence:evidence_map", args=[evidence.pk]),
            {"criteria": [criterion("57", "1.1").pk], "note": "Changed"},
        ),
    ]
    for url, data in refused:
        response = client.post(url, data, follow=True)
        assert "has been submitted for assessment" in response.content.decode(), url
    evidence.refresh_from_db()
    assert evidence.title == "Log book"
    assert list(evidence.files.all()) == [stored]
    assert list(evidence.mappings.values_list("pk", "note")) == [(mapping.pk, "")]
    assert len(stored_files(media_root)) == 1

    # Locked evidence takes no further criteria of the unit it was submitted for.
    response = client.post(
        reverse("evidence:evidence_map", args=[evidence.pk]),
        {"criteria": [criterion("57", "1.3").pk]},
    )
    assert response.status_code == 200
    assert evidence.mappings.count() == 1


def test_services_refuse_changes_to_locked_evidence(people, enrolment):
    evidence = written_item(people["candidate"])
    [mapping] = map_to(evidence, "1.1")
    assessment_services.submit_for_assessment(
        assessment=enrolment.assessments.get(), by=people["candidate"], declaration_accepted=True
    )
    candidate = people["candidate"]
    for change in [
        lambda: services.update_evidence(evidence=evidence, by=candidate, data={"title": "X"}),
        lambda: services.delete_evidence(evidence=evidence, by=candidate),
        lambda: services.unmap_evidence(mapping=mapping, by=candidate),
    ]:
        with pytest.raises(services.EvidenceLocked):
            change()
    assert Evidence.objects.get().title == "Answer"
    assert EvidenceMapping.objects.count() == 1


def test_submit_without_declaration_is_refused(client, people, enrolment):
    map_to(written_item(people["candidate"]), "1.1")
    login(client, people["candidate"])
    response = submit(client, enrolment, declaration=False)
    assert "Confirm the authenticity declaration to submit." in response.content.decode()
    assert enrolment.assessments.get().status == Assessment.Status.OPEN
    assert not Evidence.objects.with_lock_state().get().is_locked


def test_submit_with_no_mapped_evidence_is_refused(client, people, enrolment):
    written_item(people["candidate"])
    login(client, people["candidate"])
    response = submit(client, enrolment)
    assert "Map at least one evidence item to a criterion of US57" in response.content.decode()
    assert enrolment.assessments.get().status == Assessment.Status.OPEN


def test_second_attempt_takes_new_and_old_evidence(client, people, enrolment):
    first = written_item(people["candidate"], title="First")
    map_to(first, "1.1")
    login(client, people["candidate"])
    submit(client, enrolment)
    attempt_1 = enrolment.assessments.get()
    Judgement.objects.filter(assessment=attempt_1).update(verdict="not_yet", comment="More.")
    _, attempt_2 = assessment_services.sign_off(
        assessment=attempt_1,
        by=people["assessor"],
        feedback="Show 1.2 too.",
        declaration_accepted=True,
    )
    second = written_item(people["candidate"], title="Second")
    map_to(second, "1.2")

    page = client.get(reverse("evidence:submit", args=[enrolment.pk]))
    assert page.context["open_attempt"] == attempt_2
    response = submit(client, enrolment, attempt=2)

    assert "Submitted attempt 2" in response.content.decode()
    attempt_2.refresh_from_db()
    assert attempt_2.status == Assessment.Status.SUBMITTED
    assert set(attempt_2.evidence.all()) == {first, second}
    assert list(attempt_1.evidence.all()) == [first]


def test_a_stale_submit_page_does_not_submit_again(client, people, enrolment):
    map_to(written_item(people["candidate"]), "1.1")
    login(client, people["candidate"])
    submit(client, enrolment)
    response = submit(client, enrolment)
    assert "Attempt 1 has already been submitted." in response.content.decode()


def test_changes_wait_for_a_submission_of_the_same_portfolio(people, enrolment):
    """The attempt rows submit_for_assessment locks are locked before the lock state is read,
    so an edit cannot slip in while a submission is adding the item (SQLite has a single
    writer at a time, so only PostgreSQL needs and shows the row lock)."""
    if not connection.features.has_select_for_update:
        pytest.skip("SQLite lets one writer in at a time")
    evidence = written_item(people["candidate"])
    with CaptureQueriesContext(connection) as queries:
        services.update_evidence(
            evidence=evidence, by=people["candidate"], data={"title": "New", "text": "Mine."}
        )
    sql = [query["sql"] for query in queries]
    lock = next(
        i for i, q in enumerate(sql) if '"assessments_assessment"' in q and "FOR UPDATE" in q
    )
    read = next(i for i, q in enumerate(sql) if q.startswith('SELECT "evidence_evidence"'))
    assert lock < read
