"""Webhooks: signed JSON POSTs to a real HTTP receiver on 127.0.0.1, retried on failure."""

import hashlib
import hmac
import ipaddress
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from assessments import services
from integrations import webhooks
from integrations.models import Webhook, WebhookDelivery
from integrations.tasks import deliver_webhook
from tests.tasks_support import DATABASE, IMMEDIATE, use_task_backend

from . import integrations_support as support
from .integrations_support import enrol, sign_off

pytestmark = pytest.mark.django_db
people = support.people
SECRET = "a-shared-secret-of-some-length"


class Receiver:
    """An HTTP server that checks each POST's signature, answering with queued status codes."""

    def __init__(self, secret):
        self.secret = secret
        self.answers = []  # status codes to answer with, in order; then 200
        self.received = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = (
                    "sha256=" + hmac.new(receiver.secret.encode(), body, hashlib.sha256).hexdigest()
                )
                receiver.received.append(
                    {
                        "valid": hmac.compare_digest(expected, self.headers["X-Portal-Signature"]),
                        "event_id": self.headers["X-Portal-Event-Id"],
                        "timestamp": self.headers["X-Portal-Timestamp"],
                        "body": json.loads(body),
                    }
                )
                self.send_response(receiver.answers.pop(0) if receiver.answers else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/portal"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def receivers_on_this_machine(settings):
    """The test receivers listen on 127.0.0.1: a network a deployment would have to list."""
    settings.WEBHOOK_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]


@pytest.fixture
def receiver():
    with Receiver(SECRET) as running:
        yield running


@pytest.fixture
def webhook(receiver, people):
    return Webhook.objects.create(url=receiver.url, secret=SECRET, created_by=people["admin"])


def test_sign_off_is_posted_signed_and_verifiable(
    receiver, webhook, people, settings, django_capture_on_commit_callbacks
):
    use_task_backend(settings, IMMEDIATE)
    enrolment = enrol(people, "57")
    with django_capture_on_commit_callbacks(execute=True):
        attempt = sign_off(people, enrolment)
    [call] = receiver.received
    assert call["valid"] is True
    body = call["body"]
    assert body["type"] == "result.signed_off"
    assert call["event_id"] == body["id"]
    assert abs(int(call["timestamp"]) - timezone.now().timestamp()) < 60
    assert body["data"]["attempt_id"] == attempt.pk
    assert body["data"]["candidate"]["nsn"] == "123456789"
    assert body["data"]["nzqa_result"] == "Achieved"
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "delivered" and delivery.attempts == 1


def test_a_receiver_with_the_wrong_secret_rejects_the_signature(webhook, people, settings):
    use_task_backend(settings, IMMEDIATE)
    with Receiver("some-other-secret-entirely") as wrong:
        Webhook.objects.filter(pk=webhook.pk).update(url=wrong.url)
        enrolment = enrol(people, "57")
        sign_off(people, enrolment)
        webhooks.deliver(WebhookDelivery.objects.get().pk)
        assert wrong.received[0]["valid"] is False


def test_failed_delivery_is_retried_later_by_the_worker_then_delivered(
    receiver, webhook, people, settings, django_capture_on_commit_callbacks
):
    use_task_backend(settings, DATABASE)
    receiver.answers = [500]
    enrolment = enrol(people, "57")
    with django_capture_on_commit_callbacks(execute=True):
        sign_off(people, enrolment)
    delivery = WebhookDelivery.objects.get()
    queued = DBTaskResult.objects.get()
    assert queued.task_path.endswith("deliver_webhook")

    # The worker runs the task: the receiver answers 500, so a retry is scheduled.
    before = timezone.now()
    deliver_webhook.call(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "retrying"
    assert delivery.attempts == 1 and delivery.last_status_code == 500
    assert "500" in delivery.last_error
    assert delivery.next_attempt_at >= before + timedelta(seconds=29)
    retry = DBTaskResult.objects.exclude(pk=queued.pk).get()
    assert retry.run_after == delivery.next_attempt_at

    # The retry runs when due; the receiver now answers 200.
    deliver_webhook.call(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 2
    assert [call["valid"] for call in receiver.received] == [True, True]
    assert len({call["body"]["id"] for call in receiver.received}) == 1


def test_the_task_schedules_its_retry_with_backoff(receiver, webhook, people, settings):
    use_task_backend(settings, DATABASE)
    receiver.answers = [503, 503]
    sign_off(people, enrol(people, "57"))
    delivery = WebhookDelivery.objects.get()
    deliver_webhook.call(delivery.pk)
    first = DBTaskResult.objects.get()
    assert first.run_after > timezone.now() + timedelta(seconds=25)
    deliver_webhook.call(delivery.pk)
    second = DBTaskResult.objects.exclude(pk=first.pk).get()
    # The wait grows: 30 s, then 2 minutes.
    assert second.run_after > timezone.now() + timedelta(seconds=110)


def test_gives_up_after_the_last_attempt(webhook, people, settings):
    use_task_backend(settings, IMMEDIATE)
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    Webhook.objects.filter(pk=webhook.pk).update(url="http://127.0.0.1:9/closed")
    sign_off(people, enrol(people, "57"))
    delivery = WebhookDelivery.objects.get()
    assert webhooks.deliver(delivery.pk)[0] == "retrying"
    assert webhooks.deliver(delivery.pk) == ("failed", None)
    delivery.refresh_from_db()
    assert delivery.status == "failed" and "Could not reach" in delivery.last_error
    # A duplicate task does nothing.
    assert webhooks.deliver(delivery.pk) == (None, None)


def test_amendment_is_posted_as_an_amended_result(
    receiver, webhook, people, settings, django_capture_on_commit_callbacks
):
    use_task_backend(settings, IMMEDIATE)
    # With no attempt left, amending to "not achieved" is the final result (with one
    # left, the amendment opens it and the enrolment is continuing).
    settings.ASSESSMENT_MAX_ATTEMPTS = 1
    attempt = sign_off(people, enrol(people, "57"))
    with django_capture_on_commit_callbacks(execute=True):
        services.amend_result(
            assessment=attempt, by=people["admin"], new_result="not_achieved", reason="Misjudged."
        )
    body = receiver.received[-1]["body"]
    assert receiver.received[-1]["valid"]
    assert body["type"] == "result.amended"
    assert body["data"]["amended"] is True and body["data"]["nzqa_result"] == "Not achieved"


def test_nothing_is_sent_when_the_decision_rolls_back(webhook, people, settings):
    use_task_backend(settings, IMMEDIATE)
    enrolment = enrol(people, "57")
    with pytest.raises(RuntimeError), services.transaction.atomic():
        sign_off(people, enrolment)
        raise RuntimeError("the database failed after the sign-off")
    assert not WebhookDelivery.objects.exists()


def test_webhook_pages_are_for_administrators_only(client, people, webhook):
    for user in [people["assessor"], people["candidate"]]:
        client.force_login(user)
        for url in ["/integrations/webhooks/", f"/integrations/webhooks/{webhook.pk}/"]:
            assert client.get(url).status_code == 404
    client.force_login(people["admin"])
    page = client.get(f"/integrations/webhooks/{webhook.pk}/")
    assert page.status_code == 200 and webhook.url in page.content.decode()
    created = client.post(
        "/integrations/webhooks/new/",
        {"url": "https://sms.example.org/hook", "secret": "short", "is_active": "on"},
    )
    assert "at least 16 characters" in created.content.decode()
    assert Webhook.objects.count() == 1


def test_editing_a_webhook_keeps_the_secret_unless_a_new_one_is_given(client, people, webhook):
    client.force_login(people["admin"])
    page = client.get(f"/integrations/webhooks/{webhook.pk}/edit/").content.decode()
    assert SECRET not in page
    client.post(
        f"/integrations/webhooks/{webhook.pk}/edit/",
        {"url": webhook.url, "secret": "", "description": "SMS", "is_active": "on"},
    )
    webhook.refresh_from_db()
    assert webhook.secret == SECRET and webhook.description == "SMS"


def test_receivers_on_the_servers_own_networks_are_refused(receiver, webhook, people, settings):
    use_task_backend(settings, IMMEDIATE)
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    sign_off(people, enrol(people, "57"))
    delivery = WebhookDelivery.objects.get()
    # By address, and by a name that resolves to it: the connection itself is checked.
    for url in [receiver.url, receiver.url.replace("127.0.0.1", "localhost")]:
        Webhook.objects.filter(pk=webhook.pk).update(url=url)
        assert webhooks.deliver(delivery.pk)[0] == "retrying"
        delivery.refresh_from_db()
        assert "not sent to 127.0.0.1, which is neither a public address" in delivery.last_error
    assert receiver.received == []
    # Listed, the same receiver gets it.
    settings.WEBHOOK_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.1/32")]
    assert webhooks.deliver(delivery.pk)[0] == "delivered"
    assert [call["valid"] for call in receiver.received] == [True]


@pytest.mark.parametrize(
    "address, refused",
    [
        ("93.184.215.14", False),
        ("2606:4700:4700::1111", False),
        ("10.1.2.3", True),
        ("192.168.0.10", True),
        ("169.254.169.254", True),  # cloud metadata
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", True),  # noqa: S104 - an address to refuse, not to bind
    ],
)
def test_only_public_addresses_receive_webhooks_by_default(settings, address, refused):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    assert bool(webhooks.address_refusal(address)) is refused
    settings.WEBHOOK_ALLOWED_NETWORKS = [ipaddress.ip_network("10.1.2.0/24")]
    assert bool(webhooks.address_refusal("10.1.2.3")) is False


def test_the_form_refuses_a_receiver_on_the_servers_own_networks(client, people, settings):
    client.force_login(people["admin"])
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    for url, host, address in [
        ("http://127.0.0.1:8080/hook", "127.0.0.1", "127.0.0.1"),
        ("http://localhost:8080/hook", "localhost", ""),  # 127.0.0.1 or ::1
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "169.254.169.254"),
    ]:
        page = client.post(
            "/integrations/webhooks/new/",
            {"url": url, "secret": SECRET, "is_active": "on"},
        ).content.decode()
        assert f"Webhooks are not sent to {host}: its address is {address}" in page
        assert "which is neither a public address nor on a network that" in page
    assert not Webhook.objects.exists()
    settings.WEBHOOK_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]
    client.post(
        "/integrations/webhooks/new/",
        {"url": "http://127.0.0.1:8080/hook", "secret": SECRET, "is_active": "on"},
    )
    assert Webhook.objects.get().url == "http://127.0.0.1:8080/hook"
