"""Shared set-up for the integrations tests: people, signed-off results and API tokens."""

import pytest

from assessment_portal.identifiers import usi_check_character
from assessments import services
from integrations import tokens
from standards.models import Unit

from .test_assessment import add_evidence, judge_all


@pytest.fixture
def people(make_user):
    return {
        "admin": make_user("admin", "administrator"),
        "assessor": make_user("assessor", "assessor"),
        "candidate": make_user(
            "cand",
            "candidate",
            first_name="Aroha",
            last_name="Ngata",
            national_student_number="123456789",
        ),
        "au_candidate": make_user(
            "jack",
            "candidate",
            first_name="Jack",
            last_name="Brown",
            unique_student_identifier=usi("JACKBRWN2"),
        ),
    }


def usi(body):
    """A valid USI from nine characters of the USI alphabet."""
    return body + usi_check_character(body)


def token_for(admin, scope="read", expires_at=None, acts_for=None):
    return tokens.create_token(
        name="SMS", scope=scope, expires_at=expires_at, by=admin, acts_for=acts_for
    )[1]


def bearer(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def enrol(people, unit_code, candidate="candidate"):
    return services.enrol(
        candidate=people[candidate],
        unit=Unit.objects.get(code=unit_code),
        assessor=people["assessor"],
        by=people["admin"],
    )


def sign_off(people, enrolment, *, not_yet=(), numbers=None):
    """Submit the open attempt with evidence for every criterion, judge it and sign it off."""
    attempt = enrolment.assessments.order_by("-attempt").first()
    numbers = numbers or list(attempt.judgements.values_list("criterion__number", flat=True))
    add_evidence(enrolment.candidate, enrolment.unit.code, numbers[:1])
    attempt = services.submit_for_assessment(
        assessment=attempt, by=enrolment.candidate, declaration_accepted=True
    )
    judge_all(attempt, people["assessor"], not_yet=not_yet)
    return services.sign_off(
        assessment=attempt,
        by=people["assessor"],
        feedback="Show it again." if not_yet else "",
        declaration_accepted=True,
    )[0]
