"""Signed webhook deliveries with retries.

Each payload is a WebhookDelivery row. `deliver_due()` posts every row whose time has come; a failure
reschedules the row with backoff (no timers, no sleeps: whoever runs `deliver_due` — the
`deliver_webhooks` command, a scheduler, a test — decides when retries happen). Each row is claimed
with one conditional UPDATE before it is sent, so two runs that overlap never post the same delivery;
a run that dies mid-send leaves its claim to expire and the row is tried again.

The signature is HMAC-SHA256 over "<timestamp>.<body>" where the timestamp is the moment of sending
(fresh for every delivery and every attempt); a receiver recomputes it and refuses a timestamp older
than the replay window (WEBHOOK_REPLAY_WINDOW_SECONDS, 300 s by default), as `verify()` does. Where
the POST may go and how long it may take is decided in apps.journeys.webhook_transport.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from apps.journeys import webhook_transport
from apps.journeys.models import MilestoneDefinition, MilestoneReach, Webhook, WebhookDelivery

SIGNATURE_HEADER = "X-JourneyHub-Signature"
TIMESTAMP_HEADER = "X-JourneyHub-Timestamp"
EVENT_HEADER = "X-JourneyHub-Event"
BACKOFF_SECONDS = (30, 120, 600, 3600)  # wait after the 1st, 2nd, 3rd, 4th failure
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, now: float | None = None,
           window: int | None = None) -> bool:
    """What a receiver does: refuse a timestamp outside the replay window (either side, for clock
    skew), then recompute the signature and compare in constant time."""
    window = settings.WEBHOOK_REPLAY_WINDOW_SECONDS if window is None else window
    now = time.time() if now is None else now
    try:
        fresh = abs(now - int(timestamp)) <= window
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature)


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


def deliver_due(*, now: datetime | None = None, limit: int = 500) -> DeliveryReport:
    """Attempt every pending delivery whose next attempt is due at `now`, each claimed before it is sent."""
    now = now or timezone.now()
    due = list(WebhookDelivery.objects.filter(status="pending", next_attempt_at__lte=now)
               .select_related("webhook").order_by("next_attempt_at", "id")[:limit])
    counts = {"delivered": 0, "pending": 0, "failed": 0}
    attempted = 0
    for delivery in due:
        if not _claim(delivery, now):
            continue  # another run took it between our read and now
        attempt(delivery=delivery, now=now)
        attempted += 1
        counts[delivery.status] += 1
    return DeliveryReport(attempted=attempted, delivered=counts["delivered"], rescheduled=counts["pending"],
                          failed=counts["failed"])


def _claim(delivery: WebhookDelivery, now: datetime) -> bool:
    """Move the row's next attempt past this attempt's longest possible run, only if no other run did
    so first (one UPDATE, atomic in every database); a crashed run's claim simply expires."""
    lease = timedelta(seconds=settings.WEBHOOK_TIMEOUT * (settings.WEBHOOK_MAX_REDIRECTS + 1) + 60)
    claimed = WebhookDelivery.objects.filter(pk=delivery.pk, status="pending",
                                             next_attempt_at=delivery.next_attempt_at).update(
        next_attempt_at=now + lease)
    return claimed == 1


def attempt(*, delivery: WebhookDelivery, now: datetime) -> WebhookDelivery:
    """POST once; record the outcome and, on failure, when to try again (or give up)."""
    body = json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))  # the moment of sending, not the run's start
    headers = {"Content-Type": "application/json", EVENT_HEADER: delivery.event, TIMESTAMP_HEADER: timestamp,
               SIGNATURE_HEADER: sign(delivery.webhook.secret, timestamp, body),
               "X-JourneyHub-Delivery": str(delivery.pk)}
    answer = webhook_transport.post(delivery.webhook.url, body, headers)
    delivery.attempts += 1
    delivery.last_status_code = answer.status
    delivery.last_error = answer.error
    if answer.status is not None and 200 <= answer.status < 300:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", now, None
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.status, delivery.next_attempt_at = "failed", None
    else:
        delivery.next_attempt_at = now + timedelta(seconds=BACKOFF_SECONDS[delivery.attempts - 1])
    delivery.save(update_fields=["attempts", "last_status_code", "last_error", "status", "delivered_at",
                                 "next_attempt_at"])
    return delivery
