"""API representations. The public fields are exactly those of the public register page
(registry/templates, docs/domain.md "Public and protected data"); partner scopes add the rest."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from registry.models import MedicalOrganization, MedicalWorker, OrganizationLicense, WorkerTombstone

from ..models import PartnerToken

PERSONAL_FIELDS = ("snils", "inn", "birth_date", "sex", "citizenship", "phone", "email")
DOCUMENT_FIELDS = ("number", "issued_on")


class CodeNameSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class StatusSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()


def _code_name(entry):
    return {"code": entry.code, "name": entry.name} if entry else None


def _scopes(context) -> set[str]:
    token = context.get("token")
    return set(token.scopes) if isinstance(token, PartnerToken) and token.is_active else set()


class WorkerSerializer(serializers.Serializer):
    registry_number = serializers.CharField()
    full_name = serializers.CharField()
    last_name = serializers.CharField()
    first_name = serializers.CharField()
    middle_name = serializers.CharField()
    specialty = serializers.SerializerMethodField()
    region = serializers.SerializerMethodField()
    admission_status = serializers.SerializerMethodField()
    admission_valid_until = serializers.DateField(allow_null=True)
    category = serializers.SerializerMethodField()
    registered_on = serializers.DateField()
    has_confirmed_documents = serializers.BooleanField()
    last_confirmed_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()
    url = serializers.SerializerMethodField()
    # Scope "personal" only; absent otherwise.
    snils = serializers.CharField(required=False, help_text="Scope `personal` only.")
    inn = serializers.CharField(required=False, allow_null=True, help_text="Scope `personal` only.")
    birth_date = serializers.DateField(required=False, help_text="Scope `personal` only.")
    sex = serializers.ChoiceField(choices=MedicalWorker.Sex.choices, required=False, help_text="Scope `personal`.")
    citizenship = serializers.CharField(required=False, help_text="Scope `personal` only.")
    phone = serializers.CharField(required=False, allow_blank=True, help_text="Scope `personal` only.")
    email = serializers.CharField(required=False, allow_blank=True, help_text="Scope `personal` only.")

    @extend_schema_field(CodeNameSerializer(allow_null=True))
    def get_specialty(self, obj):
        return _code_name(obj.primary_specialty)

    @extend_schema_field(CodeNameSerializer(allow_null=True))
    def get_region(self, obj):
        return _code_name(obj.region)

    @extend_schema_field(CodeNameSerializer(allow_null=True))
    def get_category(self, obj):
        return _code_name(obj.category)

    @extend_schema_field(StatusSerializer)
    def get_admission_status(self, obj):
        return {"code": obj.admission_status, "label": obj.get_admission_status_display()}

    @extend_schema_field(serializers.CharField())
    def get_url(self, obj):
        path = reverse("api:worker-detail", args=[obj.registry_number])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if "personal" not in _scopes(self.context):
            for name in PERSONAL_FIELDS:
                data.pop(name, None)
        return data


class WorkplaceOrganizationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    short_name = serializers.CharField()
    region = CodeNameSerializer(allow_null=True)
    address = serializers.CharField(allow_blank=True)
    phone = serializers.CharField(allow_blank=True)
    email = serializers.CharField(allow_blank=True)
    website = serializers.CharField(allow_blank=True)


class WorkplaceSerializer(serializers.Serializer):
    organization = serializers.SerializerMethodField()
    position = serializers.SerializerMethodField()
    specialty = serializers.SerializerMethodField()
    department = serializers.CharField(allow_blank=True)
    kind = serializers.SerializerMethodField()

    @extend_schema_field(WorkplaceOrganizationSerializer)
    def get_organization(self, obj):
        org = obj.organization
        return {
            "id": org.pk,
            "short_name": org.short_name,
            "region": _code_name(org.region),
            "address": org.address,
            "phone": org.phone,
            "email": org.email,
            "website": org.website,
        }

    @extend_schema_field(CodeNameSerializer)
    def get_position(self, obj):
        return _code_name(obj.position)

    @extend_schema_field(CodeNameSerializer(allow_null=True))
    def get_specialty(self, obj):
        return _code_name(obj.specialty)

    @extend_schema_field(StatusSerializer)
    def get_kind(self, obj):
        return {"code": obj.kind, "label": obj.get_kind_display()}


class SpecialtyAdmissionSerializer(serializers.Serializer):
    specialty = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    valid_until = serializers.DateField(allow_null=True)
    document_kind = serializers.SerializerMethodField()

    @extend_schema_field(CodeNameSerializer)
    def get_specialty(self, obj):
        return _code_name(obj.specialty)

    @extend_schema_field(StatusSerializer)
    def get_status(self, obj):
        return {"code": obj.status.value, "label": obj.status.label}

    @extend_schema_field(StatusSerializer(allow_null=True))
    def get_document_kind(self, obj):
        if obj.document is None:
            return None
        return {"code": obj.document.kind, "label": obj.document.get_kind_display()}


class WorkerDetailSerializer(WorkerSerializer):
    admissions = SpecialtyAdmissionSerializer(many=True, source="api_admissions")
    workplaces = WorkplaceSerializer(many=True, source="api_workplaces")


class AdmissionDocumentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.SerializerMethodField()
    accreditation_kind = serializers.SerializerMethodField()
    specialty = serializers.SerializerMethodField()
    valid_until = serializers.DateField()
    status = serializers.SerializerMethodField()
    updated_at = serializers.DateTimeField()
    number = serializers.CharField(required=False, help_text="Scope `documents` only.")
    issued_on = serializers.DateField(required=False, help_text="Scope `documents` only.")

    @extend_schema_field(StatusSerializer)
    def get_kind(self, obj):
        return {"code": obj.kind, "label": obj.get_kind_display()}

    @extend_schema_field(CodeNameSerializer(allow_null=True))
    def get_accreditation_kind(self, obj):
        return _code_name(obj.accreditation_kind)

    @extend_schema_field(CodeNameSerializer)
    def get_specialty(self, obj):
        return _code_name(obj.specialty)

    @extend_schema_field(StatusSerializer)
    def get_status(self, obj):
        status = obj.admission_status(self.context.get("today") or timezone.localdate())
        return {"code": status.value, "label": status.label}

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if "documents" not in _scopes(self.context):
            for name in DOCUMENT_FIELDS:
                data.pop(name, None)
        return data


class LicenseSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    organization = serializers.IntegerField(source="organization_id")

    class Meta:
        model = OrganizationLicense
        fields = (
            "id",
            "number",
            "organization",
            "issued_on",
            "valid_until",
            "authority",
            "status",
            "kinds_of_work",
            "updated_at",
        )

    @extend_schema_field(StatusSerializer)
    def get_status(self, obj):
        return {"code": obj.status, "label": obj.get_status_display()}


class OrganizationSerializer(serializers.ModelSerializer):
    org_type = serializers.SerializerMethodField()
    region = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()

    class Meta:
        model = MedicalOrganization
        fields = (
            "id",
            "ogrn",
            "inn",
            "kpp",
            "full_name",
            "short_name",
            "org_type",
            "region",
            "address",
            "phone",
            "email",
            "website",
            "status",
            "closed_on",
            "updated_at",
        )

    @extend_schema_field(CodeNameSerializer(allow_null=True))
    def get_org_type(self, obj):
        return _code_name(obj.org_type)

    @extend_schema_field(CodeNameSerializer)
    def get_region(self, obj):
        return _code_name(obj.region)

    @extend_schema_field(StatusSerializer)
    def get_status(self, obj):
        return {"code": obj.status, "label": obj.get_status_display()}


class OrganizationDetailSerializer(OrganizationSerializer):
    licenses = LicenseSerializer(many=True)

    class Meta(OrganizationSerializer.Meta):
        fields = (*OrganizationSerializer.Meta.fields, "licenses")


class DirectorySerializer(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    oid = serializers.CharField()
    url = serializers.CharField()


class DirectoryEntrySerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    is_active = serializers.BooleanField()


class ErrorItemSerializer(serializers.Serializer):
    code = serializers.CharField()
    field = serializers.CharField(allow_null=True)
    message = serializers.CharField()
    retry_after = serializers.IntegerField(required=False, allow_null=True)


class ErrorSerializer(serializers.Serializer):
    errors = ErrorItemSerializer(many=True)


class WarningSerializer(serializers.Serializer):
    code = serializers.CharField()
    field = serializers.CharField()
    message = serializers.CharField()


class WorkerTombstoneSerializer(serializers.Serializer):
    """A worker record that left the register, in the changes feed."""

    registry_number = serializers.CharField()
    deleted = serializers.SerializerMethodField(help_text="Always true: the record is no longer in the register.")
    deleted_at = serializers.DateTimeField(source="created_at")
    reason = serializers.SerializerMethodField()
    merged_into = serializers.SerializerMethodField(
        help_text="Registry number of the record that holds the data now (merged records), else null."
    )

    @extend_schema_field(serializers.BooleanField())
    def get_deleted(self, obj):
        return True

    @extend_schema_field(StatusSerializer)
    def get_reason(self, obj):
        return {"code": obj.kind, "label": obj.get_kind_display()}

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_merged_into(self, obj):
        return obj.merged_into.registry_number if obj.merged_into_id else None


def change_representations(rows, context) -> list[dict]:
    """The items of the workers' changes feed in their order: workers as in the search, tombstones. One
    serializer per kind (a serializer per row copies its fields each time: 50 rows took 30 ms more)."""
    workers = WorkerSerializer([r for r in rows if not isinstance(r, WorkerTombstone)], many=True, context=context)
    tombstones = WorkerTombstoneSerializer([r for r in rows if isinstance(r, WorkerTombstone)], many=True)
    worker_data, tombstone_data = iter(workers.data), iter(tombstones.data)
    return [next(tombstone_data) if isinstance(r, WorkerTombstone) else next(worker_data) for r in rows]
