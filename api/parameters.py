"""Every parameter of every REST and FHIR operation, declared once with the register's validation layer
(registry.search.params). The views clean their parameters with these declarations, the OpenAPI schema is
generated from them (api.rest.schema.apply_parameters) and the FHIR CapabilityStatement lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from core import validators
from registry.models import DIRECTORY_MODELS, MedicalOrganization, OrganizationLicense, Specialty
from registry.search import params as p

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
FHIR_DEFAULT_COUNT = 20
FHIR_MAX_COUNT = 200

# Keyset orders and what their cursors carry (registry.search.params.Cursor).
NAME_ORDER = ("search_name", "id")
CHANGES_ORDER = ("updated_at", "id")
NAME_KEY = ("text", "int")
CHANGES_KEY = ("datetime", "int")
ID_KEY = ("int",)
CODE_KEY = ("text",)
# The workers' feed walks two tables at once: workers by (updated_at, id), tombstones by (created_at, id).
WORKER_CHANGES_KEY = ("datetime", "int", "datetime", "int")

DIRECTORIES = {model._meta.model_name: model for model in DIRECTORY_MODELS}


def page(key: tuple[str, ...]) -> p.ParamSet:
    return p.ParamSet(
        p.Cursor(name="cursor", label="Курсор", key=key),
        p.Integer(
            name="page_size",
            label="Размер страницы",
            minimum=1,
            maximum=MAX_PAGE_SIZE,
            description=f"Строк на странице, по умолчанию {DEFAULT_PAGE_SIZE}.",
        ),
    )


UPDATED_SINCE = p.DateTime(
    name="updated_since",
    label="Изменено после",
    allow_date=True,
    description="Строки, изменённые в этот момент или позже (RFC 3339; дата — с полуночи по времени сервера).",
)
REGISTRY_NUMBER = p.registry_number(location="path")
ORGANIZATION_ID = p.Integer(
    name="id", label="Организация", location="path", minimum=1, maximum=p.BIGINT_MAX, description="Id организации."
)
EMPLOYMENT_ID = p.Integer(
    name="id", label="Место работы", location="path", minimum=1, maximum=p.BIGINT_MAX, description="Id места работы."
)
DIRECTORY_NAME = p.Choice(
    name="name",
    label="Справочник",
    location="path",
    choices=tuple((name, str(model._meta.verbose_name_plural)) for name, model in DIRECTORIES.items()),
)


def ogrn(name: str = "ogrn") -> p.Identifier:
    return p.Identifier(
        name=name,
        label=validators.FIELD_OGRN,
        normalize=validators.normalize_ogrn,
        digits=13,
        first="15",
        format="ogrn",
        description="ОГРН, 13 цифр (пробелы и дефисы допустимы); последняя — контрольная.",
    )


def inn_legal(name: str = "inn") -> p.Identifier:
    return p.Identifier(
        name=name,
        label=validators.FIELD_INN_LEGAL,
        normalize=validators.normalize_inn_legal,
        digits=10,
        format="inn-legal",
        description="ИНН организации, 10 цифр (пробелы и дефисы допустимы); последняя — контрольная.",
    )


ORGANIZATION_SEARCH = p.ParamSet(
    p.Text(name="q", label="Наименование", max_length=200, description="Начала слов краткого наименования."),
    p.WORKER_SEARCH["region"],
    p.Choice(name="status", label="Статус организации", choices=tuple(MedicalOrganization.Status.choices)),
    ogrn(),
    inn_legal(),
)
LICENSE_FILTERS = p.ParamSet(
    p.Integer(
        name="organization",
        label="Организация",
        minimum=1,
        maximum=p.BIGINT_MAX,
        description="Id организации: её лицензии.",
    ),
    p.Choice(name="status", label="Статус лицензии", choices=tuple(OrganizationLicense.Status.choices)),
    UPDATED_SINCE,
)

# operation id (as in the schema) -> its parameters, path ones included.
OPERATIONS: dict[str, p.ParamSet] = {
    "workers_search": p.WORKER_SEARCH + page(NAME_KEY),
    "workers_changes": p.ParamSet(UPDATED_SINCE) + page(WORKER_CHANGES_KEY),
    "workers_retrieve": p.ParamSet(REGISTRY_NUMBER),
    "workers_admission_documents": p.ParamSet(REGISTRY_NUMBER),
    "organizations_search": ORGANIZATION_SEARCH + page(NAME_KEY),
    "organizations_changes": p.ParamSet(UPDATED_SINCE) + page(CHANGES_KEY),
    "organizations_retrieve": p.ParamSet(ORGANIZATION_ID),
    "licenses_list": LICENSE_FILTERS + page(CHANGES_KEY),
    "directories_list": p.ParamSet(),
    "directories_entries": p.ParamSet(DIRECTORY_NAME) + page(CODE_KEY),
    # Writes of an organization's own system (api.rest.employment): the body is described by its serializer.
    "employments_hire": p.ParamSet(ORGANIZATION_ID),
    "employments_transfer": p.ParamSet(EMPLOYMENT_ID),
    "employments_rate": p.ParamSet(EMPLOYMENT_ID),
    "employments_dismiss": p.ParamSet(EMPLOYMENT_ID),
}


# --- FHIR ---------------------------------------------------------------------------------------

SNILS_SYSTEM = "urn:oid:1.2.643.100.3"
INN_SYSTEM = "urn:oid:1.2.643.100.4"  # ИНН (OID of the tax number in Russian qualified certificates)
OGRN_SYSTEM = "urn:oid:1.2.643.100.1"
SPECIALTY_SYSTEM = f"urn:oid:{Specialty.OID}"


def fhir_base() -> str:
    return settings.SITE_URL.rstrip("/") + "/fhir"


def registry_system() -> str:
    return f"{fhir_base()}/sid/registry-number"


@dataclass(frozen=True)
class TokenValue:
    system: str | None  # None: no system given
    value: Any  # what the system's parameter parsed


def _unescape(text: str) -> list[str]:
    """Split a token on its unescaped «|» (FHIR escapes «|», «,», «$» and «\\» with a backslash)."""
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "|":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


@dataclass(frozen=True, kw_only=True)
class Token(p.Param):
    """A FHIR token, ``[system|]code``; the value is a TokenValue. `systems` maps each system we hold to the
    parameter that parses its codes; `bare` parses a code given without a system. A system we do not hold
    matches nothing (ParamWarning), as does «|code» (explicitly no system) when `bare` is None."""

    systems: tuple[tuple[Any, p.Param], ...]  # a system is a str or a zero-argument callable
    bare: p.Param | None = None
    fhir_type: str = "token"

    def parse(self, text, *, form=False):
        parts = _unescape(text)
        if len(parts) > 2:
            raise self.error("ожидается «код» или «система|код»; знак «|» внутри кода экранируется «\\|».")
        system, code = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])
        if not code:
            raise self.error("не указан код (значение после «|»).", "required")
        known = {(s() if callable(s) else s): param for s, param in self.systems}
        if system is None and self.bare is not None:
            param = self.bare
        elif system in known:
            param = known[system]
        else:
            raise p.ParamWarning(
                self.name,
                f"{self.label}: система «{system[:100]}» здесь не используется, ничего не найдено "
                f"(системы: {', '.join(known) or 'нет'}).",
                "unknown-system",
            )
        try:
            return TokenValue(system, param.parse(code))
        except p.ParamError as exc:
            raise type(exc)(self.name, exc.message, exc.code) from exc


@dataclass(frozen=True, kw_only=True)
class Reference(p.Param):
    """A FHIR reference to one of our resources: ``Type/id``, the bare id, or the absolute URL."""

    resource: str
    id_param: p.Param
    fhir_type: str = "reference"

    def parse(self, text, *, form=False):
        value = text
        for prefix in (f"{fhir_base()}/{self.resource}/", f"{self.resource}/"):
            if value.startswith(prefix):
                value = value[len(prefix) :]
                break
        else:
            if "/" in value:
                raise self.error(f"ссылка вида {self.resource}/<id>.")
        try:
            return self.id_param.parse(value)
        except p.ParamError as exc:
            message = f"{self.label}: ссылка вида {self.resource}/<id>. {exc.message}"
            raise type(exc)(self.name, message, exc.code) from exc


def _fhir_registry_number(name: str) -> p.Identifier:
    return p.registry_number(name)


def _fhir_count() -> p.Integer:
    return p.Integer(
        name="_count",
        label="_count",
        minimum=1,
        maximum=FHIR_MAX_COUNT,
        description=f"Ресурсов на странице, по умолчанию {FHIR_DEFAULT_COUNT}.",
    )


# An unencoded «+» in a query string arrives as a space: «application/fhir json» is taken for what it means.
JSON_FORMATS = ("json", "application/json", "application/fhir+json", "application/fhir json")
XML_FORMATS = {"xml", "application/xml", "text/xml", "application/fhir+xml", "application/fhir xml"}
FORMAT = p.Choice(
    name="_format",
    label="_format",
    choices=tuple((value, value) for value in (*JSON_FORMATS, *sorted(XML_FORMATS))),
    description="Только JSON; XML — ответ 406.",
)


def _fhir_page(key) -> tuple[p.Param, ...]:
    return (
        _fhir_count(),
        p.Cursor(name="_cursor", label="_cursor", key=key, description="Курсор из ссылки next предыдущей страницы."),
    )


def _specialty_token() -> Token:
    code = p.DirectoryCode(name="specialty", label="specialty", model=Specialty)
    return Token(
        name="specialty",
        label="specialty",
        systems=((SPECIALTY_SYSTEM, code),),
        bare=code,
        description=f"Специальность: код справочника {Specialty.OID}, «{SPECIALTY_SYSTEM}|код» или просто код.",
    )


def _organization_reference() -> Reference:
    return Reference(
        name="organization",
        label="organization",
        resource="Organization",
        id_param=p.Integer(name="organization", label="organization", minimum=1, maximum=p.BIGINT_MAX),
        description="Организация: Organization/<id> или id.",
    )


def _snils() -> p.Identifier:
    return p.Identifier(
        name="identifier",
        label="identifier",
        normalize=validators.normalize_snils,
        digits=11,
        format="snils",
    )


class _OrganizationNumber(p.Param):
    """An organization identifier without a system: 13 digits are an OGRN, 10 an INN; the value is
    (system, digits)."""

    def parse(self, text, *, form=False):
        try:
            digits = validators.normalize_digits(text, field="identifier")
        except ValidationError as exc:
            raise self.error("ОГРН (13 цифр) или ИНН организации (10 цифр).") from exc
        if len(digits) == 13:
            return (OGRN_SYSTEM, ogrn("identifier").parse(text))
        if len(digits) == 10:
            return (INN_SYSTEM, inn_legal("identifier").parse(text))
        raise self.error("ОГРН (13 цифр) или ИНН организации (10 цифр).")


FHIR_SEARCH: dict[str, p.ParamSet] = {
    "Practitioner": p.ParamSet(
        p.Text(name="name", label="name", max_length=200, description="Начала слов ФИО в любом порядке."),
        Token(
            name="identifier",
            label="identifier",
            systems=(
                (registry_system, _fhir_registry_number("identifier")),
                (SNILS_SYSTEM, _snils()),
            ),
            bare=_fhir_registry_number("identifier"),
            description="Регистровый номер (система …/sid/registry-number или без системы, любое написание) "
            f"или СНИЛС ({SNILS_SYSTEM}|…, только с областью personal).",
        ),
        _specialty_token(),
        _organization_reference(),
        *_fhir_page(NAME_KEY),
        FORMAT,
    ),
    "PractitionerRole": p.ParamSet(
        Reference(
            name="practitioner",
            label="practitioner",
            resource="Practitioner",
            id_param=_fhir_registry_number("practitioner"),
            description="Работник: Practitioner/<регистровый номер> или номер в любом написании.",
        ),
        _organization_reference(),
        _specialty_token(),
        *_fhir_page(ID_KEY),
        FORMAT,
    ),
    "Organization": p.ParamSet(
        p.Text(name="name", label="name", max_length=200, description="Начала слов краткого наименования."),
        Token(
            name="identifier",
            label="identifier",
            systems=((OGRN_SYSTEM, ogrn("identifier")), (INN_SYSTEM, inn_legal("identifier"))),
            bare=_OrganizationNumber(name="identifier", label="identifier"),
            description=f"ОГРН ({OGRN_SYSTEM}|…) или ИНН ({INN_SYSTEM}|…); без системы — по числу цифр.",
        ),
        *_fhir_page(NAME_KEY),
        FORMAT,
    ),
    "CodeSystem": p.ParamSet(
        p.Text(name="url", label="url", max_length=200, description="urn:oid:<OID справочника>."),
        p.Text(name="name", label="name", max_length=100, description="Имя справочника (specialty, region…)."),
        FORMAT,
    ),
}
FHIR_READ = p.ParamSet(FORMAT)

# FHIR search parameter types for the CapabilityStatement.
FHIR_TYPES = {"_count": "number", "_cursor": "string", "_format": "string", "url": "uri"}


def fhir_type(param: p.Param) -> str:
    return getattr(param, "fhir_type", None) or FHIR_TYPES.get(param.name, "string")
