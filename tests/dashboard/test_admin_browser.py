"""The Django admin in a real Chromium, as the admin who tunes thresholds, rules and milestones uses
it: every list and every add form it offers opens under the site's content security policy with no
console error, and a threshold saved in the browser is audited and used by the next decision."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib import admin
from django.contrib.auth.models import User

from apps.core.models import AuditEntry
from apps.decisions import selectors
from apps.decisions.models import IntentThreshold
from tests.dashboard.conftest import PASSWORD, make_user, recorded_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def admin_page(browser, live_server) -> Iterator[tuple[object, list[str]]]:  # type: ignore[no-untyped-def]
    """Signed in through the admin's own login form as a superuser; script and console errors recorded."""
    make_user("ada", "admin")
    User.objects.filter(username="ada").update(is_superuser=True)
    with recorded_page(browser, live_server.url) as (page, problems):
        page.goto("/admin/login/?next=/admin/")
        page.fill("#id_username", "ada")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/")
        yield page, problems


def test_every_admin_list_and_add_form_opens_without_an_error(admin_page) -> None:  # type: ignore[no-untyped-def]
    page, problems = admin_page
    opened = 0
    for model in admin.site._registry:
        listing = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        before = len(problems)
        pages = [listing]
        response = page.goto(listing)
        assert response.status == 200, listing
        if page.locator(".object-tools a.addlink").count():  # what the admin may add (logs, runs: read-only)
            pages.append(f"{listing}add/")
            assert page.goto(f"{listing}add/").status == 200, listing
            page.wait_for_selector(f"#{model._meta.model_name}_form")
        page.wait_for_load_state("networkidle")
        problems[before:] = [f"{' and '.join(pages)}: {p}" for p in problems[before:]]
        opened += len(pages)
    assert problems == []
    assert opened > len(admin.site._registry)  # some add forms opened too


def test_a_threshold_saved_in_the_browser_is_audited_and_used_at_once(admin_page) -> None:  # type: ignore[no-untyped-def]
    page, problems = admin_page
    assert selectors.thresholds_for("VOICE") == (0.8, 0.6)  # the defaults, now cached in this process
    page.goto("/admin/decisions/intentthreshold/add/")
    page.fill("#id_channel", "VOICE")
    page.fill("#id_high", "0.9")
    page.fill("#id_low", "0.5")
    page.click("input[name=_save]")
    page.wait_for_selector("ul.messagelist li.success")
    threshold = IntentThreshold.objects.get(channel="VOICE")
    assert (threshold.high, threshold.low) == (0.9, 0.5)
    assert selectors.thresholds_for("VOICE") == (0.9, 0.5)
    entry = AuditEntry.objects.get(object_type="decisions.IntentThreshold", object_id=str(threshold.pk))
    assert (entry.user.username, entry.actor, entry.action) == ("ada", "user:ada", "add")
    assert {k: entry.changes[k] for k in ("channel", "high", "low")} == \
        {"channel": "VOICE", "high": "0.9", "low": "0.5"}
    assert problems == []
