"""Every URL pattern of the project, called by every kind of caller, answers as the table below says.

The table is the access policy written out: each URL pattern (as Django's resolver spells it) with
the rule of each method. The walk finds the patterns from `get_resolver()`, so a URL added without a
row here fails `test_every_url_pattern_has_a_rule`, and a row without its URL fails it too.

Callers: anonymous, a signed-in person with no role, viewer, analyst, admin (given by `grant_role`,
so staff in the "admin" group, not superuser), superuser, and an API key of each scope.
"""
from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from apps.core.models import SCOPES, ApiKey

pytestmark = pytest.mark.django_db

RANK = {"viewer": 0, "analyst": 1, "admin": 2, "superuser": 3}


@dataclass(frozen=True)
class Api:
    """A DRF endpoint: the least role a person needs and the scope a key needs (None: never)."""

    role: str | None
    scope: str | None
    keys_only: bool = False  # authenticates API keys only: a signed-in person is anonymous here


@dataclass(frozen=True)
class Page:
    """A dashboard page: login, then the least role."""

    role: str


@dataclass(frozen=True)
class Open:
    """Anyone (public pages, the OpenAPI schema, health)."""


@dataclass(frozen=True)
class SignedIn:
    """Any signed-in person (Django's own account pages)."""


@dataclass(frozen=True)
class AdminSite:
    """The Django admin: staff only; `perm` is the admin role's permission on the page's model
    ("" for pages of the site itself, "superuser" when the role has none)."""

    perm: str = ""


@dataclass(frozen=True)
class Staff:
    """Staff people (the admin role, superusers) or a bearer token of the view's own (metrics scrapers);
    JSON 401 for anonymous callers, 403 for everyone else."""


@dataclass(frozen=True)
class OtherSpelling:
    """Every API route spelled with a trailing slash: each answers every caller as the route without it
    (its own row, checked both ways)."""


Rule = Api | Page | Open | SignedIn | AdminSite | Staff | OtherSpelling
OTHER_SPELLING = "api/^.*$"

READ = Api("viewer", "read")
EXPLORE = Api("analyst", "read")
INGEST = Api("analyst", "ingest")
DECIDE = Api(None, "decide", keys_only=True)
MANAGE = Api("admin", "manage")
DEFINE = Api("analyst", "manage")
ANY_KEY = Api("viewer", "*")

TABLE: dict[str, dict[str, Rule]] = {
    "healthz": {"GET": Open()},
    "metrics": {"GET": Staff()},
    "api/contacts": {"GET": EXPLORE},
    "api/contacts/<str:contact_id>": {"GET": EXPLORE},
    "contacts/": {"GET": Page("analyst")},
    "api/schema": {"GET": Open()},
    "api/docs": {"GET": Open()},
    "api/redoc": {"GET": Open()},
    "favicon.ico": {"GET": Open()},
    "api/ping": {"GET": ANY_KEY},
    "api/jobs/<int:job_id>": {"GET": READ},
    "api/decisions/intent": {"POST": DECIDE},
    "api/decisions/intent/feedback": {"POST": DECIDE},
    "api/decisions/risk": {"POST": DECIDE},
    "api/decisions/monitor": {"GET": READ},
    "api/profiles/by-phone/<str:e164>": {"GET": DECIDE},
    "api/customers": {"GET": READ},
    "api/customers/<customer_id:customer_id>": {"GET": READ},
    "api/customers/<path:customer_id>/journey": {"GET": READ},
    "api/customers/<path:customer_id>/scores": {"GET": READ},
    "api/customers/<path:customer_id>/next-event": {"GET": READ},
    "api/events": {"POST": INGEST},
    "api/^ingest/batches$": {"GET": READ},
    "api/^ingest/batches/(?P<pk>[^/.]+)$": {"GET": READ},
    "api/^ingest/batches/(?P<pk>[^/.]+)/quarantine$": {"GET": READ},
    "api/journeys/top": {"GET": READ},
    "api/journeys/paths": {"GET": READ},
    "api/journeys/funnel": {"GET": EXPLORE},
    "api/journeys/funnel/customers": {"GET": EXPLORE},
    "api/journeys/dfg": {"GET": READ},
    "api/similarity": {"GET": READ},
    "api/kpis/<slug:slug>/widget": {"GET": READ},
    "api/^kpis$": {"GET": READ},
    "api/^kpis/(?P<slug>[^/.]+)$": {"GET": READ},
    "api/^kpis/(?P<slug>[^/.]+)/series$": {"GET": READ},
    "api/^milestones$": {"GET": READ, "POST": DEFINE},
    "api/^milestones/(?P<slug>[^/.]+)$": {"GET": READ, "PUT": DEFINE, "PATCH": DEFINE, "DELETE": DEFINE},
    "api/^milestones/(?P<slug>[^/.]+)/backfill$": {"POST": DEFINE},
    "api/^milestones/(?P<slug>[^/.]+)/customers$": {"GET": READ},
    "api/^webhooks$": {"GET": MANAGE, "POST": MANAGE},
    "api/^webhooks/(?P<pk>[^/.]+)$": {"GET": MANAGE, "PUT": MANAGE, "PATCH": MANAGE, "DELETE": MANAGE},
    "api/^webhooks/(?P<pk>[^/.]+)/deliveries$": {"GET": MANAGE},
    "api/models": {"GET": READ},
    "api/models/<str:name>": {"GET": READ},
    "api/models/<str:name>/activate": {"POST": MANAGE},
    "api/models/<str:name>/rollback": {"POST": MANAGE},
    "api/models/<str:name>/train": {"POST": MANAGE},
    "api/training-runs/<int:run_id>": {"GET": READ},
    OTHER_SPELLING: {"ANY": OtherSpelling()},
    # dashboard
    "": {"GET": Page("viewer")},
    "journeys/explorer/": {"GET": Page("viewer")},
    "journeys/explorer/customers/": {"GET": Page("viewer")},
    "journeys/top/": {"GET": Page("viewer")},
    "journeys/funnel/": {"GET": Page("analyst")},
    "journeys/funnel/customers/": {"GET": Page("analyst")},
    "customers/": {"GET": Page("viewer")},
    "customers/<path:customer_id>/": {"GET": Page("viewer")},
    "similarity/": {"GET": Page("viewer")},
    "models/": {"GET": Page("viewer")},
    "models/<str:name>/activate/": {"POST": Page("admin")},
    "models/<str:name>/rollback/": {"POST": Page("admin")},
    "decisions/": {"GET": Page("viewer")},
    "ingest/": {"GET": Page("viewer")},
    "ingest/upload/": {"POST": Page("analyst")},
    "ingest/batches/<int:batch_id>/": {"GET": Page("viewer")},
    "widgets/": {"GET": Page("viewer")},
    "widgets/<str:kpi>/": {"GET": Page("viewer")},
    # accounts
    "accounts/login/": {"GET": Open()},
    "accounts/logout/": {"POST": Open()},
    "accounts/password_change/": {"GET": SignedIn()},
    "accounts/password_change/done/": {"GET": SignedIn()},
    "accounts/password_reset/": {"GET": Open()},
    "accounts/password_reset/done/": {"GET": Open()},
    "accounts/reset/<uidb64>/<token>/": {"GET": Open()},
    "accounts/reset/done/": {"GET": Open()},
    # the admin site's own pages
    "admin/": {"GET": AdminSite()},
    "admin/login/": {"GET": Open()},
    "admin/logout/": {"POST": Open()},
    "admin/password_change/": {"GET": AdminSite()},
    "admin/password_change/done/": {"GET": AdminSite()},
    "admin/autocomplete/": {"GET": AdminSite()},
    "admin/jsi18n/": {"GET": AdminSite()},
    "admin/r/<path:content_type_id>/<path:object_id>/": {"GET": AdminSite()},
    "admin/(?P<url>.*)$": {"GET": AdminSite()},
    "admin/auth/user/<id>/password/": {"GET": AdminSite("superuser")},
}

# What the admin role may do with each model in the Django admin: "change" (add, change, delete),
# "view" (records it reads and runs actions on) or "superuser" (nothing: people and lockouts).
ADMIN_MODELS: dict[str, str] = {
    "auth.group": "superuser", "auth.user": "superuser",
    "axes.accessattempt": "superuser", "axes.accesslog": "superuser", "axes.accessfailurelog": "superuser",
    "core.apikey": "change", "core.auditentry": "view", "core.job": "view", "core.lease": "view",
    "django_q.schedule": "superuser", "django_q.success": "superuser", "django_q.failure": "superuser",
    "django_q.ormq": "superuser",
    "ingest.ingestbatch": "view", "ingest.quarantinedrow": "view",
    "journeys.kpidefinition": "change", "journeys.kpivalue": "view", "journeys.milestonedefinition": "change",
    "journeys.milestonereach": "view", "journeys.webhook": "change", "journeys.webhookdelivery": "view",
    "propensity.modelversion": "view", "propensity.trainingrun": "view", "propensity.activationpolicy": "change",
    "conversations.categoryrule": "change", "conversations.contact": "view",
    "decisions.intentthreshold": "change", "decisions.riskrule": "change", "decisions.decisionlog": "view",
}
# Models whose admin refuses adding whatever the permissions (created by code, or read-only records).
NO_ADD = {"conversations.contact", "axes.accessattempt", "axes.accesslog", "axes.accessfailurelog", "core.apikey",
          "core.auditentry", "core.job", "core.lease", "django_q.success", "django_q.failure", "django_q.ormq",
          "ingest.ingestbatch", "ingest.quarantinedrow", "journeys.kpivalue", "journeys.milestonereach",
          "journeys.webhookdelivery", "propensity.modelversion", "propensity.trainingrun", "decisions.decisionlog"}
NO_DELETE = {"core.auditentry"}


def _admin_table() -> dict[str, dict[str, Rule]]:
    """The admin's per-model URLs, from ADMIN_MODELS: an admin-registered model missing there fails."""
    table: dict[str, dict[str, Rule]] = {}
    for label, perm in ADMIN_MODELS.items():
        app, model = label.split(".")
        base = f"admin/{app}/{model}/"
        add = "none" if label in NO_ADD else ("superuser" if perm != "change" else "change")
        delete = "none" if label in NO_DELETE else ("superuser" if perm != "change" else "change")
        table[base] = {"GET": AdminSite(perm)}
        table[f"{base}add/"] = {"GET": AdminSite(add)}
        table[f"{base}<path:object_id>/delete/"] = {"GET": AdminSite(delete)}
        table[f"{base}<path:object_id>/change/"] = {"GET": AdminSite(perm)}
        # history and the bare id redirect answer "no such object" before any permission check
        table[f"{base}<path:object_id>/history/"] = {"GET": AdminSite()}
        table[f"{base}<path:object_id>/"] = {"GET": AdminSite()}
    apps = sorted({label.split(".")[0] for label in ADMIN_MODELS})
    app_order = list(dict.fromkeys(model._meta.app_label for model in admin.site._registry))
    table[f"admin/^(?P<app_label>{'|'.join(app_order)})/$"] = {"GET": AdminSite("app")}
    assert sorted(app_order) == apps, "an app has admin pages but no models in ADMIN_MODELS"
    return table


# --- the walk ---------------------------------------------------------------------------------------


def _walk(resolver: URLResolver, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def _patterns() -> dict[str, URLPattern]:
    return dict(_walk(get_resolver()))


def _full_table() -> dict[str, dict[str, Rule]]:
    return {**TABLE, **_admin_table()}


VALUES = {"customer_id": "nobody", "contact_id": "nope", "e164": "+61400000000", "name": "nope", "slug": "nope",
          "pk": "999999", "run_id": "999999", "job_id": "999999", "batch_id": "999999", "kpi": "nope", "uidb64": "MQ",
          "token": "set-password", "object_id": "999999", "id": "999999", "content_type_id": "999999",
          "url": "nowhere/"}


QUERIES = {"admin/autocomplete/": "?app_label=journeys&model_name=webhook&field_name=milestones&term=a"}


def _url(route: str) -> str:
    """A concrete URL for a route or regex pattern, with made-up values for its parameters."""
    query = QUERIES.get(route, "")
    route = re.sub(r"\(\?P<app_label>[^)]*\)", "core", route)
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: VALUES[m[1]], route)
    route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: VALUES[m[1]], route)
    return "/" + route.replace("^", "").replace("$", "") + query


def _drf_methods(pattern: URLPattern) -> set[str] | None:
    callback = pattern.callback
    actions = getattr(callback, "actions", None)
    if actions:  # DRF adds "head" to a viewset's actions at its first GET: HEAD follows GET's rule
        return {m.upper() for m in actions if m != "head"}
    cls = getattr(callback, "cls", None)
    if cls is None or not hasattr(cls, "permission_classes"):
        return None
    return {m.upper() for m in cls.http_method_names if hasattr(cls, m) and m not in ("options", "head")}


def test_every_url_pattern_has_a_rule() -> None:
    table, patterns = _full_table(), _patterns()
    assert sorted(set(patterns) - set(table)) == [], "URL patterns without a rule in the access table"
    assert sorted(set(table) - set(patterns)) == [], "rules for URL patterns that no longer exist"


def test_every_api_method_has_a_rule() -> None:
    table = _full_table()
    for route, pattern in _patterns().items():
        methods = _drf_methods(pattern)
        if methods is not None and route not in ("api/schema", "api/docs", "api/redoc"):
            assert set(table[route]) == methods, route


def test_every_api_view_declares_its_own_rule() -> None:
    """No DRF view relies on the default (which refuses everyone anyway)."""
    from apps.core.permissions import Rule as DeclaredRule

    for route, pattern in _patterns().items():
        cls = getattr(pattern.callback, "cls", None)
        if cls is None or not route.startswith("api/") or route in ("api/schema", "api/docs", "api/redoc"):
            continue
        declared = cls.permission_classes
        assert declared and all(issubclass(p, DeclaredRule) for p in declared), route


# --- the callers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    name: str
    role: str | None = None  # viewer, analyst, admin, superuser, "" (signed in, no role)
    scope: str | None = None  # an API key with this one scope

    @property
    def person(self) -> bool:
        return self.role is not None


CALLERS = [Caller("anonymous"), Caller("no role", role=""), Caller("viewer", role="viewer"),
           Caller("analyst", role="analyst"), Caller("admin", role="admin"), Caller("superuser", role="superuser"),
           *[Caller(f"key:{scope}", scope=scope) for scope in SCOPES]]


def _client(caller: Caller) -> Client:
    client = Client()
    if caller.scope is not None:
        _, raw = ApiKey.issue(f"matrix-{caller.scope}", scopes=[caller.scope])
        client.defaults["HTTP_AUTHORIZATION"] = f"Api-Key {raw}"
    elif caller.role == "superuser":
        client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw-only-tests"))
    elif caller.role is not None:
        user = get_user_model().objects.create_user(f"u-{caller.role or 'none'}", password="pw-only-tests")
        if caller.role:
            call_command("grant_role", user.username, caller.role, stdout=io.StringIO())
        client.force_login(user)
    return client


def _has_role(caller: Caller, role: str) -> bool:
    return bool(caller.role) and RANK[caller.role] >= RANK[role]  # type: ignore[index]


def _expected(caller: Caller, rule: Rule, url: str) -> str:
    """"ok" (the view ran), "401", "403" or "login" (redirected to a login page)."""
    if isinstance(rule, Open):
        return "ok"
    if isinstance(rule, SignedIn):
        return "ok" if caller.person else "login"
    if isinstance(rule, Page):
        if not caller.person:
            return "login"
        return "ok" if _has_role(caller, rule.role) else "403"
    if isinstance(rule, Staff):
        if caller.role in ("admin", "superuser"):
            return "ok"
        return "401" if not caller.person and caller.scope is None else "403"
    if isinstance(rule, AdminSite):
        if caller.role not in ("admin", "superuser"):
            return "admin-login"
        if caller.role == "superuser" or rule.perm in ("", "change", "view", "app"):
            return "ok" if rule.perm != "none" else "403"
        return "403"
    assert isinstance(rule, Api), rule
    if caller.scope is not None:
        return "ok" if rule.scope is not None and rule.scope in ("*", caller.scope) else "403"
    if not caller.person or rule.keys_only:
        return "401"
    return "ok" if rule.role is not None and _has_role(caller, rule.role) else "403"


def _observed(status: int, location: str, rule: Rule) -> str:
    if isinstance(rule, Open):  # a public page may redirect anywhere (logout goes to the login page)
        return "ok" if status < 500 and status not in (401, 403) else f"refused {status}"
    if status in (401, 403):
        return str(status)
    if status == 302 and location.startswith("/admin/login/"):
        return "admin-login"
    if status == 302 and location.startswith("/accounts/login/"):
        return "login"
    return "ok" if status < 500 else f"error {status}"


@pytest.mark.parametrize("caller", CALLERS, ids=[c.name for c in CALLERS])
def test_each_caller_gets_exactly_what_the_table_allows(caller: Caller) -> None:
    client = _client(caller)
    wrong = []
    for route, rules in _full_table().items():
        if route == OTHER_SPELLING:
            continue  # checked with each API row below
        url = _url(route)
        for method, rule in rules.items():
            # logging out is open to all; done with a throw-away client so the caller stays signed in
            by = Client() if route.endswith("logout/") else client
            response = by.generic(method, url, "{}", content_type="application/json")
            got = _observed(response.status_code, response.get("Location", ""), rule)
            want = _expected(caller, rule, url)
            if got != want:
                wrong.append(f"{method} {url}: expected {want}, got {got} ({response.status_code})")
            if isinstance(rule, Api):  # the other spelling: the same answer, not merely allowed alike
                other = by.generic(method, f"{url}/", "{}", content_type="application/json")
                if other.status_code != response.status_code:
                    wrong.append(f"{method} {url}/: {other.status_code}, without the slash {response.status_code}")
    assert wrong == []


def test_the_admin_role_edits_configuration_in_the_django_admin() -> None:
    # given a person made admin by grant_role (staff, "admin" group, not superuser)
    user = get_user_model().objects.create_user("ops", password="pw-only-tests")
    call_command("grant_role", "ops", "admin", stdout=io.StringIO())
    client = Client()
    client.force_login(user)
    # when they add a risk rule through the admin
    response = client.post("/admin/decisions/riskrule/add/", {
        "position": 5, "name": "chat to an agent", "outcome": "pass_to_agent", "enabled": "on",
        "conditions": '[{"variable": "channel", "op": "==", "value": "CHAT"}]'})
    # then it is saved, and the group holds exactly the view permission on the audit log
    assert response.status_code == 302
    from apps.decisions.models import RiskRule

    assert RiskRule.objects.filter(name="chat to an agent").count() == 1
    audit_perms = sorted(Group.objects.get(name="admin").permissions.filter(
        content_type__app_label="core", content_type__model="auditentry").values_list("codename", flat=True))
    assert audit_perms == ["view_auditentry"]


def test_a_view_that_declares_no_rule_is_refused_to_everyone() -> None:
    from rest_framework.test import APIRequestFactory, force_authenticate
    from rest_framework.views import APIView

    class Forgotten(APIView):
        def get(self, request):  # type: ignore[no-untyped-def]
            return None

    request = APIRequestFactory().get("/forgotten")
    force_authenticate(request, user=get_user_model().objects.create_superuser("root", "r@example.com", "pw-1"))
    response = Forgotten.as_view()(request)
    assert (response.status_code, json.loads(response.content)["detail"]) == (
        403, "This endpoint declares no access rule.")
