"""factory_boy factories. Identifiers are generated valid (checksums) and unique by sequence."""

import datetime as dt

import factory
from django.utils import timezone
from faker import Faker

from accounts.models import User
from core import validators
from registry import models
from registry.quality.matching import block_keys_refresh

fake = Faker("ru_RU")


def _directory(model, code: str, name: str):
    obj, _ = model.objects.get_or_create(code=code, defaults={"name": name})
    return obj


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Region
        django_get_or_create = ("code",)

    code = "77"
    name = "г. Москва"


class SpecialtyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Specialty
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: str(100 + n))
    name = factory.Sequence(lambda n: f"Специальность {n}")


class PositionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Position
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: str(500 + n))
    name = factory.Sequence(lambda n: f"Должность {n}")


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.QualificationCategory
        django_get_or_create = ("code",)

    code = "1"
    name = "Первая"
    sort_order = 2


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.MedicalOrganization

    ogrn = factory.Sequence(lambda n: validators.ogrn_from_body(f"10277{n:07d}"))
    inn = factory.Sequence(lambda n: validators.inn_legal_from_body(f"77{n:07d}"))
    kpp = "770101001"
    short_name = factory.Sequence(lambda n: f"Больница № {n}")
    full_name = factory.LazyAttribute(lambda o: f"ГБУЗ «{o.short_name}»")
    region = factory.SubFactory(RegionFactory)
    search_name = factory.LazyAttribute(lambda o: validators.normalize_person_name(o.short_name))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    kind = User.Kind.WORKER
    snils = factory.Sequence(lambda n: validators.snils_from_number(200_000_000 + n * 7919))
    username = factory.LazyAttribute(lambda u: u.snils or fake.user_name())
    last_name = factory.LazyFunction(fake.last_name_female)
    first_name = factory.LazyFunction(fake.first_name_female)
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery-staple")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class StaffFactory(UserFactory):
    kind = User.Kind.STAFF
    snils = None
    username = factory.Sequence(lambda n: f"agent{n}")
    is_staff = True


class WorkerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.MedicalWorker
        skip_postgeneration_save = True  # the hook below changes no field

    registry_number = factory.Sequence(lambda n: validators.registry_number_from_serial(1000 + n))
    snils = factory.Sequence(lambda n: validators.snils_from_number(300_000_000 + n * 7919))
    # Far apart, not consecutive: two INNs one digit apart are evidence of one person to the duplicate check.
    inn = factory.Sequence(lambda n: validators.inn_person_from_body(f"77{n * 7919 % 10**8:08d}"))
    last_name = factory.LazyFunction(fake.last_name_female)
    first_name = factory.LazyFunction(fake.first_name_female)
    middle_name = factory.LazyFunction(fake.middle_name_female)
    sex = models.MedicalWorker.Sex.FEMALE
    birth_date = dt.date(1985, 5, 17)
    search_name = factory.LazyAttribute(
        lambda w: validators.normalize_person_name(f"{w.last_name} {w.first_name} {w.middle_name}")
    )

    @factory.post_generation
    def block_keys(obj, create, extracted, **kwargs):
        # What every service writing a worker does (worker_refresh_derived): the duplicate check's keys.
        if create:
            block_keys_refresh(worker_ids=[obj.pk])


class EmploymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Employment

    worker = factory.SubFactory(WorkerFactory)
    organization = factory.SubFactory(OrganizationFactory)
    position = factory.SubFactory(PositionFactory)
    specialty = factory.SubFactory(SpecialtyFactory)
    rate = 1
    started_on = dt.date(2018, 9, 1)


class AdmissionDocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.AdmissionDocument

    worker = factory.SubFactory(WorkerFactory)
    kind = models.AdmissionDocument.Kind.CERTIFICATE
    specialty = factory.SubFactory(SpecialtyFactory)
    number = factory.Sequence(lambda n: f"0177{n:08d}")
    valid_until = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=1000))
    issued_on = factory.LazyAttribute(lambda d: d.valid_until - dt.timedelta(days=5 * 365))


class DismissalReasonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.DismissalReason
        django_get_or_create = ("code",)

    code = "77-1-3"
    name = "Расторжение трудового договора по инициативе работника (п. 3 ч. 1 ст. 77 ТК РФ)"


class OrgMembershipFactory(factory.django.DjangoModelFactory):
    """A person acting for an organization (an HR officer by default), with an account of their own."""

    class Meta:
        model = "orgs.OrgMembership"

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = "hr"
