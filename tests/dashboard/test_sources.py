"""Looking up other apps' functions: missing is a clear state, broken is an error."""
from __future__ import annotations

import sys

import pytest

from apps.dashboard.sources import NotAvailable, function


def test_a_missing_module_or_function_is_not_available_yet():
    with pytest.raises(NotAvailable, match=r"apps\.nowhere\.selectors\.anything is not available yet"):
        function("apps.nowhere.selectors", "anything")
    with pytest.raises(NotAvailable, match=r"apps\.journeys\.selectors\.no_such_thing is not available yet"):
        function("apps.journeys.selectors", "no_such_thing")


def test_a_module_whose_own_import_is_broken_raises(tmp_path, monkeypatch):
    (tmp_path / "broken_dashboard_source.py").write_text("import a_package_that_does_not_exist\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    with pytest.raises(ModuleNotFoundError, match="a_package_that_does_not_exist"):
        function("broken_dashboard_source", "anything")
    sys.modules.pop("broken_dashboard_source", None)
