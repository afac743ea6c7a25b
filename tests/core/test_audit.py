"""Every configuration change is audited, whatever the path (API, admin forms and bulk actions,
commands), with the actor named and secrets never written."""
from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from apps.core.models import ApiKey, AuditEntry
from apps.decisions.models import RiskRule
from apps.journeys.models import MilestoneDefinition, Webhook

pytestmark = pytest.mark.django_db
SECRET = "first-secret-value"
NEW_SECRET = "second-secret-value"
HOOK_URL = "https://93.184.215.14/hook"


@pytest.fixture
def manager() -> APIClient:
    _, raw = ApiKey.issue("ops-bot", scopes=["manage"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def _entries(object_type: str) -> list[tuple[str, str, dict]]:
    return list(AuditEntry.objects.filter(object_type=object_type).order_by("id")
                .values_list("action", "actor", "changes"))


def _nowhere_in_the_log(*texts: str) -> bool:
    dump = json.dumps(list(AuditEntry.objects.values("changes", "object_repr")))
    return not any(text in dump for text in texts)


def test_webhook_changes_through_the_api_are_audited_with_the_secret_masked(manager: APIClient) -> None:
    # given a milestone to subscribe to
    MilestoneDefinition.objects.create(name="Bought", slug="bought", trigger="event_type", event_type="buy")
    # when a manage key creates a webhook, changes its secret and milestones, then deletes it
    created = manager.post("/api/webhooks/", {"name": "crm", "url": HOOK_URL, "secret": SECRET,
                                              "milestones": ["bought"]}, format="json")
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    assert manager.patch(f"/api/webhooks/{pk}", {"secret": NEW_SECRET, "milestones": []},
                         format="json").status_code == 200
    assert manager.delete(f"/api/webhooks/{pk}").status_code == 204
    # then each step is in the log under the key's name, and neither secret is
    entries = _entries("journeys.Webhook")
    assert [(action, actor) for action, actor, _ in entries] == [
        ("add", "api-key:ops-bot"), ("change", "api-key:ops-bot"), ("change", "api-key:ops-bot"),
        ("change", "api-key:ops-bot"), ("delete", "api-key:ops-bot")]
    assert entries[0][2] == {"name": "crm", "url": HOOK_URL, "secret": "***", "active": "True"}
    assert entries[1][2] == {"milestones": {"added": ["Bought"]}}
    assert entries[2][2] == {"secret": "***"}
    assert entries[3][2] == {"milestones": {"removed": ["Bought"]}}
    assert entries[4][2]["secret"] == "***"
    assert _nowhere_in_the_log(SECRET, NEW_SECRET)


def test_a_webhook_secret_changed_in_the_admin_is_masked() -> None:
    hook = Webhook.objects.create(name="crm", url=HOOK_URL, secret=SECRET)
    root = get_user_model().objects.create_superuser("root", "r@example.com", "pw-only-tests")
    client = Client()
    client.force_login(root)
    response = client.post(f"/admin/journeys/webhook/{hook.pk}/change/", {
        "name": "crm", "url": HOOK_URL, "secret": NEW_SECRET, "active": "on",
        "deliveries-TOTAL_FORMS": "0", "deliveries-INITIAL_FORMS": "0"})
    assert response.status_code == 302
    assert AuditEntry.objects.filter(object_type="journeys.Webhook", action="change").get().changes == {
        "secret": "***"}
    assert _nowhere_in_the_log(SECRET, NEW_SECRET)


def test_a_bulk_delete_in_the_admin_audits_every_object() -> None:
    rules = [RiskRule.objects.create(position=50 + n, name=f"rule {n}", outcome="pass_to_agent", conditions=[])
             for n in range(3)]
    root = get_user_model().objects.create_superuser("root", "r@example.com", "pw-only-tests")
    client = Client()
    client.force_login(root)
    response = client.post("/admin/decisions/riskrule/", {
        "action": "delete_selected", "_selected_action": [r.pk for r in rules], "post": "yes"})
    assert response.status_code == 302
    deleted = AuditEntry.objects.filter(object_type="decisions.RiskRule", action="delete").order_by("object_repr")
    assert [(e.object_id, e.user, e.actor) for e in deleted] == [(str(r.pk), root, "user:root") for r in rules]


def test_an_analyst_defining_a_milestone_through_the_api_is_audited() -> None:
    user = get_user_model().objects.create_user("ann", password="pw-only-tests")
    call_command("grant_role", "ann", "analyst", stdout=io.StringIO())
    client = APIClient()
    client.force_login(user)
    client.post("/api/milestones/", {"name": "Signed up", "slug": "signed-up", "trigger": "event_type",
                                     "event_type": "signup"}, format="json")
    client.patch("/api/milestones/signed-up", {"active": False}, format="json")
    assert [(a, actor, c.get("active")) for a, actor, c in _entries("journeys.MilestoneDefinition")] == [
        ("add", "user:ann", "True"), ("change", "user:ann", "False")]


def test_commands_that_change_configuration_are_audited(capsys) -> None:  # type: ignore[no-untyped-def]
    get_user_model().objects.create_user("bob", password="pw-only-tests")
    call_command("grant_role", "bob", "admin", stdout=io.StringIO())
    call_command("create_api_key", "lambda", "--scope", "decide")
    raw = capsys.readouterr().out.strip()
    user_entries = [(a, actor, c) for a, actor, c in _entries("auth.User") if actor == "command:grant_role"]
    assert user_entries == [("change", "command:grant_role", {"groups": {"added": ["admin"]}}),
                            ("change", "command:grant_role", {"is_staff": "True"})]
    key_entry = AuditEntry.objects.get(object_type="core.ApiKey", object_repr__startswith="lambda")
    assert (key_entry.action, key_entry.actor, key_entry.changes) == (
        "add", "command:create_api_key",
        {"name": "lambda", "scopes": '["decide"]', "expires": "", "revoked": "False"})
    assert _nowhere_in_the_log(raw)


def test_a_new_password_is_audited_without_its_hash() -> None:
    user = get_user_model().objects.create_user("carol", password="pw-only-tests")
    user.set_password("another-password-1")
    user.save()
    change = AuditEntry.objects.filter(object_type="auth.User", action="change").get()
    assert change.changes == {"password": "***"}
    assert _nowhere_in_the_log(user.password)


def test_signing_in_is_not_a_configuration_change(django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import update_last_login

    user = get_user_model().objects.create_user("dave", password="pw-only-tests")
    before = AuditEntry.objects.count()
    with django_assert_num_queries(1):  # the update itself, no read for the audit
        update_last_login(None, user)
    assert AuditEntry.objects.count() == before


def test_a_webhook_address_typed_without_its_scheme_is_saved_as_https() -> None:
    root = get_user_model().objects.create_superuser("root", "r@example.com", "pw-only-tests")
    client = Client()
    client.force_login(root)
    response = client.post("/admin/journeys/webhook/add/", {
        "name": "crm", "url": "93.184.215.14/hook", "secret": SECRET, "active": "on",
        "deliveries-TOTAL_FORMS": "0", "deliveries-INITIAL_FORMS": "0"})
    assert response.status_code == 302
    assert Webhook.objects.get().url == HOOK_URL
