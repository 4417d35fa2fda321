"""Demo data for a newcomer: a handful of organizations and workers in varied states, and logins.

Idempotent: every row is found by its natural key (OGRN, SNILS, document number) and brought
to the state below, so `make run` can run it on every start. Dates are relative to today so
the admission statuses stay varied (active, expiring, expired, suspended, none).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from core import validators
from demo.orgs import seed_org_cabinet
from registry import models, services
from support.models import CannedAnswer, Ticket
from support.services import TicketInput, ticket_create
from verification.models import StateRegistryReference

DEMO_PASSWORD_WORKER = "Medreg-demo-2026"  # noqa: S105 - printed demo login, never used in production
DEMO_PASSWORD_STAFF = "Support-demo-2026"  # noqa: S105

ORGANIZATIONS = [
    # ogrn body (12 digits), inn body (9 digits), kpp, short name, full name, region, type hint, address, status
    ("102770013219", "770708389", "770701001", "ГКБ № 1 им. Н. И. Пирогова",
     "Государственное бюджетное учреждение здравоохранения города Москвы «Городская клиническая больница № 1 "
     "им. Н. И. Пирогова Департамента здравоохранения города Москвы»",
     "77", "больниц", "119049, г. Москва, Ленинский пр-т, д. 8", "active"),
    ("102500000001", "503600001", "503601001", "Подольская областная клиническая больница",
     "Государственное бюджетное учреждение здравоохранения Московской области «Подольская областная "
     "клиническая больница»", "50", "больниц", "142110, Московская обл., г. Подольск, ул. Кирова, д. 38", "active"),
    ("102780000017", "780100017", "780101001", "Городская поликлиника № 17",
     "Санкт-Петербургское государственное бюджетное учреждение здравоохранения «Городская поликлиника № 17»",
     "78", "поликлиник", "195279, г. Санкт-Петербург, пр. Индустриальный, д. 29", "active"),
    ("102160000003", "165500003", "165501001", "РКБ Республики Татарстан",
     "Государственное автономное учреждение здравоохранения «Республиканская клиническая больница "
     "Министерства здравоохранения Республики Татарстан»", "16", "больниц",
     "420064, Республика Татарстан, г. Казань, ул. Оренбургский тракт, д. 138", "active"),
    ("115540000054", "540600054", "540601001", "Клиника «Здоровье»",
     "Общество с ограниченной ответственностью «Клиника Здоровье»", "54", "",
     "630099, г. Новосибирск, ул. Советская, д. 12", "active"),
    ("102660000066", "667000066", "667001001", "Станция скорой помощи (ликвидирована)",
     "Муниципальное учреждение «Станция скорой медицинской помощи № 3»", "66", "скор",
     "620014, г. Екатеринбург, ул. Малышева, д. 5", "closed"),
]


@dataclass(frozen=True)
class DemoWorker:
    snils_body: str  # the check number is computed
    last: str
    first: str
    middle: str
    sex: str
    birth: dt.date
    org: int  # index in ORGANIZATIONS
    specialty: str  # directory name fragment
    position: str
    doc_days_left: int | None  # days until the admission document expires; None = no document
    doc_status: str = models.AdmissionDocument.Status.VALID
    identity: str = models.MedicalWorker.IdentityStatus.CONFIRMED
    category: str | None = None
    login: bool = False
    # The first demo worker has a confirmed phone; the second shows the first-login phone binding.
    phone_confirmed: bool = False

    @property
    def snils(self) -> str:
        return self.snils_body + validators.snils_checksum(self.snils_body)

    @property
    def inn(self) -> str:
        # Deterministic and valid: region 77, then the SNILS body.
        return validators.inn_person_from_body(f"77{self.snils_body[:8]}")


# An INN that is valid by checksum but belongs to nobody in the stand-in tax records: entering it
# in the identity form shows the rejection with discrepancies (docs/features.md).
DEMO_WRONG_INN = "500100732259"


WORKERS = [
    DemoWorker("112233445", "Иванова", "Мария", "Петровна", "F", dt.date(1985, 4, 12), 0, "терапия",
               "терапевт участковый", 900, category="высш", login=True,
               phone_confirmed=True),
    DemoWorker("123456789", "Смирнов", "Алексей", "Викторович", "M", dt.date(1979, 11, 3), 0, "хирургия",
               "хирург", 45, category="перв", login=True),
    DemoWorker("132457689", "Кузнецова", "Ольга", "Игоревна", "F", dt.date(1990, 2, 27), 2, "сестринское дело",
               "медицинская сестра", 1200),
    DemoWorker("142536475", "Попов", "Дмитрий", "Сергеевич", "M", dt.date(1972, 7, 19), 1, "кардиология",
               "кардиолог", -30, category="втор"),
    DemoWorker("152637485", "Васильева", "Елена", "", "F", dt.date(1995, 9, 1), 3, "педиатрия",
               "педиатр участковый", 1500, identity=models.MedicalWorker.IdentityStatus.PENDING),
    DemoWorker("162738495", "Петров", "Игорь", "Николаевич", "M", dt.date(1968, 1, 15), 3, "неврология",
               "невролог", 600, doc_status=models.AdmissionDocument.Status.SUSPENDED),
    DemoWorker("172839405", "Соколова", "Анна", "Дмитриевна", "F", dt.date(1988, 6, 30), 4, "стоматология",
               "стоматолог", None, identity=models.MedicalWorker.IdentityStatus.REJECTED),
    DemoWorker("182930415", "Михайлов", "Сергей", "Петрович", "M", dt.date(1983, 3, 8), 2, "лечебное дело",
               "фельдшер", 80),
    DemoWorker("192031425", "Новикова", "Татьяна", "Алексеевна", "F", dt.date(1976, 12, 5), 1,
               "акушерство и гинекология", "акушер-гинеколог", 1700, category="высш"),
    DemoWorker("102132435", "Фёдоров", "Артём", "Ильич", "M", dt.date(1999, 5, 22), 0, "анестезиология",
               "анестезиолог", 1800),
]


CANNED_ANSWERS = [
    ("Сброс блокировки", "account_locked",
     "Здравствуйте! Блокировка снята. Если пароль забыт, восстановите его на странице входа по SMS или e-mail."),
    ("Запрос подтверждающего документа", "data_error",
     "Здравствуйте! Чтобы исправить сведения, приложите, пожалуйста, скан документа, подтверждающего верные данные."),
    ("Данные передаёт работодатель", "no_access",
     "Здравствуйте! Сведения о месте работы передаёт в регистр ваша медицинская организация. "
     "Обратитесь в отдел кадров; после передачи данные появятся в течение нескольких дней."),
]


class Command(BaseCommand):
    help = "Load demo organizations, workers and logins (idempotent). Refuses to run in production."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even when DJANGO_ENV=production.")

    def handle(self, *args, **options):
        if settings.PRODUCTION and not options["force"]:
            raise CommandError("seed_demo creates known passwords; refusing in production (use --force).")
        if not models.Specialty.objects.exists() or not models.Region.objects.exists():
            raise CommandError("Directories are empty: run `python manage.py load_directories` first.")
        today = timezone.localdate()
        with transaction.atomic():
            orgs = [self._organization(row, today) for row in ORGANIZATIONS]
            workers = [self._worker(spec, orgs, today) for spec in WORKERS]
            staff = self._staff()
            self._support(workers)
            self._state_registry_reference(workers)
        services.worker_refresh_derived(worker_ids=[w.id for w in workers], today=today)
        self._print_logins(workers, staff)
        seed_org_cabinet(stdout=self.stdout)

    # --- rows ---------------------------------------------------------------------------------

    def _organization(self, row, today):
        ogrn_body, inn_body, kpp, short, full, region_code, type_hint, address, status = row
        ogrn = validators.ogrn_from_body(ogrn_body)
        closed = status == "closed"
        org, _ = models.MedicalOrganization.objects.update_or_create(
            ogrn=ogrn,
            defaults={
                "inn": validators.inn_legal_from_body(inn_body),
                "kpp": kpp,
                "short_name": short,
                "full_name": full,
                "region": models.Region.objects.get(code=region_code),
                "org_type": _pick(models.OrganizationType, type_hint) if type_hint else None,
                "address": address,
                "phone": "+7 495 000-00-00",
                "status": status,
                "closed_on": today - dt.timedelta(days=400) if closed else None,
                "search_name": validators.normalize_person_name(short),
            },
        )
        number = f"Л041-01137-{region_code}/{int(ogrn_body[-8:]):08d}"
        models.OrganizationLicense.objects.update_or_create(
            number=number,
            defaults={
                "organization": org,
                "issued_on": dt.date(2019, 3, 1),
                "authority": "Федеральная служба по надзору в сфере здравоохранения",
                "status": (models.OrganizationLicense.Status.TERMINATED if closed
                           else models.OrganizationLicense.Status.ACTIVE),
                "kinds_of_work": "первичная медико-санитарная помощь; специализированная медицинская помощь",
            },
        )
        return org

    def _worker(self, spec: DemoWorker, orgs, today):
        serial = models.MedicalWorker.objects.filter(snils=spec.snils).values_list("registry_number", flat=True)
        registry_number = serial.first() or validators.registry_number_from_serial(
            WORKERS.index(spec) + 1
        )
        worker, _ = models.MedicalWorker.objects.update_or_create(
            snils=spec.snils,
            defaults={
                "registry_number": registry_number,
                "last_name": spec.last,
                "first_name": spec.first,
                "middle_name": spec.middle,
                "sex": spec.sex,
                "birth_date": spec.birth,
                "identity_status": spec.identity,
                # Qualification confirmed earlier for the demo workers whose identity is confirmed.
                "has_confirmed_documents": spec.identity == models.MedicalWorker.IdentityStatus.CONFIRMED,
                "inn": spec.inn,
                "registered_on": today - dt.timedelta(days=700 + WORKERS.index(spec) * 37),
                "last_confirmed_at": timezone.now() - dt.timedelta(days=20)
                if spec.identity == models.MedicalWorker.IdentityStatus.CONFIRMED
                else None,
                "phone": "+79160000000",
                "email": f"demo{WORKERS.index(spec) + 1}@example.org",
            },
        )
        specialty = _pick(models.Specialty, spec.specialty)
        self._worker_job(worker, spec, orgs[spec.org], specialty, today)
        self._worker_education(worker, spec, specialty, today)
        if spec.login:
            self._worker_login(worker, spec)
        return worker

    def _worker_job(self, worker, spec: DemoWorker, org, specialty, today) -> None:
        """The main job, the admission document and the category."""
        models.Employment.objects.update_or_create(
            worker=worker,
            organization=org,
            started_on=dt.date(2015, 9, 1),
            defaults={
                "position": _pick(models.Position, spec.position),
                "specialty": specialty,
                "rate": 1,
                "kind": models.Employment.Kind.MAIN,
                "department": "Лечебное отделение",
            },
        )
        if spec.doc_days_left is not None:
            valid_until = today + dt.timedelta(days=spec.doc_days_left)
            issued_on = valid_until.replace(year=valid_until.year - 5)
            accreditation = issued_on.year >= 2021
            models.AdmissionDocument.objects.update_or_create(
                kind=(models.AdmissionDocument.Kind.ACCREDITATION if accreditation
                      else models.AdmissionDocument.Kind.CERTIFICATE),
                number=f"77{spec.snils[:9]}",
                defaults={
                    "worker": worker,
                    "accreditation_kind": _pick(models.AccreditationKind, "период") if accreditation else None,
                    "specialty": specialty,
                    "issued_on": issued_on,
                    "valid_until": valid_until,
                    "status": spec.doc_status,
                },
            )
        if spec.category:
            models.CategoryAssignment.objects.update_or_create(
                worker=worker,
                specialty=specialty,
                defaults={
                    "category": _pick(models.QualificationCategory, spec.category),
                    "awarded_on": today - dt.timedelta(days=365),
                    "valid_until": today + dt.timedelta(days=4 * 365),
                    "order_number": "123-к",
                },
            )

    def _worker_education(self, worker, spec: DemoWorker, specialty, today) -> None:
        """The diploma and continuing-education records."""
        models.Education.objects.update_or_create(
            worker=worker,
            diploma_series="107724",
            diploma_number=spec.snils[:7],
            defaults={
                "level": _pick(models.EducationLevel, "высшее"),
                "institution": "Первый МГМУ им. И. М. Сеченова",
                "issued_on": dt.date(spec.birth.year + 23, 6, 30),
                "specialty": specialty,
                "qualification": "Врач",
            },
        )
        for i, hours in enumerate((36, 18, 36)):
            models.ContinuingEducation.objects.update_or_create(
                worker=worker,
                topic=f"Актуальные вопросы специальности, часть {i + 1}",
                defaults={
                    "specialty": specialty,
                    "completed_on": today - dt.timedelta(days=200 * (i + 1)),
                    "hours": hours,
                    "provider": "Портал НМО",
                },
            )

    def _worker_login(self, worker, spec: DemoWorker) -> None:
        """The demo account of a worker that logs in."""
        user, _ = User.objects.update_or_create(
            username=spec.snils,
            defaults={
                "kind": User.Kind.WORKER,
                "snils": spec.snils,
                "last_name": spec.last,
                "first_name": spec.first,
                "middle_name": spec.middle,
                "email": worker.email,
                "birth_date": spec.birth,
                # The second worker's phone is on file but not yet confirmed: first login confirms it.
                "phone": worker.phone if spec.phone_confirmed else "+79160000002",
                "phone_confirmed_at": timezone.now() if spec.phone_confirmed else None,
            },
        )
        user.set_password(DEMO_PASSWORD_WORKER)
        user.save(update_fields=["password"])
        if worker.user_id != user.id:
            worker.user = user
            worker.save(update_fields=["user"])

    def _staff(self):
        group, _ = Group.objects.get_or_create(name="Служба поддержки")
        perms = Permission.objects.filter(
            content_type__app_label__in=["registry", "verification", "support"],
            codename__regex=r"^(view|change)_",
        ) | Permission.objects.filter(
            # Accounts: read the journals and outbox, unlock logins, remove a lost authenticator.
            Q(codename__startswith="view_") | Q(codename__in=["change_loginthrottle", "delete_totpdevice"]),
            content_type__app_label="accounts",
        ) | Permission.objects.filter(content_type__app_label="core", codename="view_auditentry")
        group.permissions.set(perms)
        user, _ = User.objects.update_or_create(
            username="support",
            defaults={
                "kind": User.Kind.STAFF,
                "is_staff": True,
                "last_name": "Сотрудникова",
                "first_name": "Светлана",
                "email": "support@example.org",
                "phone": "+79160000099",
                "phone_confirmed_at": timezone.now(),
            },
        )
        user.set_password(DEMO_PASSWORD_STAFF)
        user.save(update_fields=["password"])
        user.groups.add(group)
        return user

    def _support(self, workers):
        """Canned answers for staff and one open demo ticket in the queue."""

        for title, topic, body in CANNED_ANSWERS:
            CannedAnswer.objects.update_or_create(title=title, defaults={"topic": topic, "body": body})
        owner = workers[1].user
        if owner is not None and not Ticket.objects.filter(user=owner).exists():
            ticket_create(
                data=TicketInput(
                    full_name=owner.full_name,
                    topic="data_error",
                    description="В регистре у меня указана детская хирургия вместо хирургии. Прошу исправить.",
                    inn_or_snils=owner.snils,
                ),
                user=owner,
            )

    def _state_registry_reference(self, workers):
        """The stand-in tax service and social fund records (verification.gateways) of the demo
        workers, matching their registry data, so identity confirmation can pass."""

        for worker in workers:
            common = {"last_name": worker.last_name, "first_name": worker.first_name,
                      "middle_name": worker.middle_name, "birth_date": worker.birth_date}
            StateRegistryReference.objects.update_or_create(
                source=StateRegistryReference.Source.SOCIAL_FUND, key=worker.snils,
                defaults={**common, "linked_key": worker.inn or ""},
            )
            if worker.inn:
                StateRegistryReference.objects.update_or_create(
                    source=StateRegistryReference.Source.TAX, key=worker.inn,
                    defaults={**common, "linked_key": worker.snils},
                )

    def _print_logins(self, workers, staff):
        out = self.stdout
        out.write(self.style.SUCCESS(f"Demo data ready: {len(ORGANIZATIONS)} organizations, {len(workers)} workers."))
        out.write("")
        out.write(f"Demo logins ({settings.SITE_URL.rstrip('/')}/accounts/login/):")
        for spec in WORKERS:
            if spec.login:
                out.write(f"  Медицинский работник  СНИЛС {validators.format_snils(spec.snils)}"
                          f"  пароль {DEMO_PASSWORD_WORKER}  ({spec.last} {spec.first})")
        out.write(f"  Сотрудник поддержки   логин {staff.username}  пароль {DEMO_PASSWORD_STAFF}"
                  "  (then /admin/)")
        out.write("One-time SMS codes are printed by the server and kept in admin → «SMS (исходящие)».")
        out.write("Смирнов's phone is not confirmed yet: his first login asks to confirm it with a code.")
        first = WORKERS[0]
        out.write(f"Cabinet: /cabinet/. Identity confirmation demo for {first.last}: enter INN {DEMO_WRONG_INN} "
                  f"to get a rejection with discrepancies, then fix it to {first.inn} → «Подтверждено».")
        out.write("")


def _pick(model, name_fragment: str):
    """The directory entry whose name contains the fragment (the demo names them loosely)."""
    # Matched in Python: SQLite's LIKE folds case for ASCII only, and directories are small.
    fragment = name_fragment.lower()
    entries = model.objects.filter(is_active=True).order_by("sort_order", "id")
    # The shortest matching name is the plain one: «Хирургия», not «Детская хирургия».
    entry = min((e for e in entries if fragment in e.name.lower()), key=lambda e: len(e.name), default=None)
    if entry is None:
        raise CommandError(f"{model._meta.verbose_name}: no entry matching «{name_fragment}» in the directory.")
    return entry
