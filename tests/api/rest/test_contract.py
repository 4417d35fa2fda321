"""Contract test: schemathesis generates requests from /api/schema/ for every operation and checks
that no response is a server error or breaks the schema (status, content type, body)."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api import services
from registry.models import OrganizationLicense
from registry.services import worker_refresh_derived
from tests.factories import AdmissionDocumentFactory, EmploymentFactory

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MAX_EXAMPLES = 20


@pytest.fixture
def api_schema(db, django_settings_override):
    from django.core.wsgi import get_wsgi_application

    for _ in range(3):
        emp = EmploymentFactory()
        AdmissionDocumentFactory(worker=emp.worker, specialty=emp.specialty)
        OrganizationLicense.objects.create(
            organization=emp.organization,
            number=f"ЛО-77-01-{emp.pk:06d}",
            issued_on="2010-01-01",
            valid_until="2030-01-01",
            authority="Росздравнадзор",
        )
    worker_refresh_derived(worker_ids=[emp.worker_id])
    # The WSGI handler closes the connection after each request, as in production; the test's
    # transaction lives on that connection, so keep it open like django.test.Client does.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def django_settings_override(settings):
    settings.API_ANON_RATE_PER_MINUTE = 0  # hundreds of generated requests from one address


def _operations(schema):
    for result in schema.get_all_operations():
        yield result.ok()  # raises on an operation the loader cannot read: a broken schema fails the test


@pytest.mark.parametrize("scopes", [None, ["personal", "documents"]], ids=["anonymous", "partner"])
def test_api_conforms_to_its_schema(api_schema, scopes):
    headers = {}
    if scopes is not None:  # the partner representation (protected fields) must fit the schema too
        _, raw = services.partner_token_create(name="contract", scopes=scopes, rate_per_minute=0)
        headers = {"Authorization": f"Bearer {raw}"}
    # The loop stands in for schemathesis' pytest plugin (schema.parametrize), which does not run
    # under pytest 9; each operation still gets its own bounded Hypothesis run.
    operations = list(_operations(api_schema))
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate(checks=CHECKS, headers=headers)

        check()
