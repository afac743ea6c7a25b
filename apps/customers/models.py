"""The customers app's own tables: the indexes behind search by name and the segment filter.

A customer's name and segment live on its vertex in the graph (attributes, one JSON text); finding
customers by either from there costs a read and a decode of the whole population, so each word of each
name, and each customer's segment, is kept here, indexed. `apps.customers.services.set_attributes`
keeps them with the graph; `manage.py reindex_customers` rebuilds them from the graph (a database
restored apart from its store).
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


MAX_SEGMENT = 500


class CustomerSegment(models.Model):
    """A customer's `segment` attribute (as text), for journey and KPI questions about one segment:
    one indexed lookup instead of every customer's attributes. Customers without one have no row."""

    customer_id = models.CharField(max_length=255, unique=True)
    segment = models.CharField(max_length=MAX_SEGMENT, db_index=True)

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.segment}"
