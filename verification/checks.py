"""The automatic checks behind identity and qualification confirmation.

Pure functions over an application: they read stored documents and ask the state registry
gateway, and return what is wrong as a list of dicts `{"field", "label", "entered", "message"}`
ready to be stored on the application and shown to the worker field by field.
They change nothing; verification.services decides what the result means.
"""

from __future__ import annotations

from core import validators
from registry.models import AdmissionDocument, Education

from .documents import DocumentUnavailable, UploadRejected, document_read, validate_upload
from .gateways import PersonRecord, StateRegistryGateway
from .models import IdentityApplication, QualificationApplication, StoredDocument

SOURCE_NAMES = {"tax": "налоговой службы (ФНС)", "social_fund": "Социального фонда (СФР)"}

IDENTITY_FIELDS = (
    ("last_name", "Фамилия"),
    ("first_name", "Имя"),
    ("middle_name", "Отчество"),
    ("birth_date", "Дата рождения"),
)

# Required set of the qualification application; residency is required too: a doctor's
# admission rests on it (docs/domain.md, Workflows 2).
QUALIFICATION_DOCUMENTS = (
    ("diploma_document", "Диплом об образовании"),
    ("residency_document", "Документ об окончании ординатуры или интернатуры"),
    ("admission_document", "Сертификат специалиста или свидетельство об аккредитации"),
    ("no_sanctions_document", "Справка об отсутствии дисциплинарных взысканий"),
)
IDENTITY_DOCUMENTS = (
    ("passport_document", "Паспорт (страница с фотографией)"),
    ("qualification_document", "Документ о квалификации"),
)


def _name_key(value: str) -> str:
    # Registries disagree on ё/е and case; neither is a discrepancy.
    return " ".join((value or "").lower().replace("ё", "е").replace("-", " ").split())


def _shown(field: str, value) -> str:
    if field == "birth_date":
        return value.strftime("%d.%m.%Y") if value else "—"
    if field == "snils":
        return validators.format_snils(value)
    return value or "—"


def document_problems(documents: list[tuple[str, str, StoredDocument | None]]) -> list[dict]:
    """Format and readability of each stored file (decoded again from the encrypted blob), and
    completeness of the required set."""
    problems = []
    for field, label, document in documents:
        if document is None:
            problems.append(
                {"field": field, "label": label, "entered": "", "message": f"{label}: документ не приложен"}
            )
            continue
        try:
            validate_upload(document_read(document=document), field_label=label)
        except UploadRejected as exc:
            problems.append({"field": field, "label": label, "entered": document.original_name, "message": exc.message})
        except DocumentUnavailable:
            problems.append(
                {
                    "field": field,
                    "label": label,
                    "entered": document.original_name,
                    "message": f"{label}: файл не удалось прочитать — загрузите его ещё раз",
                }
            )
    return problems


def identity_document_problems(application: IdentityApplication) -> list[dict]:
    return document_problems([(f, label, getattr(application, f)) for f, label in IDENTITY_DOCUMENTS])


def identity_discrepancies(application: IdentityApplication, gateway: StateRegistryGateway) -> list[dict]:
    """Entered name, birth date, INN and SNILS against the social fund (by SNILS) and the tax
    service (by INN). Raises GatewayUnavailable if either cannot answer."""
    records: dict[str, PersonRecord | None] = {
        "social_fund": gateway.social_fund_lookup(snils=application.snils),
        "tax": gateway.tax_lookup(inn=application.inn),
    }
    found: dict[str, dict] = {}

    def add(field: str, label: str, entered, message: str) -> None:
        if field in found:
            found[field]["message"] += f"; {message}"
        else:
            found[field] = {
                "field": field,
                "label": label,
                "entered": _shown(field, entered),
                "message": f"{label}: {message}",
            }

    if records["social_fund"] is None:
        add("snils", "СНИЛС", application.snils, "такой СНИЛС не найден в данных Социального фонда (СФР)")
    if records["tax"] is None:
        add("inn", "ИНН", application.inn, "такой ИНН не найден в данных налоговой службы (ФНС)")
    for source, record in records.items():
        if record is None:
            continue
        for field, label in IDENTITY_FIELDS:
            entered = getattr(application, field)
            expected = getattr(record, field)
            same = entered == expected if field == "birth_date" else _name_key(entered) == _name_key(expected)
            if not same:
                add(field, label, entered, f"не совпадает с данными {SOURCE_NAMES[source]}")
    tax, fund = records["tax"], records["social_fund"]
    # Both numbers exist but belong to different people: the registries link INN and SNILS.
    if tax is not None and tax.linked_key and tax.linked_key != application.snils:
        add("inn", "ИНН", application.inn, "по данным ФНС этот ИНН принадлежит владельцу другого СНИЛС")
    elif fund is not None and fund.linked_key and fund.linked_key != application.inn and tax is not None:
        add("inn", "ИНН", application.inn, "по данным СФР владельцу этого СНИЛС присвоен другой ИНН")
    order = ["last_name", "first_name", "middle_name", "birth_date", "snils", "inn"]
    return sorted(found.values(), key=lambda d: order.index(d["field"]))


def qualification_problems(application: QualificationApplication) -> list[dict]:
    """Missing or unreadable files, and entered numbers the registry does not hold for this worker."""

    problems = document_problems([(f, label, getattr(application, f)) for f, label in QUALIFICATION_DOCUMENTS])
    worker_id = application.worker_id
    if not Education.objects.filter(worker_id=worker_id, diploma_number=application.diploma_number).exists():
        problems.append(
            {
                "field": "diploma_number",
                "label": "Номер диплома",
                "entered": application.diploma_number,
                "message": "Номер диплома: в регистре нет диплома с таким номером — проверьте номер",
            }
        )
    if not AdmissionDocument.objects.filter(worker_id=worker_id, number=application.admission_number).exists():
        problems.append(
            {
                "field": "admission_number",
                "label": "Номер сертификата или свидетельства",
                "entered": application.admission_number,
                "message": "Номер сертификата или свидетельства: в регистре нет такого документа о допуске",
            }
        )
    return problems
