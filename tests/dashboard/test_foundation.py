"""Login, roles and the shared page furniture (navigation, skip link, CSV download)."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from apps.dashboard.roles import ADMIN, ANALYST, VIEWER, has_role, role_of
from apps.dashboard.tables import Column, Table, csv_response

PAGES = ["overview", "explorer", "top_journeys", "customers", "similarity", "models", "decisions", "ingest",
         "widgets"]

pytestmark = pytest.mark.django_db


def test_the_roles_exist_as_groups_after_migrating():
    assert sorted(Group.objects.values_list("name", flat=True)) == ["admin", "analyst", "viewer"]


@pytest.mark.parametrize("name", PAGES)
def test_every_page_sends_an_anonymous_visitor_to_the_login_page(client: Client, name: str):
    url = reverse(f"dashboard:{name}")

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_for_a_viewer(viewer: Client, name: str):
    response = viewer.get(reverse(f"dashboard:{name}"))

    assert response.status_code == 200, response.content[:500]
    html = response.content.decode()
    assert '<a class="skip-link" href="#main">' in html
    assert '<main id="main"' in html
    assert '<nav aria-label="Main"' in html


def test_a_signed_in_user_without_a_role_is_refused(db):
    client = Client()
    client.force_login(User.objects.create_user("nobody", password="x-very-long-password"))

    assert client.get(reverse("dashboard:overview")).status_code == 403


def test_role_ranks_follow_groups_and_staff_status(db):
    viewer = User.objects.create_user("v")
    viewer.groups.add(Group.objects.get(name=VIEWER))
    analyst = User.objects.create_user("a")
    analyst.groups.add(Group.objects.get(name=ANALYST))
    staff = User.objects.create_user("s", is_staff=True)

    assert [role_of(u) for u in (viewer, analyst, staff)] == [VIEWER, ANALYST, ADMIN]
    assert (has_role(viewer, ANALYST), has_role(analyst, ANALYST), has_role(analyst, ADMIN)) == (False, True, False)
    assert has_role(staff, ANALYST) is True


def test_the_login_page_logs_a_person_in_and_returns_them_where_they_were_going(db):
    User.objects.create_user("lee", password="correct-horse-battery").groups.add(Group.objects.get(name=VIEWER))
    client = Client()

    response = client.post("/accounts/login/", {"username": "lee", "password": "correct-horse-battery",
                                                "next": "/models/"})

    assert response.status_code == 302
    assert response["Location"] == "/models/"
    assert client.get("/models/").status_code == 200


def test_csv_download_writes_labels_then_values_in_column_order():
    table = Table("t", "caption", [Column("a", "Name"), Column("b", "Share", True), Column("c", "Path")],
                  [{"a": "x", "b": 0.123456789, "c": ["web", "call"]}, {"a": "y,z", "b": None, "c": []}])

    response = csv_response(table)

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="t.csv"'
    assert response.content.decode() == 'Name,Share,Path\r\nx,0.123457,web > call\r\n"y,z",,\r\n'


def test_vendored_scripts_are_found_by_the_static_files_finders():
    sizes = {path: Path(finders.find(path)).stat().st_size
             for path in ("vendor/plotly.min.js", "vendor/htmx.min.js", "js/charts.js")}

    assert sizes["vendor/plotly.min.js"] > 3_000_000
    assert sizes["vendor/htmx.min.js"] > 40_000
