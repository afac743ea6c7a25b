"""Tells drf-spectacular how API keys are sent, so the OpenAPI document shows the `Api-Key` scheme."""
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "apps.core.auth.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "Send `Authorization: Api-Key <key>` (create one with `manage.py create_api_key`)."}
