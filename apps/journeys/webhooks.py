"""Signed webhook deliveries with retries.

Each payload is a WebhookDelivery row. `deliver_due()` posts every row whose time has come; a failure
reschedules the row with backoff (no timers, no sleeps: whoever runs `deliver_due` — the
`deliver_webhooks` command, a scheduler, a test — decides when retries happen). The signature is
HMAC-SHA256 over "<timestamp>.<body>", so a receiver can reject replays of old bodies.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from apps.journeys.models import MilestoneDefinition, MilestoneReach, Webhook, WebhookDelivery

SIGNATURE_HEADER = "X-JourneyHub-Signature"
TIMESTAMP_HEADER = "X-JourneyHub-Timestamp"
EVENT_HEADER = "X-JourneyHub-Event"
BACKOFF_SECONDS = (30, 120, 600, 3600)  # wait after the 1st, 2nd, 3rd, 4th failure
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does: recompute and compare in constant time."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def enqueue_milestone_reached_many(*, reaches: list[MilestoneReach]) -> int:
    """One pending delivery per reach and per active webhook subscribed to its milestone (or to all)."""
    if not reaches:
        return 0
    milestone: MilestoneDefinition = reaches[0].milestone
    if any(r.milestone_id != milestone.pk for r in reaches):
        raise ValueError("reaches of several milestones: enqueue them per milestone")
    hooks = list(Webhook.objects.filter(active=True)
                 .filter(Q(milestones__isnull=True) | Q(milestones=milestone)).distinct())
    now = timezone.now()
    deliveries = [WebhookDelivery(webhook=hook, event="milestone.reached", next_attempt_at=now, payload={
        "event": "milestone.reached", "milestone": milestone.slug, "milestone_name": milestone.name,
        "customer_id": r.customer_id, "ts": r.ts, "event_id": r.event_id}) for r in reaches for hook in hooks]
    WebhookDelivery.objects.bulk_create(deliveries, batch_size=500)
    return len(deliveries)


@dataclass(frozen=True)
class DeliveryReport:
    attempted: int
    delivered: int
    rescheduled: int
    failed: int


def deliver_due(*, now: datetime | None = None, timeout: float = 5.0, limit: int = 500) -> DeliveryReport:
    """Attempt every pending delivery whose next attempt is due at `now`."""
    now = now or timezone.now()
    due = list(WebhookDelivery.objects.filter(status="pending", next_attempt_at__lte=now)
               .select_related("webhook").order_by("next_attempt_at", "id")[:limit])
    counts = {"delivered": 0, "pending": 0, "failed": 0}
    for delivery in due:
        attempt(delivery=delivery, now=now, timeout=timeout)
        counts[delivery.status] += 1
    return DeliveryReport(attempted=len(due), delivered=counts["delivered"], rescheduled=counts["pending"],
                          failed=counts["failed"])


def attempt(*, delivery: WebhookDelivery, now: datetime, timeout: float = 5.0) -> WebhookDelivery:
    """POST once; record the outcome and, on failure, when to try again (or give up)."""
    body = json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()
    timestamp = str(int(now.timestamp()))
    headers = {"Content-Type": "application/json", EVENT_HEADER: delivery.event, TIMESTAMP_HEADER: timestamp,
               SIGNATURE_HEADER: sign(delivery.webhook.secret, timestamp, body),
               "X-JourneyHub-Delivery": str(delivery.pk)}
    status, error = _post(delivery.webhook.url, body, headers, timeout)
    delivery.attempts += 1
    delivery.last_status_code = status
    delivery.last_error = error
    if status is not None and 200 <= status < 300:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", now, None
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.status, delivery.next_attempt_at = "failed", None
    else:
        delivery.next_attempt_at = now + timedelta(seconds=BACKOFF_SECONDS[delivery.attempts - 1])
    delivery.save(update_fields=["attempts", "last_status_code", "last_error", "status", "delivered_at",
                                 "next_attempt_at"])
    return delivery


def _post(url: str, body: bytes, headers: dict[str, Any], timeout: float) -> tuple[int | None, str]:
    if not url.startswith(("http://", "https://")):
        return None, f"webhook url must be http(s), got {url[:60]!r}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - admin-configured URL
            return int(response.status), ""
    except urllib.error.HTTPError as exc:
        return int(exc.code), f"HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return None, f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"[:500]
