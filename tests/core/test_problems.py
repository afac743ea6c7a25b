

def test_json_text_and_flags_take_their_own_types(api_client: APIClient, settings) -> None:  # type: ignore[no-untyped-def]
    """Found by schemathesis: `0` was read as the text "0" and as false, and `{}` as no milestones."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    hook = {"name": "crm", "url": "http://127.0.0.1:9/hook", "secret": "long-enough"}

    flag = api_client.post("/api/webhooks/", {**hook, "active": 0}, format="json")
    milestones = api_client.post("/api/webhooks/", {**hook, "milestones": {}}, format="json")
    text = api_client.post("/api/decisions/intent", {"customer_id": 0}, format="json")

    assert [e["field"] for e in problem(flag)["errors"]] == ["active"]
    assert problem(milestones)["errors"] == [{"field": "milestones", "detail": "Expected a list of milestone slugs.",
                                              "code": "invalid"}]
    assert problem(text)["errors"] == [{"field": "customer_id", "detail": "Not a valid string.", "code": "invalid"}]
