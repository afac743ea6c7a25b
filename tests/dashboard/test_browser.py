"""The dashboard in a real Chromium: log in, every page, Sankey → customers → Customer 360, an upload
with a bad row; every page at desktop and phone width with no console error, nothing wider than the
screen outside a scrolling container, and no serious or critical axe-core violation. Screenshots go to
test-artifacts/screenshots/."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import axe_playwright_python
import pytest

from apps.decisions.models import DecisionLog
from apps.ingest.models import IngestBatch
from apps.propensity.models import ModelVersion
from graph import journeys
from tests.dashboard import journeys_data
from tests.dashboard.conftest import PASSWORD, SHOTS, make_user

PAGES = {"overview": "/", "explorer": "/journeys/explorer/?direction=to&event=card_dispute_call&steps=3",
         "top": "/journeys/top/", "funnel": "/journeys/funnel/?step=web_visit&step=app_login&step=card_dispute_call",
         "customers": "/customers/", "customer": "/customers/c1/", "similarity": "/similarity/?customer=c1",
         "models": "/models/", "decisions": "/decisions/", "ingest": "/ingest/", "widgets": "/widgets/"}

# Pages a newcomer meets that the list above does not: the explorer's default, messages instead of charts.
MORE_PAGES = {"explorer-default": "/journeys/explorer/", "explorer-unknown": "/journeys/explorer/?event=nope",
              "funnel-unknown": "/journeys/funnel/?step=web_visit&step=nope", "not-found": "/customers/nobody/",
              "path-customers": "/journeys/explorer/customers/?direction=to&event=card_dispute_call&steps=3"
                                "&node=1:card_dispute_call"}
AXE = Path(axe_playwright_python.__file__).with_name("axe.min.js")
# Elements wider than the viewport must sit inside a container that scrolls them (clipped is not usable).
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth, found = [];
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (!box.width || box.right <= width + 1 || box.left < -500) continue;
    let up = el.parentElement, contained = false;
    while (up && up !== document.body) {
      if (['auto', 'scroll'].includes(getComputedStyle(up).overflowX)) { contained = true; break; }
      up = up.parentElement;
    }
    const name = `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${el.className}`;
    if (!contained) found.push(`${name} (${Math.round(box.right)}px)`);
  }
  return found.slice(0, 5);
}"""

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(browser, live_server) -> Iterator[object]:  # type: ignore[no-untyped-def]
    journeys_data.load()
    make_user("ada", "admin")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/accounts/login/?next=/customers/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/customers/")
    yield page
    context.close()


def test_every_page_opens_and_shows_the_selectors_numbers(page):  # type: ignore[no-untyped-def]
    for i, action in enumerate(("confirm", "confirm", "suggest", "menu")):
        DecisionLog.objects.create(kind="intent", contact_id=f"k{i}", customer_id="c1", channel="VOICE",
                                   output={"intent": "card_dispute", "action": action, "confidence": 0.9},
                                   model_version="intent v1", latency_ms=3.0 + i)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    for name, url in PAGES.items():
        response = page.goto(url)
        assert response.status == 200, name
        page.screenshot(path=str(SHOTS / f"{name}-1280.png"), full_page=True)
    page.goto("/decisions/")
    page.wait_for_selector("#mix-intent .main-svg")
    assert page.get_attribute("#mix-intent", "aria-label") == "Intent decisions per day by action"
    page.goto("/")
    counts = journeys.graph_counts()
    assert page.inner_text("[data-card=events] .value") == str(counts["event"]) == "17"
    assert page.inner_text("[data-card=customers] .value") == str(counts["customer"]) == "6"
    assert errors == []


def test_sankey_to_customers_to_customer_360(page):  # type: ignore[no-untyped-def]
    page.goto(PAGES["explorer"])
    page.wait_for_selector("#paths .sankey-node")
    box = page.locator("#paths .sankey-node").filter(has_text="app_login (3)").locator("rect").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("#drill-title")
    assert page.inner_text("#drill-title") == "3 customers at step 2: app_login"
    assert page.locator("#drill li a").all_inner_texts() == ["c1", "c2", "c4"]
    assert page.evaluate("document.activeElement.id") == "drill-title"
    page.screenshot(path=str(SHOTS / "explorer-drill.png"), full_page=True)
    page.click("#drill li a >> text=c2")
    page.wait_for_url("**/customers/c2/")
    assert page.inner_text("h1") == "Customer c2 active"
    api = page.request.get("/api/customers/c2").json()
    assert page.inner_text("[data-card=events] .value") == str(api["event_count"]) == "3"


def test_an_upload_with_a_bad_row_lands_the_good_rows_and_quarantines_the_bad_one(page, tmp_path):  # type: ignore[no-untyped-def]
    upload = tmp_path / "late_calls.csv"
    upload.write_text("customer_id,event_id,event_type,channel,timestamp\n"
                      "c9,c9-a,card_dispute_call,voice,2026-03-02T09:00:00Z\n"
                      "c9,c9-b,web_visit,web,not-a-time\n")
    page.goto("/ingest/")
    page.set_input_files("#up-file", str(upload))
    page.click("#upload-form button[type=submit]")
    page.wait_for_url("**/ingest/batches/*/")
    batch = IngestBatch.objects.get(source__endswith="late_calls.csv")
    assert page.inner_text("[data-count=loaded]") == str(batch.loaded) == "1"
    assert page.inner_text("[data-count=quarantined]") == str(batch.quarantined) == "1"
    assert "timestamp 'not-a-time' cannot be parsed" in page.inner_text(f"#table-batch-{batch.pk}-quarantine")
    page.screenshot(path=str(SHOTS / "ingest-quarantine.png"), full_page=True)


def test_pages_fit_a_phone_and_start_with_a_skip_link(page):  # type: ignore[no-untyped-def]
    page.set_viewport_size({"width": 390, "height": 844})
    for name in PAGES:
        page.goto(PAGES[name])
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{name} is {width}px wide at a 390px viewport"
        page.screenshot(path=str(SHOTS / f"{name}-390.png"), full_page=True)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_is_clean_at_desktop_and_phone_width(page, width: int):  # type: ignore[no-untyped-def]
    """No console error, no horizontal overflow outside scroll containers, no serious or critical
    accessibility violation (axe-core), on every page."""
    DecisionLog.objects.create(kind="intent", contact_id="k1", customer_id="c1", channel="VOICE",
                               output={"intent": "card_dispute", "action": "confirm", "confidence": 0.9},
                               model_version="intent v1", latency_ms=3.0)
    ModelVersion.objects.create(name="churn", version=1, artifact="/x/churn1", sha256="0" * 64, is_active=True,
                                metrics={"auc": 0.8125, "f1": 0.61, "precision": 0.7, "recall": 0.55,
                                         "roc": {"fpr": [0, 0.5, 1], "tpr": [0, 0.9, 1]}},
                                baseline_metrics={"auc": 0.5, "f1": 0.3})
    page.set_viewport_size({"width": width, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    expected_status = {"not-found": 404}
    for name, url in {**PAGES, **MORE_PAGES}.items():
        before = len(problems)
        response = page.goto(url)
        page.wait_for_load_state("networkidle")
        status = expected_status.get(name, 200)
        if response.status != status:
            problems.append(f"{name}: status {response.status}")
        if status != 200:  # the browser logs the page's own error status as a console error
            problems[before:] = [p for p in problems[before:] if f"status of {status}" not in p]
        overflow = page.evaluate(OVERFLOW)
        if overflow:
            problems.append(f"{name}: wider than {width}px outside a scroll container: {overflow}")
        page.evaluate(AXE.read_text())  # through DevTools, as a test tool: the page's own CSP still applies to it
        violations = page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']}))
            .violations.filter(v => ['serious', 'critical'].includes(v.impact))
            .map(v => `${v.id}: ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')}`)""")
        problems.extend(f"{name}: {v}" for v in violations)
        problems[before:] = [p if p.startswith(name) else f"{name}: {p}" for p in problems[before:]]
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    assert problems == [], "\n".join(problems)
