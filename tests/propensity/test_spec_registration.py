"""Every app registers its own models; the propensity app names no other app."""
from __future__ import annotations

from pathlib import Path

import apps.propensity as propensity
from apps.propensity.specs import get_spec, spec_names


def test_the_intent_and_risk_models_of_the_decisions_app_register_themselves_beside_propensity_s():
    assert {"churn", "csat", "next_touchpoint", "intent", "risk"} <= set(spec_names())
    assert get_spec("risk").name == "risk"


def test_the_propensity_app_does_not_load_other_apps_by_name():
    sources = {p.name: p.read_text() for p in Path(propensity.__file__).parent.rglob("*.py")}

    assert [name for name, text in sources.items() if "apps.decisions" in text or "import_module(\"apps." in text
            or "import_module('apps." in text] == []
