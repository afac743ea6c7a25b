"""Whole-population analyses as engine expressions (DuckDB or Spark through Ibis); see apps.events.engine."""
