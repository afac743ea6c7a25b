"""Core API: a ping that tells a machine client its key works and which key it is, and the status of
a background job (what a 202 answer's `status_url` points at)."""
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from apps.core.api.serializers import JobSerializer
from apps.core.models import Job
from apps.core.permissions import READ, SIGNED_IN, is_admin


@extend_schema(responses=inline_serializer("Ping", {"client": serializers.CharField()}))
@api_view(["GET"])
@permission_classes([SIGNED_IN])
def ping(request: Request) -> Response:
    return Response({"client": getattr(request.user, "username", "")})


@extend_schema(responses=JobSerializer)
@api_view(["GET"])
@permission_classes([READ])
def job_status(request: Request, job_id: int) -> Response:
    """A background job: queued, running, retrying, succeeded (with what it returned) or failed. The error
    (a traceback naming files and hosts) is for admins and `manage` keys only."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        raise NotFound(f"no job {job_id}")
    data = JobSerializer(job).data
    if data["error"] and not is_admin(request):
        data["error"] = "The job failed; an admin can read why." if job.status == Job.Status.FAILED else ""
    return Response(data)


def accepted(request: Request, job: Job) -> Response:
    """The 202 answer of an endpoint that queued a job: the job and where to poll it (also `Location`)."""
    url = reverse("api-job", args=[job.pk], request=request)
    job.refresh_from_db()  # a job run at once (JOBS_SYNC) has finished already
    return Response({**JobSerializer(job).data, "status_url": url}, status=202, headers={"Location": url})
