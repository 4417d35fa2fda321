"""Every API error is JSON: {"errors": [{"code": ..., "field": ... or null, "message": ...}]}."""

from __future__ import annotations

from django import forms
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler


def _flatten(detail, field=None):
    if isinstance(detail, dict):
        for key, value in detail.items():
            yield from _flatten(value, None if key == "non_field_errors" else key)
    elif isinstance(detail, list):
        for item in detail:
            yield from _flatten(item, field)
    else:
        yield {"code": getattr(detail, "code", None) or "invalid", "field": field, "message": str(detail)}


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = list(_flatten(exc.detail))
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        errors = [{"code": getattr(detail, "code", None) or "error", "field": None, "message": str(detail)}]
        if isinstance(exc, exceptions.Throttled):
            errors[0]["message"] = "Слишком много запросов: превышен лимит для этого токена или адреса."
            errors[0]["retry_after"] = exc.wait
        elif isinstance(exc, exceptions.NotFound):
            errors[0]["message"] = "Не найдено."
    response.data = {"errors": errors}
    return response


def form_errors(form: forms.Form) -> exceptions.ValidationError:
    """A Django form's errors as a DRF ValidationError keyed by the query parameter."""
    detail = {}
    for name, errors in form.errors.as_data().items():
        detail[name] = [exceptions.ErrorDetail(" ".join(e.messages), code=e.code or "invalid") for e in errors]
    return exceptions.ValidationError(detail)
