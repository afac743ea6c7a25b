"""Finding a customer by what a person knows: name, phone, e-mail, id or identifier (no browser)."""
from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection

from apps.customers import selectors, services
from apps.customers.models import NameWord
from apps.ingest.services import ingest_records

pytestmark = pytest.mark.django_db
DAY = "2026-03-01T0{}:00:00Z"


@pytest.fixture
def people() -> None:
    """c1 Olivia Smith (phone, e-mail), c2 Zoë O'Brien (phone), c3 Oliver Smithers, c4 without a name."""
    rows = [{"customer_id": "c1", "phone": "0412 345 001", "email": "Olivia.Smith@Example.com"},
            {"customer_id": "c2", "phone": "+61412345002"}, {"customer_id": "c3"}, {"customer_id": "c4"}]
    batch = ingest_records(records=[{**row, "event_id": f"e{n}", "event_type": "web_visit", "channel": "web",
                                     "timestamp": DAY.format(n)} for n, row in enumerate(rows)], source="t")
    assert batch.loaded == 4, batch.error
    services.set_attributes({"c1": {"name": "Olivia Smith"}, "c2": {"name": "Zoë O'Brien", "segment": "gold"},
                             "c3": {"name": "Oliver Smithers"}, "c4": {"segment": "gold"}})


@pytest.mark.parametrize(("text", "found"), [
    ("olivia", ["c1"]),
    ("smi", ["c1", "c3"]),            # the start of a word
    ("SMITH oli", ["c1", "c3"]),      # every word, in any order, any case
    ("smith olivia", ["c1"]),
    ("zoe", ["c2"]), ("ZOË", ["c2"]),  # accents do not matter
    ("o'brien", ["c2"]),
    ("livia", []),                    # inside a word: no
    ("smith zoe", []),
])
def test_a_name_is_found_by_the_start_of_its_words(people: None, text: str, found: list[str]) -> None:
    assert selectors.find_customers(text).customer_ids == found


def test_a_phone_as_people_write_it_an_email_in_any_case_an_id_and_an_identifier(people: None) -> None:
    assert selectors.find_customers("(04) 1234-5001") == selectors.Search(["c1"], "phone +61412345001")
    assert selectors.find_customers("+61 412 345 002").customer_ids == ["c2"]
    assert selectors.find_customers("OLIVIA.SMITH@example.com") == selectors.Search(
        ["c1"], "e-mail olivia.smith@example.com")
    assert selectors.find_customers("c3") == selectors.Search(["c3"], "id 'c3'")
    assert selectors.find_customers("phone:0412345002").customer_ids == ["c2"]


def test_nobody_found_says_what_was_tried(people: None) -> None:
    assert selectors.find_customers("0499 999 999") == selectors.Search(
        [], "phone +61499999999, id or name '0499 999 999'")


def test_a_new_name_replaces_the_old_words(people: None) -> None:
    services.set_attributes({"c1": {"name": "Olivia Jones"}})

    assert selectors.find_customers("smith").customer_ids == ["c3"]
    assert selectors.find_customers("jones").customer_ids == ["c1"]
    assert sorted(NameWord.objects.filter(customer_id="c1").values_list("word", flat=True)) == ["jones", "olivia"]


def test_the_index_is_rebuilt_from_the_graph(people: None) -> None:
    NameWord.objects.all().delete()
    assert selectors.find_customers("zoe").customer_ids == []

    out = io.StringIO()
    call_command("reindex_customers", stdout=out)

    assert out.getvalue().splitlines()[-1] == "Name and segment indexes rebuilt from 4 customers."

    assert selectors.find_customers("zoe").customer_ids == ["c2"]
    assert NameWord.objects.count() == 7  # olivia smith, zoe o brien, oliver smithers


def test_a_name_search_reads_the_word_index_not_every_row(people: None) -> None:
    query = NameWord.objects.filter(selectors._starting("smi")).values("customer_id").query
    sql, params = query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
            assert "customers_nameword_word" in plan and "USING" in plan and "INDEX" in plan, plan
        else:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = " ".join(row[0] for row in cursor.fetchall())
            assert "Index" in plan and "nameword_word" in plan, plan
