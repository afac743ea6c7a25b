"""Propensity API: the model registry (read, activate, roll back, train) and online customer scores.

Reading needs the viewer role or a `read` key. Changing which version is served, or starting training,
needs the admin role or a `manage` key (apps.core.permissions). A failed run's error text (a
traceback with file paths) is shown to admins and `manage` keys only.
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from apps.core.models import Job
from apps.core.pagination import BoundedLimitOffsetPagination, paged
from apps.core.permissions import MANAGE, READ, is_admin
from apps.core.problems import problem_response
from apps.core.services import record_audit
from apps.propensity import registry, selectors
from apps.propensity.api.serializers import (
    ActivateSerializer,
    CustomerNextEventsSerializer,
    CustomerScoresSerializer,
    ModelSummarySerializer,
    ModelVersionSerializer,
    TrainingAcceptedSerializer,
    TrainingBusySerializer,
    TrainingRunSerializer,
    TrainRequestSerializer,
)
from apps.propensity.models import TrainingRun
from apps.propensity.params import ParamError, validate_params
from apps.propensity.scoring import NoActiveModel, UnknownCustomer, next_events_for, score_customer_all_models
from apps.propensity.specs import spec_names


def _acting_user(request: Request) -> Any:
    return request.user if getattr(request.user, "pk", None) else None


NAME = OpenApiParameter("name", str, OpenApiParameter.PATH, description="model name, e.g. churn")


@paged
@extend_schema(responses=ModelVersionSerializer(many=True),
               parameters=[OpenApiParameter("name", str, enum=spec_names(), description="only this model")])
@api_view(["GET"])
@permission_classes([READ])
def model_list(request: Request) -> Response:
    """Every registered version, newest first per model, with its metrics beside the baseline's."""
    name = request.query_params.get("name") or None
    if name is not None and name not in spec_names():  # it answered an empty list, as for a model never trained
        raise ValidationError({"name": [f"unknown model {name!r}; known models: {', '.join(spec_names())}"]})
    versions = selectors.model_versions(name)
    paginator = BoundedLimitOffsetPagination()
    page = paginator.paginate_queryset(versions, request)
    return paginator.get_paginated_response(ModelVersionSerializer(page, many=True).data)


@extend_schema(parameters=[NAME], responses=ModelSummarySerializer)
@api_view(["GET"])
@permission_classes([READ])
def model_detail(request: Request, name: str) -> Response:
    versions = list(selectors.model_versions(name))
    if not versions:
        raise NotFound(f"no model named {name!r}")
    active = next((v for v in versions if v.is_active), None)
    return Response(ModelSummarySerializer({"name": name, "active": active, "versions": versions}).data)


@extend_schema(parameters=[NAME], request=ActivateSerializer, responses=ModelVersionSerializer)
@api_view(["POST"])
@permission_classes([MANAGE])
def model_activate(request: Request, name: str) -> Response:
    body = ActivateSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    try:
        version = registry.activate(name=name, version=body.validated_data["version"], user=_acting_user(request))
    except registry.RegistryError as exc:
        raise NotFound(str(exc)) from exc
    return Response(ModelVersionSerializer(version).data)


@extend_schema(parameters=[NAME], request=None, responses=ModelVersionSerializer)
@api_view(["POST"])
@permission_classes([MANAGE])
def model_rollback(request: Request, name: str) -> Response:
    if not selectors.model_versions(name).exists():
        raise NotFound(f"no model named {name!r}")
    try:
        version = registry.rollback(name=name, user=_acting_user(request))
    except registry.RegistryError as exc:
        raise ValidationError({"detail": str(exc)}) from exc
    return Response(ModelVersionSerializer(version).data)


RUN_LOCATION = OpenApiParameter("Location", str, OpenApiParameter.HEADER, response=[202, 409],
                                description="the training run to poll (`GET /api/training-runs/{id}`)")


@extend_schema(parameters=[NAME, RUN_LOCATION], request=TrainRequestSerializer,
               responses={202: TrainingAcceptedSerializer, 409: TrainingBusySerializer})
@api_view(["POST"])
@permission_classes([MANAGE])
def model_train(request: Request, name: str) -> Response | HttpResponse:
    """Start training in the background; poll the returned run (`status_url`, `Location`) for progress,
    and its job (`job_url`) for attempts and retries. While a run of the model is queued or running,
    the answer is 409 with that run (one run per model at a time)."""
    if name not in spec_names():
        raise NotFound(f"unknown model {name!r}; known models: {', '.join(spec_names())}")
    body = TrainRequestSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    from apps.propensity.tasks import TrainingInProgress, start_training

    data = body.validated_data
    try:
        params = validate_params(data["params"])
    except ParamError as exc:
        raise ValidationError({"params": [str(exc)]}) from exc
    try:
        run, job = start_training(name=name, since=data.get("since"), until=data.get("until"),
                                  options={"params": params, "seed": data["seed"]},
                                  trained_by=getattr(request.user, "username", "") or "api")
    except TrainingInProgress as busy:
        url = reverse("api-training-run", args=[busy.run.pk], request=request)
        return problem_response(request, 409, f"{busy}; follow it at {url}", type_name="training-in-progress",
                                headers={"Location": url}, run=TrainingRunSerializer(busy.run).data)
    # the new version is activated by the job, in the background: the request is what names who asked
    record_audit(action="train", obj=run, changes={"params": params, "seed": data["seed"]})
    return _training_accepted(request, run, job)


def _training_accepted(request: Request, run: TrainingRun, job: Job) -> Response:
    """The 202 of `train`: the run with where to poll it (also `Location`) and its job's links."""
    url = reverse("api-training-run", args=[run.pk], request=request)
    links = {"job_id": job.pk, "job_url": reverse("api-job", args=[job.pk], request=request), "status_url": url}
    return Response({**TrainingRunSerializer(run).data, **links}, status=status.HTTP_202_ACCEPTED,
                    headers={"Location": url})


@extend_schema(responses=TrainingRunSerializer)
@api_view(["GET"])
@permission_classes([READ])
def training_run(request: Request, run_id: int) -> Response:
    run = selectors.training_runs().filter(pk=run_id).first()
    if run is None:
        raise NotFound(f"no training run {run_id}")
    data = TrainingRunSerializer(run).data
    if run.status == run.Status.FAILED and not is_admin(request):
        data["message"], data["error"] = "Training failed; an admin can read why.", ""
    return Response(data)


@extend_schema(parameters=[OpenApiParameter("customer_id", str, OpenApiParameter.PATH),
                           OpenApiParameter("models", str, description="comma-separated model names")],
               responses=CustomerScoresSerializer)
@api_view(["GET"])
@permission_classes([READ])
def customer_scores(request: Request, customer_id: str) -> Response:
    """The customer scored now by every active journey model, with the top feature contributions."""
    wanted = [m for m in request.query_params.get("models", "").split(",") if m] or None
    try:
        scores = score_customer_all_models(customer_id, models=wanted)
    except UnknownCustomer as exc:
        raise NotFound(f"no customer {customer_id!r}") from exc
    except KeyError as exc:
        raise ValidationError({"models": [str(exc.args[0])]}) from exc
    return Response(CustomerScoresSerializer({"customer_id": customer_id,
                                              "scores": [asdict(s) for s in scores]}).data)


@extend_schema(parameters=[OpenApiParameter("customer_id", str, OpenApiParameter.PATH)],
               responses=CustomerNextEventsSerializer)
@api_view(["GET"])
@permission_classes([READ])
def customer_next_event(request: Request, customer_id: str) -> Response:
    """The three likeliest next events of the customer's journey so far (its end among them), with
    probabilities, from the active next_event model. Readers like the customer's scores."""
    try:
        body = next_events_for(customer_id, k=3)
    except UnknownCustomer as exc:
        raise NotFound(f"no customer {customer_id!r}") from exc
    except NoActiveModel as exc:
        raise NotFound(str(exc)) from exc
    return Response(CustomerNextEventsSerializer(body).data)
