"""The customers app's own table: the index behind search by name.

A customer's name lives on its vertex in the graph (an attribute); scanning every customer's
attributes for a name costs a read of the whole population, so each word of each name is kept here,
indexed. `apps.customers.services.set_attributes` keeps it with the graph; `manage.py
reindex_customers` rebuilds it from the graph (a database restored apart from its store).
"""
from __future__ import annotations

from django.db import models

from apps.customers.names import MAX_WORD


class NameWord(models.Model):
    """One folded word of one customer's name (see apps.customers.names)."""

    customer_id = models.CharField(max_length=255)
    # db_index: a B-tree for ranges (SQLite) plus, on PostgreSQL, the pattern index LIKE 'x%' uses
    word = models.CharField(max_length=MAX_WORD, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer_id", "word"], name="customers_nameword_once")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.word}"
