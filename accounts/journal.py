"""Human-readable summaries of audit entries for the owner's journal: what was done, which
fields changed, which protected data staff looked at. The entry itself stays as recorded."""

from __future__ import annotations

ACTION_LABELS = {
    "identity_submitted": "Отправлено заявление на подтверждение личности",
    "identity_resubmitted": "Заявление на подтверждение личности исправлено и отправлено повторно",
    "identity_confirmed": "Личность подтверждена",
    "identity_rejected": "Заявление на подтверждение личности отклонено",
    "qualification_submitted": "Отправлено заявление на подтверждение квалификации",
    "qualification_resubmitted": "Заявление на подтверждение квалификации дополнено",
    "qualification_confirmed": "Квалификация подтверждена",
    "qualification_needs_fix": "Заявление на подтверждение квалификации возвращено на исправление",
    "change_requested": "Отправлена заявка на исправление сведений",
    "change_approved": "Сведения исправлены (заявка одобрена)",
    "change_rejected": "Заявка на исправление сведений отклонена",
}

FIELD_LABELS = {
    "last_name": "фамилия",
    "first_name": "имя",
    "middle_name": "отчество",
    "birth_date": "дата рождения",
    "snils": "СНИЛС",
    "inn": "ИНН",
    "phone": "телефон",
    "email": "e-mail",
    "registry_number": "регистровый номер",
    "specialty": "специальность",
    "category": "категория",
    "admission_number": "номер документа о допуске",
    "admission_valid_until": "срок документа о допуске",
    "organization": "место работы",
    "employment_status": "статус занятости",
    "identity_status": "статус личности",
    "last_confirmed_at": "дата подтверждения",
    "has_confirmed_documents": "отметка о подтверждении документов",
    "passport_document": "паспорт",
    "qualification_document": "документ о квалификации",
    "employer_id_document": "служебное удостоверение",
    "diploma_document": "диплом",
    "residency_document": "ординатура/интернатура",
    "admission_document": "документ о допуске (файл)",
    "no_sanctions_document": "справка об отсутствии взысканий",
    "diploma_number": "номер диплома",
}

OBJECT_LABELS = {
    "document": "загруженный документ",
    "identity": "заявление на подтверждение личности",
    "identity_application": "заявление на подтверждение личности",
    "qualification": "заявление на подтверждение квалификации",
    "qualification_application": "заявление на подтверждение квалификации",
    "change": "заявка на исправление сведений",
    "change_request": "заявка на исправление сведений",
    "worker": "запись в регистре",
}


def entry_summary(entry) -> str:
    """One line for the journal: the action, the fields it changed, the object staff looked at."""
    details = entry.details or {}
    parts = []
    action = details.get("action")
    if action:
        parts.append(ACTION_LABELS.get(action, action))
    elif entry.object_type:
        parts.append(OBJECT_LABELS.get(entry.object_type, entry.object_type))
    fields = details.get("fields") or []
    if fields:
        parts.append("поля: " + ", ".join(FIELD_LABELS.get(f, f) for f in fields))
    return "; ".join(parts)
