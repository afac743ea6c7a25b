"""Contacts and their conversations: what the graph does not hold.

The contact's event in the graph carries its summary (sentiment, categories, durations) so decisions
and features read it in one hop; the transcript, its turns, the points of interest and the summary
live here, already redacted, searchable in full text. A contact row may exist before its contact
record arrives (an analysis that came first): `has_record` is false and its summary waits
(`attached` false) until the record's event is in the graph.
"""
from __future__ import annotations

from django.db import models

SEARCH_INDEX = "conversations_contact_search"


class Contact(models.Model):
    contact_id = models.CharField(max_length=256, unique=True)
    customer_id = models.CharField(max_length=256, blank=True, db_index=True)
    channel = models.CharField(max_length=10, blank=True, db_index=True)
    initiation_method = models.CharField(max_length=30, blank=True)
    queue = models.CharField(max_length=200, blank=True, db_index=True)
    agent = models.CharField(max_length=200, blank=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True, db_index=True)
    duration_ms = models.BigIntegerField(null=True, blank=True, db_index=True)
    disconnect_reason = models.CharField(max_length=60, blank=True)
    previous_contact_id = models.CharField(max_length=256, blank=True, db_index=True)
    related_contact_id = models.CharField(max_length=256, blank=True, db_index=True)
    has_record = models.BooleanField(default=False)
    analysis_source = models.CharField(max_length=20, blank=True)  # contact-lens | local
    analysis_file = models.CharField(max_length=500, blank=True)
    language = models.CharField(max_length=20, blank=True)
    sentiment_customer = models.FloatField(null=True, blank=True, db_index=True)
    sentiment_agent = models.FloatField(null=True, blank=True)
    characteristics = models.JSONField(default=dict, blank=True)
    summary = models.TextField(blank=True)
    summary_items = models.JSONField(default=dict, blank=True)
    redaction = models.JSONField(default=dict, blank=True)
    attached = models.BooleanField(default=False)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [  # a search walks this newest first and tests the common filters without reading rows
            models.Index(fields=["started_at", "channel", "queue", "sentiment_customer", "duration_ms"],
                         name=SEARCH_INDEX)]

    def __str__(self) -> str:
        return f"{self.channel or 'contact'} {self.contact_id}"

    @property
    def analysed(self) -> bool:
        return bool(self.analysis_source)


class ContactText(models.Model):
    """A contact's redacted transcript as one text, for full-text search. Kept apart from the contact
    row so that the rows a search filters and sorts stay narrow."""

    contact = models.OneToOneField(Contact, primary_key=True, related_name="text", on_delete=models.CASCADE)
    body = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"text of {self.contact_id}"


class ContactCategory(models.Model):
    """A category the contact matched, with its points of interest (offsets or transcript items)."""

    contact = models.ForeignKey(Contact, related_name="matched_categories", on_delete=models.CASCADE)
    name = models.CharField(max_length=200, db_index=True)
    points = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["contact", "name"]
        constraints = [models.UniqueConstraint(fields=["contact", "name"], name="conversations_category_once")]

    def __str__(self) -> str:
        return self.name


class Turn(models.Model):
    contact = models.ForeignKey(Contact, related_name="turns", on_delete=models.CASCADE)
    position = models.PositiveIntegerField()
    turn_id = models.CharField(max_length=100, blank=True)
    role = models.CharField(max_length=20)
    begin_ms = models.BigIntegerField()
    end_ms = models.BigIntegerField()
    content = models.TextField()  # redacted
    sentiment = models.CharField(max_length=10, blank=True)
    score = models.FloatField(null=True, blank=True)
    marks = models.JSONField(default=dict, blank=True)  # issues / outcomes / action_items said here

    class Meta:
        ordering = ["contact", "begin_ms", "position"]
        constraints = [models.UniqueConstraint(fields=["contact", "position"], name="conversations_turn_once")]

    def __str__(self) -> str:
        return f"{self.role} @{self.begin_ms}ms"


class CategoryRule(models.Model):
    """A category rule for local analytics, as Contact Lens rules work: phrases (one a line) said
    by a speaker, anywhere or within the first/last N seconds, or — negated — never said there."""

    class Speaker(models.TextChoices):
        ANY = "ANY", "either participant"
        CUSTOMER = "CUSTOMER", "customer"
        AGENT = "AGENT", "agent"

    class Where(models.TextChoices):
        ANYWHERE = "anywhere", "anywhere in the contact"
        FIRST = "first", "within the first N seconds"
        LAST = "last", "within the last N seconds"

    category = models.CharField(max_length=200, db_index=True)
    phrases = models.TextField(help_text="one word or phrase a line; any of them matches")
    speaker = models.CharField(max_length=10, choices=Speaker.choices, default=Speaker.ANY)
    where = models.CharField(max_length=10, choices=Where.choices, default=Where.ANYWHERE)
    seconds = models.PositiveIntegerField(default=0, help_text="N for first/last")
    negate = models.BooleanField(default=False, help_text="match when none of the phrases is said")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["category", "id"]

    def __str__(self) -> str:
        return f"{self.category}{' (not said)' if self.negate else ''}"
