"""Writes of an organization's own system (issue 20): hire, transfer, change the rate, dismiss.

A partner token bound to one organization with the scope `employment:write` posts them; each goes
through orgs.services, the functions behind the cabinet's forms, so the validation, the journal
and the worker's notification are the same. The body is checked for its shape here (types, required
fields); the values (SNILS checksum, directory codes, a rate of 0.25-1.5, dates) by the service,
whose refusal names the field. An employment of another organization is a 404, as is any other
organization's path; a token without the scope gets 403, a request without a token 401.
"""

from __future__ import annotations

import datetime as dt

from django.core.validators import RegexValidator
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.decorators import api_view, parser_classes, permission_classes
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from core.audit import audit_record
from core.models import AuditEntry
from orgs import services as org_services
from registry.models import Employment, MedicalOrganization
from registry.search import params

from .. import parameters
from ..authentication import request_token
from ..models import PartnerToken
from .errors import check_query_length
from .serializers import ErrorSerializer

SCOPE = PartnerToken.Scope.EMPLOYMENT_WRITE

LABELS = {
    "snils": "СНИЛС",
    "position": "Должность",
    "specialty": "Специальность",
    "department": "Подразделение",
    "rate": "Ставка",
    "kind": "Вид занятости",
    "started_on": "Дата начала",
    "ended_on": "Дата окончания",
    "reason": "Основание увольнения",
    "person": "Новый работник",
    "last_name": "Фамилия",
    "first_name": "Имя",
    "middle_name": "Отчество",
    "sex": "Пол",
    "birth_date": "Дата рождения",
    "inn": "ИНН",
    "citizenship": "Гражданство",
    "phone": "Телефон",
    "email": "E-mail",
}


class WriteAllowed(permissions.BasePermission):
    """A token is required (401 without one); it must carry the write scope and an organization (403)."""

    message = "Токен не даёт права записи мест работы (нужна область employment:write и организация токена)."

    def has_permission(self, request, view):
        token = request_token(request)
        if token is None:
            raise exceptions.NotAuthenticated("Нужен токен информационной системы: Authorization: Bearer <токен>.")
        return token.has_scope(SCOPE) and token.organization_id is not None


class Text(serializers.CharField):
    """A JSON string and nothing else: a number or a boolean where text is expected is an error
    (DRF's CharField would quietly turn 1 into "1")."""

    default_error_messages = {"invalid": "ожидается строка."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def _text(max_length: int, *, required: bool = True, help_text: str = "", **kwargs) -> Text:
    return Text(
        max_length=max_length,
        required=required,
        allow_blank=not required,
        # The schema's maxLength is of the string as sent; the services strip the values themselves.
        trim_whitespace=False,
        help_text=help_text,
        error_messages={
            "required": "обязательное поле.",
            "blank": "не заполнено.",
            "null": "не может быть null.",
            "max_length": f"не длиннее {max_length} знаков.",
        },
        **kwargs,
    )


def _date(*, required: bool = True, help_text: str = "") -> serializers.DateField:
    return serializers.DateField(
        required=required,
        input_formats=["iso-8601"],
        help_text=help_text,
        error_messages={
            "required": "обязательное поле.",
            "null": "не может быть null.",
            "invalid": "дата в формате ГГГГ-ММ-ДД.",
            "datetime": "ожидается дата без времени (ГГГГ-ММ-ДД).",
        },
    )


# 0.25-1.5 with at most two decimals, a point or a comma: what the import accepts (schema.rate).
RATE_PATTERN = r"^(0[.,](2[5-9]|[3-9][0-9]?)|1([.,]([0-4][0-9]?|50?))?)$"


def _rate() -> Text:
    return _text(
        8,
        help_text="Ставка от 0.25 до 1.5, не больше двух знаков после точки (запятая допустима): «0.5», «1».",
        validators=[RegexValidator(RATE_PATTERN, message="от 0.25 до 1.5, не больше двух знаков после точки.")],
    )


class PostSerializer(serializers.Serializer):
    position = _text(32, help_text="Код должности (справочник 1.2.643.5.1.13.13.11.1002).")
    specialty = _text(32, required=False, help_text="Код специальности (1.2.643.5.1.13.13.11.1066), если нужна.")
    department = _text(300, required=False, help_text="Подразделение.")
    rate = _rate()
    kind = serializers.ChoiceField(
        choices=Employment.Kind.choices,
        required=False,
        help_text="main — основное место, internal / external — совместительство; по умолчанию main.",
        error_messages={
            "invalid_choice": "допустимые значения: main, internal, external.",
            "null": "не может быть null.",
        },
    )
    started_on = _date(help_text="Дата начала (при переводе — первый день в новой должности).")


class PersonSerializer(serializers.Serializer):
    last_name = _text(100)
    first_name = _text(100)
    middle_name = _text(100, required=False)
    sex = serializers.ChoiceField(
        choices=[("M", "Мужской"), ("F", "Женский")],
        error_messages={"invalid_choice": "M или F.", "required": "обязательное поле.", "null": "не может быть null."},
    )
    birth_date = _date()
    inn = _text(20, required=False, help_text="ИНН, 12 цифр.")
    citizenship = _text(3, required=False, help_text="Код страны ISO alpha-3, по умолчанию RUS.")
    phone = _text(30, required=False)
    email = _text(254, required=False)


class HireSerializer(PostSerializer):
    snils = _text(20, help_text="СНИЛС работника (пробелы и дефисы допустимы); последние две цифры — контрольные.")
    person = PersonSerializer(
        required=False,
        help_text="Только для человека, которого ещё нет в регистре: его данные; запись создаётся после проверок "
        "контрольной суммы СНИЛС и возможных дубликатов.",
    )


class RateSerializer(serializers.Serializer):
    rate = _rate()


class DismissSerializer(serializers.Serializer):
    ended_on = _date(help_text="Последний рабочий день.")
    reason = _text(32, help_text="Код основания увольнения (справочник оснований, /api/v1/directories/).")


class EmploymentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    organization = serializers.IntegerField(source="organization_id")
    worker = serializers.CharField(source="worker.registry_number", help_text="Регистровый номер работника.")
    position = serializers.CharField(source="position.code")
    specialty = serializers.CharField(source="specialty.code", allow_null=True, default=None)
    department = serializers.CharField()
    rate = serializers.DecimalField(max_digits=3, decimal_places=2, coerce_to_string=True)
    kind = serializers.ChoiceField(choices=Employment.Kind.choices)
    started_on = serializers.DateField()
    ended_on = serializers.DateField(allow_null=True)
    dismissal_reason = serializers.CharField()


WRITE_ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid body; `field` names the field (message in Russian)."),
    401: OpenApiResponse(ErrorSerializer, description="No token, or an invalid or revoked one."),
    403: OpenApiResponse(ErrorSerializer, description="The token lacks the `employment:write` scope."),
    404: OpenApiResponse(ErrorSerializer, description="Not an organization or employment of the token's organization."),
    414: OpenApiResponse(ErrorSerializer, description="Query string over 16 KiB."),
    415: OpenApiResponse(ErrorSerializer, description="The body is not JSON (Content-Type: application/json)."),
    429: OpenApiResponse(ErrorSerializer, description="Rate limit exceeded."),
    500: OpenApiResponse(ErrorSerializer, description="Server error; the message gives the request id."),
    503: OpenApiResponse(ErrorSerializer, description="Database unavailable for a moment; retry later."),
}
AUTH = [{"partnerToken": []}]
DESCRIPTION = (
    "Needs a partner token bound to an organization with the scope `employment:write`. The same checks, "
    "journal and worker notification as the organization cabinet's forms; the schema cannot state all of "
    "them (a SNILS checksum, a directory code, an end after the start), so a well-formed body may still be "
    "refused with 400 naming the field."
)


def _labelled(errors, prefix: str = ""):
    """DRF's errors keyed by field, each message prefixed with the field's Russian name."""
    out = {}
    for name, messages in errors.items():
        if isinstance(messages, dict):
            out.update(_labelled(messages, prefix=f"{prefix}{name}."))
            continue
        label = LABELS.get(name, name) if name != "non_field_errors" else "Тело запроса"
        key = f"{prefix}{name}" if name != "non_field_errors" else None
        items = [exceptions.ErrorDetail(f"{label}: {m}", code=getattr(m, "code", "invalid")) for m in messages]
        out.setdefault(key or "non_field_errors", []).extend(items)
    return out


def _body(request, serializer_class) -> dict:
    if not isinstance(request.data, dict):
        raise exceptions.ValidationError({"non_field_errors": ["Тело запроса: ожидается объект JSON."]})
    serializer = serializer_class(data=request.data)
    if not serializer.is_valid():
        raise exceptions.ValidationError(_labelled(serializer.errors))
    return serializer.validated_data


def _org_error(exc: org_services.OrgError) -> exceptions.ValidationError:
    return exceptions.ValidationError(
        {exc.field or "non_field_errors": [exceptions.ErrorDetail(exc.message, code=exc.code or "invalid")]}
    )


def _token_organization(request, organization_id: int | None) -> MedicalOrganization:
    """The token's own organization when the path names it; any other is a 404."""
    token = request_token(request)
    if organization_id is None or token is None or token.organization_id != organization_id:
        raise exceptions.NotFound()
    return MedicalOrganization.objects.get(pk=organization_id)


def _own_employment(request, pk: str) -> tuple[MedicalOrganization, int]:
    employment_id = params.clean_path(parameters.EMPLOYMENT_ID, pk)
    token = request_token(request)
    found = (
        Employment.objects.filter(pk=employment_id, organization_id=token.organization_id)
        .values_list("organization_id", flat=True)
        .first()
        if employment_id is not None and token is not None
        else None
    )
    if found is None:
        raise exceptions.NotFound()
    return MedicalOrganization.objects.get(pk=found), employment_id


def _done(request, employment: Employment, action: str, *, created: bool = False) -> Response:
    """The token that made the change joins the journal next to the service's own entry."""
    token = request_token(request)
    audit_record(
        event=AuditEntry.Event.DATA_CHANGED,
        request=request._request,
        object_type="employment",
        object_id=str(employment.pk),
        details={"action": action, "via": "api", "partner_token": token.pk, "partner": token.name},
    )
    employment = Employment.objects.select_related("worker", "position", "specialty").get(pk=employment.pk)
    data = EmploymentSerializer(employment).data
    return Response(data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _post(data: dict) -> org_services.PostInput:
    return org_services.PostInput(
        position=data["position"],
        rate=data["rate"],
        started_on=data["started_on"],
        specialty=data.get("specialty", ""),
        department=data.get("department", ""),
        kind=data.get("kind") or Employment.Kind.MAIN,
    )


@extend_schema(
    operation_id="employments_hire",
    summary="Hire a worker (the token's organization)",
    request=HireSerializer,
    responses={201: EmploymentSerializer, **WRITE_ERRORS},
    auth=AUTH,
    description=DESCRIPTION + " A worker of the register is named by SNILS; a person not yet in it comes "
    "with `person`.",
)
@api_view(["POST"])
@parser_classes([JSONParser])
@permission_classes([WriteAllowed])
def employment_hire(request, pk: str):
    check_query_length(request)
    organization = _token_organization(request, params.clean_path(parameters.ORGANIZATION_ID, pk))
    data = _body(request, HireSerializer)
    person = data.get("person")
    try:
        employment = org_services.employment_hire(
            actor=None,
            organization=organization,
            snils=data["snils"],
            post=_post(data),
            person=org_services.PersonInput(**{k: v for k, v in person.items() if v != ""}) if person else None,
            request=request._request,
        )
    except org_services.OrgError as exc:
        raise _org_error(exc) from exc
    return _done(request, employment, "hired", created=True)


@extend_schema(
    operation_id="employments_transfer",
    summary="Transfer to another post",
    request=PostSerializer,
    responses={201: EmploymentSerializer, **WRITE_ERRORS},
    auth=AUTH,
    description=DESCRIPTION + " The current post ends the day before `started_on`; the new post is returned.",
)
@api_view(["POST"])
@parser_classes([JSONParser])
@permission_classes([WriteAllowed])
def employment_transfer(request, pk: str):
    check_query_length(request)
    organization, employment_id = _own_employment(request, pk)
    data = _body(request, PostSerializer)
    try:
        employment = org_services.employment_transfer(
            actor=None,
            organization=organization,
            employment_id=employment_id,
            post=_post(data),
            request=request._request,
        )
    except org_services.OrgError as exc:
        raise _org_error(exc) from exc
    return _done(request, employment, "transferred", created=True)


@extend_schema(
    operation_id="employments_rate",
    summary="Change the rate of a current post",
    request=RateSerializer,
    responses={200: EmploymentSerializer, **WRITE_ERRORS},
    auth=AUTH,
    description=DESCRIPTION,
)
@api_view(["POST"])
@parser_classes([JSONParser])
@permission_classes([WriteAllowed])
def employment_rate(request, pk: str):
    check_query_length(request)
    organization, employment_id = _own_employment(request, pk)
    data = _body(request, RateSerializer)
    try:
        employment = org_services.employment_change_rate(
            actor=None,
            organization=organization,
            employment_id=employment_id,
            rate=data["rate"],
            request=request._request,
        )
    except org_services.OrgError as exc:
        raise _org_error(exc) from exc
    return _done(request, employment, "rate_changed")


@extend_schema(
    operation_id="employments_dismiss",
    summary="Dismiss (end a current post)",
    request=DismissSerializer,
    responses={200: EmploymentSerializer, **WRITE_ERRORS},
    auth=AUTH,
    description=DESCRIPTION,
)
@api_view(["POST"])
@parser_classes([JSONParser])
@permission_classes([WriteAllowed])
def employment_dismiss(request, pk: str):
    check_query_length(request)
    organization, employment_id = _own_employment(request, pk)
    data = _body(request, DismissSerializer)
    ended_on: dt.date = data["ended_on"]
    try:
        employment = org_services.employment_dismiss(
            actor=None,
            organization=organization,
            employment_id=employment_id,
            ended_on=ended_on,
            reason=data["reason"],
            request=request._request,
        )
    except org_services.OrgError as exc:
        raise _org_error(exc) from exc
    return _done(request, employment, "dismissed")
