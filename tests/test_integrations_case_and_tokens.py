"""CASE 1.1 unit packages, and the administrator pages for API tokens and the call log."""

import json
import uuid
from io import StringIO

import pytest
from django.core.management import call_command

from integrations import case, tokens
from integrations.models import ApiCall, ApiToken
from standards.models import PerformanceCriterion, Unit

from . import integrations_support as support
from .integrations_support import bearer

pytestmark = pytest.mark.django_db
people = support.people


def test_case_package_has_document_items_and_child_associations():
    unit = Unit.objects.with_structure().get(code="BSBCUS301B")
    package = case.package(unit)
    document = package["CFDocument"]
    assert document["title"] == "BSBCUS301B Deliver and monitor a service to customers"
    assert document["version"] == unit.version
    outcomes = list(unit.outcomes.all())
    criteria = PerformanceCriterion.objects.filter(outcome__unit=unit)
    items = package["CFItems"]
    assert len(items) == len(outcomes) + criteria.count()
    by_id = {item["identifier"]: item for item in items}
    assert all(uuid.UUID(ident) for ident in by_id)
    associations = package["CFAssociations"]
    assert len(associations) == len(items)
    assert {a["associationType"] for a in associations} == {"isChildOf"}
    # Each criterion is a child of its element, each element of the document.
    parent = {
        a["originNodeURI"]["identifier"]: a["destinationNodeURI"]["identifier"]
        for a in associations
    }
    first_criterion = next(i for i in items if i["humanCodingScheme"] == "1.1")
    element_1 = next(i for i in items if i["humanCodingScheme"] == "1")
    assert parent[first_criterion["identifier"]] == element_1["identifier"]
    assert parent[element_1["identifier"]] == document["identifier"]
    assert first_criterion["CFItemType"] == "Performance criterion"
    assert element_1["CFItemType"] == "Element"


def test_case_identifiers_are_stable_and_differ_between_units():
    first = case.package(Unit.objects.with_structure().get(code="57"))
    again = case.package(Unit.objects.with_structure().get(code="57"))
    assert first == again
    other = case.package(Unit.objects.with_structure().get(code="BSBCUS501B"))
    assert first["CFDocument"]["identifier"] != other["CFDocument"]["identifier"]


def test_case_from_command_download_and_api(client, people):
    out = StringIO()
    call_command("export_case", "57", stdout=out)
    from_command = json.loads(out.getvalue())
    client.force_login(people["candidate"])
    download = client.get("/integrations/units/57/case.json")
    assert download["Content-Disposition"] == 'attachment; filename="US57-case.json"'
    assert json.loads(download.content) == from_command
    assert client.get("/integrations/units/NOPE/case.json").status_code == 404
    raw = tokens.create_token(name="x", scope="read", expires_at=None, by=people["admin"])[1]
    client.logout()
    from_api = client.get("/api/v1/units/57/case", **bearer(raw)).json()
    assert from_api == from_command


def test_token_shown_once_and_revocable_in_the_ui(client, people):
    client.force_login(people["admin"])
    response = client.post(
        "/integrations/tokens/new/",
        {"name": "aXcelerate", "scope": "read", "acts_for": people["admin"].pk},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get()
    raw = response.context["raw"]
    assert raw in response.content.decode()
    assert tokens.hash_token(raw) == token.token_hash
    listing = client.get("/integrations/tokens/").content.decode()
    assert token.prefix in listing and raw not in listing
    client.post(f"/integrations/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == people["admin"]
    assert client.get("/api/v1/units", **bearer(raw)).status_code == 401


def test_write_token_for_an_assessor_is_refused_in_the_ui(client, people):
    client.force_login(people["admin"])
    response = client.post(
        "/integrations/tokens/new/",
        {"name": "x", "scope": "write_enrolments", "acts_for": people["assessor"].pk},
    )
    assert "Only a token acting for an administrator" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_call_log_is_paged_and_filterable(client, people, django_assert_max_num_queries):
    token, raw = tokens.create_token(name="SMS", scope="read", expires_at=None, by=people["admin"])
    client.force_login(people["admin"])
    for size in (3, 60):
        ApiCall.objects.bulk_create(
            ApiCall(token=token, method="GET", path=f"/api/v1/units/{i}", status=200)
            for i in range(size - ApiCall.objects.count())
        )
        with django_assert_max_num_queries(8):
            page = client.get("/integrations/tokens/calls/", {"token": token.pk})
        assert page.status_code == 200
    assert "Page 1 of 2" in page.content.decode()


def test_integration_pages_are_404_for_everyone_but_administrators(client, people):
    token = tokens.create_token(name="x", scope="read", expires_at=None, by=people["admin"])[0]
    urls = [
        "/integrations/tokens/",
        "/integrations/tokens/new/",
        "/integrations/tokens/calls/",
        "/integrations/webhooks/new/",
        "/integrations/exports/",
    ]
    for user in [people["assessor"], people["candidate"]]:
        client.force_login(user)
        for url in urls:
            assert client.get(url).status_code == 404, (user, url)
        assert client.post(f"/integrations/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
