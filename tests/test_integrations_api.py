import pytest

from . import integrations_support as support
from .integrations_support import bearer, enrol, sign_off, token_for

people = support.people

pytestmark = pytest.mark.django_db


def test_units_list_and_detail(client, people):
    raw = token_for(people["admin"])
    response = client.get("/api/v1/units", **bearer(raw))
    assert response.status_code == 200, response.content
    codes = [unit["code"] for unit in response.json()["items"]]
    assert "BSBCUS301B" in codes
    detail = client.get("/api/v1/units/57", **bearer(raw)).json()
    assert detail["outcomes"][0]["criteria"][0]["number"] == "1.1"


def test_signed_off_result_in_feed(client, people):
    raw = token_for(people["admin"])
    enrolment = enrol(people, "57")
    sign_off(people, enrolment)
    page = client.get("/api/v1/results", **bearer(raw)).json()
    assert page["items"][0]["nzqa_result"] == "Achieved", page
