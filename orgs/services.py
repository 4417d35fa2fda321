"""The organization cabinet's writes: memberships, and the HR operations on the organization's staff.

Every caller (the cabinet's forms, the API for the organization's own systems, the bulk upload) goes
through these functions, so a hire is checked, journaled and announced to the worker the same way
wherever it comes from. The cells are checked with the import's own cleaners (registry.imports.schema):
a rate of 0.25–1.5 in steps of 0.01, a start date not in the future, directories by code. The caller
has established that ``actor`` acts for ``organization`` (orgs.selectors.membership_for, or the API
token bound to it); the functions check the state of the rows themselves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.notifications import notification_send
from core import validators
from core.audit import audit_record
from core.models import AuditEntry
from registry import services as registry_services
from registry.imports import schema
from registry.models import (
    DismissalReason,
    Employment,
    MedicalOrganization,
    MedicalWorker,
    Position,
    Specialty,
)
from registry.quality import matching

from .models import OrgMembership


class OrgError(Exception):
    """An HR operation the register refuses; the message names the field and is shown to the user."""

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid"):
        super().__init__(message)
        self.message, self.field, self.code = message, field, code


@dataclass(frozen=True)
class PostInput:
    """A post as a form, an API call or a file row gives it: directory codes and text as typed."""

    position: str
    rate: str | Decimal
    started_on: dt.date | str
    specialty: str = ""
    department: str = ""
    kind: str = Employment.Kind.MAIN


@dataclass(frozen=True)
class PersonInput:
    """A person who is not yet in the register."""

    last_name: str
    first_name: str
    sex: str
    birth_date: dt.date | str
    middle_name: str = ""
    inn: str = ""
    citizenship: str = "RUS"
    phone: str = ""
    email: str = ""


POST_LABELS = {
    "position": "Должность",
    "specialty": "Специальность",
    "department": "Подразделение",
    "rate": "Ставка",
    "kind": "Вид занятости",
    "started_on": "Дата начала",
    "ended_on": "Дата окончания",
    "reason": "Основание увольнения",
}


# --- Checks -----------------------------------------------------------------------------------------


def _cell(field: str, cleaner, value, *, label: str | None = None):
    """One value through an import cleaner; its refusal becomes an OrgError naming the field."""
    ctx = schema.Context(today=timezone.localdate())
    text = value.isoformat() if isinstance(value, dt.date) else str(value if value is not None else "").strip()
    try:
        return cleaner(text, ctx)
    except schema.CellError as exc:
        raise OrgError(f"{label or POST_LABELS[field]}: {exc}", field=field) from None


def _directory(model, field: str, code: str, *, required: bool = True):
    code = str(code or "").strip()
    if not code:
        if required:
            raise OrgError(f"{POST_LABELS[field]}: не заполнено", field=field)
        return None
    entry = model.objects.filter(code=code[:32]).first()
    label = model._meta.verbose_name_plural
    if entry is None:
        raise OrgError(f"{POST_LABELS[field]}: кода «{code[:40]}» нет в справочнике «{label}»", field=field)
    if not entry.is_active:
        raise OrgError(
            f"{POST_LABELS[field]}: код «{code[:40]}» в справочнике «{label}» больше не действует", field=field
        )
    return entry


def _post_values(post: PostInput) -> dict:
    """The Employment fields of a post, checked like an import row."""
    kind = str(post.kind or Employment.Kind.MAIN)
    if kind not in Employment.Kind.values:
        raise OrgError(f"{POST_LABELS['kind']}: допустимые значения: main, internal, external", field="kind")
    specialty = _directory(Specialty, "specialty", post.specialty, required=False)
    return {
        "position": _directory(Position, "position", post.position),
        "specialty": specialty,
        "department": _cell("department", schema.text(300, required=False), post.department),
        "rate": _cell("rate", schema.rate, post.rate),
        "kind": kind,
        "started_on": _cell("started_on", schema.past_date, post.started_on),
    }


def _check_no_second_main(*, worker: MedicalWorker, values: dict) -> None:
    if values["kind"] != Employment.Kind.MAIN:
        return
    other = (
        Employment.objects.filter(worker=worker, kind=Employment.Kind.MAIN, ended_on__isnull=True)
        .select_related("organization")
        .first()
    )
    if other is not None:
        raise OrgError(
            f"Вид занятости: у работника уже есть основное место работы ({other.organization.short_name}); "
            "оформите совместительство или дождитесь увольнения с основного места.",
            field="kind",
        )


def _check_not_holding(*, worker: MedicalWorker, organization: MedicalOrganization, values: dict) -> None:
    if Employment.objects.filter(
        worker=worker, organization=organization, position=values["position"], ended_on__isnull=True
    ).exists():
        raise OrgError("Должность: работник уже занимает эту должность в организации.", field="position")


def _check_active(organization: MedicalOrganization) -> None:
    if organization.status != MedicalOrganization.Status.ACTIVE:
        raise OrgError("Организация ликвидирована: изменять её кадровые сведения нельзя.")


def _person_values(person: PersonInput, snils: str) -> dict:
    """The MedicalWorker fields of a new person, checked like a worker row of the import."""
    values = {
        "snils": snils,
        "last_name": _cell("last_name", schema.text(100), person.last_name, label="Фамилия"),
        "first_name": _cell("first_name", schema.text(100), person.first_name, label="Имя"),
        "middle_name": _cell("middle_name", schema.text(100, required=False), person.middle_name, label="Отчество"),
        "birth_date": _cell("birth_date", schema.past_date, person.birth_date, label="Дата рождения"),
        "citizenship": _cell("citizenship", schema.citizenship, person.citizenship, label="Гражданство"),
        "email": _cell("email", schema.email, person.email, label="E-mail"),
    }
    if person.sex not in MedicalWorker.Sex.values:
        raise OrgError("Пол: укажите мужской или женский.", field="sex")
    values["sex"] = person.sex
    values["phone"] = _normalized("phone", validators.normalize_mobile_phone, person.phone) if person.phone else ""
    values["inn"] = _normalized("inn", validators.normalize_inn_person, person.inn) if person.inn else None
    if values["inn"] and MedicalWorker.objects.filter(inn=values["inn"]).exists():
        raise OrgError("ИНН: работник с таким ИНН уже есть в регистре.", field="inn")
    return values


def _normalized(field: str, normalizer, value):
    try:
        return normalizer(value)
    except ValidationError as exc:
        raise OrgError(exc.messages[0], field=field) from None


def _snils(value: str) -> str:
    return _normalized("snils", validators.normalize_snils, value)


def _duplicates_check(values: dict) -> None:
    found = matching.probable_duplicates(fields=values)
    if not found:
        return
    workers = MedicalWorker.objects.in_bulk([d.worker_id for d in found])
    names = "; ".join(
        f"{workers[d.worker_id].registry_number_display} {workers[d.worker_id].full_name} "
        f"(вероятность {d.probability:.0%})"
        for d in found
        if d.worker_id in workers
    )
    raise OrgError(
        f"Возможный дубликат: в регистре уже есть, вероятно, этот же человек — {names}. Если это он, наймите "
        "его по СНИЛС; если это другой человек, подтвердите, что проверили записи.",
        field="confirm_not_duplicate",
        code="probable_duplicate",
    )


# --- Journal and notification ----------------------------------------------------------------------


def _journal(
    *,
    action: str,
    actor,
    organization,
    employment: Employment,
    worker: MedicalWorker,
    request,
    extra: dict | None = None,
) -> None:
    audit_record(
        event=AuditEntry.Event.DATA_CHANGED,
        subject=worker.user,
        actor=actor,
        request=request,
        object_type="employment",
        object_id=str(employment.pk),
        details={
            "action": action,
            "via": "organization",
            "organization": organization.ogrn,
            "worker": worker.registry_number,
            **(extra or {}),
        },
    )


def _notify(*, worker: MedicalWorker, template: str, organization, employment: Employment) -> None:
    """The worker's cabinet notification and e-mail, written with the change: the outbox sends them after
    commit, and a rolled-back change sends nothing."""
    if worker.user is None:
        return
    notification_send(
        user=worker.user,
        kind=f"employment_{template}",
        template=f"orgs/emails/employment_{template}",
        context={"worker": worker, "organization": organization, "employment": employment},
        link=reverse("verification:cabinet") + "#work-title",
    )


def _locked_employment(*, organization: MedicalOrganization, employment_id: int) -> Employment:
    employment = (
        Employment.objects.select_for_update()
        .select_related("worker__user", "position", "organization")
        .filter(pk=employment_id, organization=organization)
        .first()
    )
    if employment is None:
        raise OrgError("Место работы не найдено в этой организации.")
    MedicalWorker.objects.select_for_update().only("pk").get(pk=employment.worker_id)
    if employment.ended_on is not None:
        raise OrgError(f"Работник уволен с этой должности {employment.ended_on:%d.%m.%Y}: изменить её нельзя.")
    return employment


# --- HR operations ---------------------------------------------------------------------------------


def employment_hire(
    *,
    actor: User | None,
    organization: MedicalOrganization,
    snils: str,
    post: PostInput,
    person: PersonInput | None = None,
    duplicate_confirmed: bool = False,
    request=None,
) -> Employment:
    """Hire a worker of the register (by SNILS) or, with ``person``, a new one, whom the register gets
    after the checks registration and import make (SNILS checksum, probable duplicates)."""
    _check_active(organization)
    snils = _snils(snils)
    values = _post_values(post)
    try:
        with transaction.atomic():
            worker = MedicalWorker.objects.select_for_update().select_related("user").filter(snils=snils).first()
            if worker is None:
                worker = _worker_add(
                    snils=snils, person=person, actor=actor, request=request, duplicate_confirmed=duplicate_confirmed
                )
            elif person is not None:
                raise OrgError(
                    f"СНИЛС: работник с таким СНИЛС уже есть в регистре ({worker.registry_number_display}) — "
                    "наймите его как зарегистрированного работника.",
                    field="snils",
                )
            _check_not_holding(worker=worker, organization=organization, values=values)
            _check_no_second_main(worker=worker, values=values)
            employment = registry_services.employment_add(
                worker=worker, organization=organization, values=values, source=Employment.Source.ORGANIZATION
            )
            _journal(
                action="hired",
                actor=actor,
                organization=organization,
                employment=employment,
                worker=worker,
                request=request,
                extra={"new_worker": person is not None},
            )
            _notify(worker=worker, template="hired", organization=organization, employment=employment)
    except IntegrityError as exc:  # a concurrent hire of the same new person drew the same SNILS
        raise OrgError(
            "СНИЛС: работник с таким СНИЛС только что добавлен в регистр — повторите.", field="snils"
        ) from exc
    return employment


def _worker_add(*, snils: str, person: PersonInput | None, actor, request, duplicate_confirmed: bool) -> MedicalWorker:
    if person is None:
        raise OrgError(
            "СНИЛС: работника с таким СНИЛС нет в регистре — внесите его как нового работника.", field="snils"
        )
    values = _person_values(person, snils)
    if not duplicate_confirmed:
        _duplicates_check(values)
    worker = MedicalWorker(**values)
    return registry_services.worker_create(
        worker=worker, actor=actor, request=request, duplicate_confirmed=duplicate_confirmed, via="organization"
    )


def employment_transfer(
    *,
    actor: User | None,
    organization: MedicalOrganization,
    employment_id: int,
    post: PostInput,
    request=None,
) -> Employment:
    """Move a worker to another post of the same organization from ``post.started_on``: the current post
    ends the day before, a new one begins (the register keeps the history of posts)."""
    _check_active(organization)
    values = _post_values(post)
    with transaction.atomic():
        current = _locked_employment(organization=organization, employment_id=employment_id)
        if values["started_on"] <= current.started_on:
            raise OrgError(
                f"Дата перевода: позже начала работы в прежней должности ({current.started_on:%d.%m.%Y}).",
                field="started_on",
            )
        worker = current.worker
        registry_services.employment_update(
            employment=current,
            values={"ended_on": values["started_on"] - dt.timedelta(days=1)},
            source=Employment.Source.ORGANIZATION,
        )
        _check_not_holding(worker=worker, organization=organization, values=values)
        _check_no_second_main(worker=worker, values=values)
        employment = registry_services.employment_add(
            worker=worker, organization=organization, values=values, source=Employment.Source.ORGANIZATION
        )
        _journal(
            action="transferred",
            actor=actor,
            organization=organization,
            employment=employment,
            worker=worker,
            request=request,
            extra={"from_employment": current.pk},
        )
        _notify(worker=worker, template="transferred", organization=organization, employment=employment)
    return employment


def employment_change_rate(
    *, actor: User | None, organization: MedicalOrganization, employment_id: int, rate: str | Decimal, request=None
) -> Employment:
    """Change the rate (ставка) of a current post."""
    _check_active(organization)
    new_rate = _cell("rate", schema.rate, rate)
    with transaction.atomic():
        employment = _locked_employment(organization=organization, employment_id=employment_id)
        old_rate = employment.rate
        if old_rate == new_rate:
            raise OrgError(f"Ставка: уже {new_rate} — укажите новую.", field="rate")
        registry_services.employment_update(
            employment=employment, values={"rate": new_rate}, source=Employment.Source.ORGANIZATION
        )
        _journal(
            action="rate_changed",
            actor=actor,
            organization=organization,
            employment=employment,
            worker=employment.worker,
            request=request,
            extra={"from": str(old_rate), "to": str(new_rate)},
        )
        _notify(worker=employment.worker, template="rate_changed", organization=organization, employment=employment)
    return employment


def employment_dismiss(
    *,
    actor: User | None,
    organization: MedicalOrganization,
    employment_id: int,
    ended_on: dt.date | str,
    reason: str,
    request=None,
) -> Employment:
    """End a current post on ``ended_on`` (the last working day) for a reason from the directory."""
    _check_active(organization)
    end = _cell("ended_on", schema.date, ended_on)
    ground = _directory(DismissalReason, "reason", reason)
    with transaction.atomic():
        employment = _locked_employment(organization=organization, employment_id=employment_id)
        if end < employment.started_on:
            raise OrgError(
                f"Дата окончания: не раньше даты начала ({employment.started_on:%d.%m.%Y}).", field="ended_on"
            )
        registry_services.employment_update(
            employment=employment,
            values={"ended_on": end, "dismissal_reason": ground.name},
            source=Employment.Source.ORGANIZATION,
        )
        _journal(
            action="dismissed",
            actor=actor,
            organization=organization,
            employment=employment,
            worker=employment.worker,
            request=request,
            extra={"reason": ground.code},
        )
        _notify(worker=employment.worker, template="dismissed", organization=organization, employment=employment)
    return employment


# --- Memberships (support staff, in the admin) --------------------------------------------------------


@dataclass(frozen=True)
class NewUserInput:
    """The account of a person who has none yet: they log in by SNILS, password and a one-time code."""

    last_name: str
    first_name: str
    phone: str
    password: str
    middle_name: str = ""
    email: str = ""


def membership_validate(
    *, ogrn: str, snils: str, role: str, new_user: NewUserInput | None = None
) -> tuple[MedicalOrganization, User | None, User | None]:
    """Check a membership before it is created: (organization, existing user, unsaved new user). The admin's
    form shows the refusal on its field; membership_create checks again under the lock."""
    ogrn = _normalized("ogrn", validators.normalize_ogrn, ogrn)
    organization = MedicalOrganization.objects.filter(ogrn=ogrn).first()
    if organization is None:
        raise OrgError("ОГРН: организации с таким ОГРН нет в регистре.", field="ogrn")
    _check_active(organization)
    snils = _snils(snils)
    if role not in OrgMembership.Role.values:
        raise OrgError("Роль: выберите кадровика или руководителя.", field="role")
    user = User.objects.filter(snils=snils).first()
    if user is None:
        if User.objects.filter(username=snils).exists():
            raise OrgError("СНИЛС: логин с этим СНИЛС уже занят.", field="snils")
        return organization, None, _user_new(snils=snils, new_user=new_user)
    if user.kind != User.Kind.WORKER:
        raise OrgError("СНИЛС: это учётная запись сотрудника поддержки.", field="snils")
    if OrgMembership.objects.filter(user=user, organization=organization).exists():
        raise OrgError("СНИЛС: этот человек уже сотрудник организации — измените его роль в списке.", field="snils")
    return organization, user, None


def membership_create(
    *, actor: User, ogrn: str, snils: str, role: str, new_user: NewUserInput | None = None, request=None
) -> OrgMembership:
    """Let the person with this SNILS act for the organization with this OGRN, creating their account
    (``new_user``) when they have none."""
    try:
        with transaction.atomic():
            organization, user, unsaved = membership_validate(ogrn=ogrn, snils=snils, role=role, new_user=new_user)
            if user is None:
                assert unsaved is not None  # membership_validate returns one or the other
                unsaved.save()
                user = unsaved
            membership = OrgMembership.objects.create(user=user, organization=organization, role=role, created_by=actor)
            audit_record(
                event=AuditEntry.Event.DATA_CHANGED,
                subject=user,
                actor=actor,
                request=request,
                object_type="org_membership",
                object_id=str(membership.pk),
                details={"action": "created", "organization": organization.ogrn, "role": role},
            )
    except IntegrityError as exc:  # created by someone else a moment ago
        raise OrgError("СНИЛС: этот человек только что добавлен — обновите список.", field="snils") from exc
    return membership


def _user_new(*, snils: str, new_user: NewUserInput | None) -> User:
    """An unsaved account for a person who has none, with a checked password."""
    if new_user is None:
        raise OrgError("СНИЛС: учётной записи с таким СНИЛС нет — заполните данные нового пользователя.", field="snils")
    user = User(
        username=snils,
        snils=snils,
        kind=User.Kind.WORKER,
        last_name=_cell("last_name", schema.text(100), new_user.last_name, label="Фамилия"),
        first_name=_cell("first_name", schema.text(100), new_user.first_name, label="Имя"),
        middle_name=_cell("middle_name", schema.text(100, required=False), new_user.middle_name, label="Отчество"),
        phone=_normalized("phone", validators.normalize_mobile_phone, new_user.phone),
        email=_cell("email", schema.email, new_user.email, label="E-mail"),
    )
    try:
        validate_password(new_user.password, user)
    except ValidationError as exc:
        raise OrgError("Пароль: " + " ".join(exc.messages), field="password") from None
    user.set_password(new_user.password)
    return user


def membership_set(
    *, actor: User, membership: OrgMembership, role: str, is_active: bool, request=None
) -> OrgMembership:
    """Change a member's role or withdraw their access (the row stays: the journal points at it)."""
    if role not in OrgMembership.Role.values:
        raise OrgError("Роль: выберите кадровика или руководителя.", field="role")
    with transaction.atomic():
        locked = OrgMembership.objects.select_for_update().get(pk=membership.pk)
        before = {"role": locked.role, "is_active": locked.is_active}
        locked.role, locked.is_active = role, is_active
        locked.save(update_fields=["role", "is_active"])
        audit_record(
            event=AuditEntry.Event.DATA_CHANGED,
            subject=locked.user,
            actor=actor,
            request=request,
            object_type="org_membership",
            object_id=str(locked.pk),
            details={"action": "changed", "before": before, "after": {"role": role, "is_active": is_active}},
        )
    return locked
