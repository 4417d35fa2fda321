"""Every API error is JSON: {"errors": [{"code": ..., "field": ... or null, "message": ...}]}.

That includes what a view did not expect: an exception becomes a logged 500 with the request id, and a
database that cannot be reached (or cancelled the query) a 503 with Retry-After. An error raised before
any view ran (a middleware) reaches Django's handler500, which answers the same envelope for /api/
(portal.views.server_error -> server_error_response).
"""

from __future__ import annotations

import logging

from django import db
from django.core.exceptions import SuspiciousOperation
from django.http import JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from registry.search import params

logger = logging.getLogger("api")

RETRY_AFTER_SECONDS = 30
# The longest real query string is about 7,000 bytes (a cursor over a 500-character name and a 200-character
# percent-encoded q); anything far beyond is refused before it is parsed.
MAX_QUERY_STRING = 16_384
MSG_UNAVAILABLE = "Сервис временно недоступен (база данных не отвечает). Повторите запрос позже."
MSG_SERVER_ERROR = "Внутренняя ошибка сервера. Номер запроса для службы поддержки: {request_id}."


class UriTooLong(exceptions.APIException):
    status_code = 414
    default_code = "uri_too_long"
    default_detail = f"Слишком длинная строка запроса (больше {MAX_QUERY_STRING} байт)."


def check_query_length(request) -> None:
    if len(request.META.get("QUERY_STRING", "")) > MAX_QUERY_STRING:
        raise UriTooLong()


def as_api_exception(exc):
    """Django's refusals of a request (more than DATA_UPLOAD_MAX_NUMBER_FIELDS parameters, a disallowed
    host...) are the client's error, a 400, not an unexpected one."""
    if isinstance(exc, SuspiciousOperation):
        return exceptions.ParseError(f"Некорректный запрос: {exc.__class__.__name__}.")
    return exc


def _flatten(detail, field=None):
    if isinstance(detail, dict):
        for key, value in detail.items():
            yield from _flatten(value, None if key == "non_field_errors" else key)
    elif isinstance(detail, list):
        for item in detail:
            yield from _flatten(item, field)
    else:
        yield {"code": getattr(detail, "code", None) or "invalid", "field": field, "message": str(detail)}


def is_unavailable(exc: BaseException) -> bool:
    """The database could not answer now: down, unreachable, or the query was cancelled (timeout)."""
    return isinstance(exc, db.OperationalError | db.InterfaceError)


def unexpected(exc: BaseException, request) -> tuple[int, dict, dict]:
    """(status, error item, headers) for an exception no view handles; logs it with its traceback."""
    request_id = getattr(request, "request_id", "") or "-"
    if is_unavailable(exc):
        logger.error("database unavailable while serving %s", getattr(request, "path", "?"), exc_info=exc)
        item = {"code": "unavailable", "field": None, "message": MSG_UNAVAILABLE}
        return 503, item, {"Retry-After": str(RETRY_AFTER_SECONDS)}
    logger.error("unhandled error while serving %s", getattr(request, "path", "?"), exc_info=exc)
    item = {"code": "server_error", "field": None, "message": MSG_SERVER_ERROR.format(request_id=request_id)}
    return 500, item, {}


def exception_handler(exc, context):
    exc = as_api_exception(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        # Not an API exception: a 500 (or a 503 for the database) in the same envelope, never the HTML page.
        set_rollback()
        status, item, headers = unexpected(exc, context.get("request"))
        return Response({"errors": [item]}, status=status, headers=headers)
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


def server_error_response(request, exc: BaseException | None = None, *, status: int = 500) -> JsonResponse:
    """The envelope for an error outside the API's views (handler500/400/403 under /api/)."""
    if exc is not None and status == 500:
        status, item, headers = unexpected(exc, request)
    else:
        codes = {400: ("bad_request", "Некорректный запрос."), 403: ("forbidden", "Доступ запрещён.")}
        code, message = codes.get(status, ("server_error", None))
        request_id = getattr(request, "request_id", "") or "-"
        item = {"code": code, "field": None, "message": message or MSG_SERVER_ERROR.format(request_id=request_id)}
        headers = {}
    response = JsonResponse({"errors": [item]}, status=status, json_dumps_params={"ensure_ascii": False})
    for name, value in headers.items():
        response[name] = value
    return response


def param_errors(exc: params.ParamErrors) -> exceptions.ValidationError:
    """The validation layer's errors as a DRF ValidationError keyed by the query parameter."""
    return exceptions.ValidationError(
        {error.name: [exceptions.ErrorDetail(error.message, code=error.code)] for error in exc.errors}
    )
