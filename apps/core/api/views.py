"""Core API: a ping that tells a machine client its key works and which key it is."""
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.permissions import SIGNED_IN


@extend_schema(responses=inline_serializer("Ping", {"client": serializers.CharField()}))
@api_view(["GET"])
@permission_classes([SIGNED_IN])
def ping(request: Request) -> Response:
    return Response({"client": getattr(request.user, "username", "")})
