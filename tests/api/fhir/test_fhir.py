"""The FHIR R4 view: resources validate against the R4 structures (fhir.resources R4B models, whose
Practitioner, PractitionerRole, Organization, CodeSystem, CapabilityStatement and Bundle are
structurally those of R4 4.0.1), searches, and SNILS only for partners."""

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole
from pydantic import ValidationError

from core.models import AuditEntry
from registry.models import Specialty
from registry.services import worker_refresh_derived
from tests.api.conftest import bearer
from tests.factories import AdmissionDocumentFactory, EmploymentFactory, OrganizationFactory, WorkerFactory

pytestmark = pytest.mark.django_db
MODELS = {
    "Bundle": Bundle,
    "CapabilityStatement": CapabilityStatement,
    "CodeSystem": CodeSystem,
    "OperationOutcome": OperationOutcome,
    "Organization": Organization,
    "Practitioner": Practitioner,
    "PractitionerRole": PractitionerRole,
}
# Required bindings that the pydantic models leave as free strings.
GENDERS = {"male", "female", "other", "unknown"}


def fhir(client, url, status=200, **extra):
    response = client.get(url, **extra)
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/fhir+json")
    data = response.json()
    MODELS[data["resourceType"]].model_validate(data)  # raises on any structural error
    for entry in data.get("entry", []):
        MODELS[entry["resource"]["resourceType"]].model_validate(entry["resource"])
    return data


@pytest.fixture
def staffed(db):
    org = OrganizationFactory(short_name="Больница Святого Луки", phone="+7 495 000-00-00")
    emp = EmploymentFactory(organization=org, worker=WorkerFactory(last_name="Лукина", sex="F"))
    AdmissionDocumentFactory(worker=emp.worker, specialty=emp.specialty)
    worker_refresh_derived(worker_ids=[emp.worker_id])
    emp.worker.refresh_from_db()
    return emp


def test_the_validator_rejects_a_broken_resource():
    with pytest.raises(ValidationError):
        Practitioner.model_validate({"resourceType": "Practitioner", "name": [{"family": ["not", "a", "string"]}]})


def test_capability_statement(client, db):
    data = fhir(client, "/fhir/metadata")
    assert data["fhirVersion"] == "4.0.1" and data["kind"] == "instance"
    assert {r["type"] for r in data["rest"][0]["resource"]} == {
        "Practitioner",
        "PractitionerRole",
        "Organization",
        "CodeSystem",
    }


def test_practitioner_public_has_no_snils_gender_or_birth_date(client, staffed):
    worker = staffed.worker
    data = fhir(client, f"/fhir/Practitioner/{worker.registry_number}")
    assert [i["value"] for i in data["identifier"]] == [worker.registry_number]
    assert "gender" not in data and "birthDate" not in data
    assert worker.snils not in str(data)
    qualification = data["qualification"][0]
    assert qualification["code"]["coding"][0]["system"] == f"urn:oid:{Specialty.OID}"
    assert "start" not in qualification["period"] and "identifier" not in qualification  # documents scope
    bundle = fhir(client, "/fhir/Practitioner?name=лукин")
    assert [e["resource"]["id"] for e in bundle["entry"]] == [worker.registry_number]


def test_snils_search_only_for_partner_and_journaled(client, staffed, public_token, partner_token):
    worker = staffed.worker
    url = f"/fhir/Practitioner?identifier=urn:oid:1.2.643.100.3|{worker.snils_display}"
    assert fhir(client, url, status=403)["issue"][0]["code"] == "forbidden"
    fhir(client, url, status=403, **bearer(public_token))
    bundle = fhir(client, url, **bearer(partner_token))
    resource = bundle["entry"][0]["resource"]
    assert {"system": "urn:oid:1.2.643.100.3", "value": worker.snils, "use": "official"} in resource["identifier"]
    assert resource["gender"] in GENDERS and resource["birthDate"] == "1985-05-17"
    number = worker.admission_documents.get().number
    assert resource["qualification"][0]["identifier"] == [{"value": number}]
    assert AuditEntry.objects.filter(event=AuditEntry.Event.DATA_VIEWED, object_id=worker.registry_number).exists()


def test_search_by_specialty_organization_and_roles(client, staffed):
    worker, org = staffed.worker, staffed.organization
    WorkerFactory()  # not on the staff, no specialty
    by_spec = fhir(client, f"/fhir/Practitioner?specialty={staffed.specialty.code}")
    assert [e["resource"]["id"] for e in by_spec["entry"]] == [worker.registry_number]
    by_org = fhir(client, f"/fhir/Practitioner?organization=Organization/{org.pk}")
    assert [e["resource"]["id"] for e in by_org["entry"]] == [worker.registry_number]
    roles = fhir(client, f"/fhir/PractitionerRole?organization={org.pk}")
    role = roles["entry"][0]["resource"]
    assert role["practitioner"]["reference"] == f"Practitioner/{worker.registry_number}"
    fhir(client, f"/fhir/PractitionerRole/{staffed.pk}")
    assert fhir(client, "/fhir/Practitioner?specialty=nope", status=400)["issue"][0]["expression"] == ["specialty"]


def test_organization_search_by_name_and_identifier(client, staffed):
    org = staffed.organization
    assert fhir(client, "/fhir/Organization?name=святого")["entry"][0]["resource"]["id"] == str(org.pk)
    by_ogrn = fhir(client, f"/fhir/Organization?identifier=urn:oid:1.2.643.100.1|{org.ogrn}")
    assert by_ogrn["entry"][0]["resource"]["name"] == org.short_name
    # Wrong check digit: nothing can match; the Bundle says why in an OperationOutcome entry.
    typo = fhir(client, "/fhir/Organization?identifier=urn:oid:1.2.643.100.1|1027700000000")
    assert [e["search"]["mode"] for e in typo["entry"]] == ["outcome"]
    assert typo["entry"][0]["resource"]["issue"][0]["expression"] == ["identifier"]
    fhir(client, "/fhir/Organization/999999", status=404)


def test_code_systems_carry_directory_oids(client, db):
    Specialty.objects.create(code="27", name="Терапия")
    bundle = fhir(client, "/fhir/CodeSystem")
    urls = {e["resource"]["url"] for e in bundle["entry"]}
    assert "urn:oid:1.2.643.5.1.13.13.11.1066" in urls and "urn:oid:1.2.643.5.1.13.13.11.1002" in urls
    specialty = fhir(client, "/fhir/CodeSystem/specialty")
    assert {"code": "27", "display": "Терапия"} in specialty["concept"]
    assert fhir(client, "/fhir/CodeSystem?url=urn:oid:1.2.643.5.1.13.13.11.1066")["entry"][0]["resource"]["id"] == (
        "specialty"
    )


def test_paging_follows_next_links(client, db):
    workers = WorkerFactory.create_batch(5, last_name="Орлова")
    worker_refresh_derived(worker_ids=[w.id for w in workers])  # as every real write does: the search dictionary
    ids, url = [], "/fhir/Practitioner?name=орлова&_count=2"
    while url:
        bundle = fhir(client, url)
        ids += [e["resource"]["id"] for e in bundle.get("entry", [])]
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
    assert len(ids) == 5 == len(set(ids))
    assert fhir(client, "/fhir/Practitioner?_count=0", status=400)["resourceType"] == "OperationOutcome"


def test_practitioner_search_query_count_does_not_grow_with_the_page(
    client, db, django_assert_max_num_queries, partner_token
):
    for _ in range(25):
        emp = EmploymentFactory()
        AdmissionDocumentFactory(worker=emp.worker, specialty=emp.specialty)
    # token lookup, last-used update, page, documents of the page, one INSERT for the journal
    with django_assert_max_num_queries(5):
        bundle = fhir(client, "/fhir/Practitioner?_count=25", **bearer(partner_token))
    assert len(bundle["entry"]) == 25
    with django_assert_max_num_queries(1):
        assert len(fhir(client, "/fhir/PractitionerRole?_count=25")["entry"]) == 25
    with django_assert_max_num_queries(1):
        assert len(fhir(client, "/fhir/Organization?_count=25")["entry"]) == 25
