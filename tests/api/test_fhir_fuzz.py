"""FHIR searches and reads fuzzed with Hypothesis: any value of any parameter (declared or not, with
modifiers, under lenient or strict handling) is answered with a valid FHIR resource (tests/conftest.py
validates each answer with fhir.resources) and never with a server error."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.parameters import FHIR_SEARCH, OGRN_SYSTEM, SNILS_SYSTEM, SPECIALTY_SYSTEM
from registry.services import worker_refresh_derived
from tests.factories import AdmissionDocumentFactory, EmploymentFactory

pytestmark = pytest.mark.django_db
ANSWERS = {200, 400, 403, 404, 406}

PLAUSIBLE = st.sampled_from(
    [
        "36",
        f"{SPECIALTY_SYSTEM}|36",
        "urn:oid:9.9.9|36",
        "|36",
        "a|b|c",
        "Practitioner/0000000013",
        "МР 000000001-3",
        "Organization/1",
        "Organization/٣",
        f"{SNILS_SYSTEM}|112-233-445 95",
        f"{OGRN_SYSTEM}|1027700132195",
        "7707083893",
        "http://testserver/fhir/Practitioner/0000000013",
        "json",
        "xml",
        "2147483648",
        "-1",
        "",
        "\\|",
    ]
)
VALUES = st.one_of(PLAUSIBLE, st.text(max_size=40), st.integers().map(str))
NAMES = st.one_of(
    st.sampled_from(sorted({p.name for params in FHIR_SEARCH.values() for p in params})),
    st.sampled_from(["name:exact", "identifier:of-type", "_sort", "_summary", "_include", "_id"]),
    st.text(min_size=1, max_size=12),
)
QUERIES = st.lists(st.tuples(NAMES, VALUES), max_size=4)


@pytest.fixture
def staffed(db, settings):
    settings.API_ANON_RATE_PER_MINUTE = 0  # hundreds of requests from one address
    emp = EmploymentFactory()
    AdmissionDocumentFactory(worker=emp.worker, specialty=emp.specialty)
    worker_refresh_derived(worker_ids=[emp.worker_id])
    return emp


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(resource=st.sampled_from(sorted(FHIR_SEARCH)), query=QUERIES, strict=st.booleans())
def test_any_search_is_answered_with_a_valid_resource(client, staffed, resource, query, strict):
    from urllib.parse import urlencode

    headers = {"HTTP_PREFER": "handling=strict"} if strict else {}
    response = client.get(f"/fhir/{resource}?{urlencode(query)}", **headers)
    assert response.status_code in ANSWERS, (resource, query, response.content[:500])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    resource=st.sampled_from(["Practitioner", "PractitionerRole", "Organization", "CodeSystem"]),
    identifier=st.one_of(PLAUSIBLE, st.text(min_size=1, max_size=40)),
)
def test_any_read_is_answered_with_a_valid_resource(client, staffed, resource, identifier):
    from urllib.parse import quote

    response = client.get(f"/fhir/{resource}/{quote(identifier, safe='')}")
    assert response.status_code in ANSWERS, (resource, identifier, response.content[:500])
