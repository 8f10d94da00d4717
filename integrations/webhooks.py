"""Webhooks: sign-off, amendment and status events POSTed to administrators' URLs.

Each event becomes one WebhookDelivery per active webhook, written in the
transaction that made the decision; the task worker sends it after commit
and retries failures with growing waits. The receiver checks the body with
the shared secret: ``X-Portal-Signature: sha256=<hex HMAC-SHA256 of the body>``.

Receivers must be on public addresses, or on networks the deployment allows
(``WEBHOOK_ALLOWED_NETWORKS``): the address is checked on the connection itself,
after the name is resolved, so a name that later resolves elsewhere gains nothing.
"""

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import urllib.error
import urllib.request
from datetime import timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from . import feed
from .models import Webhook, WebhookDelivery

log = logging.getLogger("assessment_portal.webhooks")

# Waits before each retry: 30 s, 2 min, 8 min, 32 min, about 2 h.
FIRST_RETRY_SECONDS = 30
RETRY_FACTOR = 4


def sign(secret, body):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(change):
    return json.loads(
        json.dumps(
            {
                "id": str(change.event_id),
                "type": change.event,
                "created_at": change.changed_at,
                "data": feed.item(change),
            },
            cls=DjangoJSONEncoder,
        )
    )


def queue_deliveries(change):
    """One delivery row per active webhook (the caller queues them for the worker)."""
    webhooks = list(Webhook.objects.filter(is_active=True))
    if not webhooks:
        return []
    body = payload(change)
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(webhook=webhook, event_id=change.event_id, event=change.event, payload=body)
        for webhook in webhooks
    )
    return deliveries


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is a failed delivery: the signed body goes only where it was registered."""

    def redirect_request(self, *args, **kwargs):
        return None


class RefusedAddress(OSError):
    """A receiver's address is neither public nor on an allowed network."""


def address_refusal(address):
    """Why webhooks may not be sent to the IP ``address``, or "" if they may."""
    ip = ipaddress.ip_address(address)
    if getattr(ip, "ipv4_mapped", None):
        ip = ip.ipv4_mapped
    if ip.is_global or any(ip in network for network in settings.WEBHOOK_ALLOWED_NETWORKS):
        return ""
    return (
        f"{ip}, which is neither a public address nor on a network that "
        "WEBHOOK_ALLOWED_NETWORKS lists"
    )


def _connect(address, *args, **kwargs):
    """socket.create_connection, refusing an address that address_refusal() refuses."""
    sock = socket.create_connection(address, *args, **kwargs)
    refusal = address_refusal(sock.getpeername()[0])
    if refusal:
        sock.close()
        raise RefusedAddress(f"not sent to {refusal}")
    return sock


class _CheckedAddress:
    """For an http.client connection: open its socket through _connect."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _connect


class _CheckedHTTPConnection(_CheckedAddress, http.client.HTTPConnection):
    pass


class _CheckedHTTPSConnection(_CheckedAddress, http.client.HTTPSConnection):
    pass


class _CheckedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_CheckedHTTPConnection, req)


class _CheckedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_CheckedHTTPSConnection, req, context=self._context)


_opener = urllib.request.build_opener(_NoRedirects, _CheckedHTTPHandler, _CheckedHTTPSHandler)


def _post(webhook, delivery, body):
    if not webhook.url.lower().startswith(("https://", "http://")):
        return None, "Only http:// and https:// addresses can receive webhooks."
    request = urllib.request.Request(  # noqa: S310  (scheme checked above)
        webhook.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "AssessmentPortal-Webhooks/1",
            "X-Portal-Event": delivery.event,
            "X-Portal-Event-Id": str(delivery.event_id),
            "X-Portal-Timestamp": str(int(timezone.now().timestamp())),
            "X-Portal-Signature": sign(webhook.secret, body),
        },
    )
    try:
        with _opener.open(request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as response:
            return response.status, ""
    except urllib.error.HTTPError as error:
        return error.code, f"The receiver answered {error.code} {error.reason}."
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        return None, f"Could not reach the receiver: {reason}."


def deliver(delivery_id):
    """Send one delivery: (status, when to retry or None). After the last try it gives up."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .filter(
                pk=delivery_id,
                status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING],
            )
            .first()
        )
        if delivery is None:  # already delivered or given up: a duplicate task
            return None, None
        delivery.attempts += 1
        delivery.save(update_fields=["attempts"])
    webhook = Webhook.objects.get(pk=delivery.webhook_id)
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    code, error = _post(webhook, delivery, body)
    now = timezone.now()
    if code is not None and 200 <= code < 300:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=WebhookDelivery.Status.DELIVERED,
            last_status_code=code,
            last_error="",
            delivered_at=now,
            next_attempt_at=None,
        )
        return WebhookDelivery.Status.DELIVERED, None
    if delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        status, next_at = WebhookDelivery.Status.FAILED, None
    else:
        wait = FIRST_RETRY_SECONDS * RETRY_FACTOR ** (delivery.attempts - 1)
        status, next_at = WebhookDelivery.Status.RETRYING, now + timedelta(seconds=wait)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=status, last_status_code=code, last_error=error, next_attempt_at=next_at
    )
    log.warning(
        "webhook delivery failed: delivery=%s attempt=%s url=%s error=%s",
        delivery.pk,
        delivery.attempts,
        webhook.url,
        error,
    )
    return status, next_at
