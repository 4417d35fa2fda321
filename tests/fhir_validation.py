"""Every FHIR answer the test suite receives is validated with fhir.resources (R4B models, whose
resources used here are structurally those of R4 4.0.1): tests/conftest.py wraps the test client.

A test that gets an invalid resource, or a non-FHIR body from /fhir/, fails there, whatever it asserts
itself. The count is printed at the end of the run.
"""

from __future__ import annotations

import json

from fhir.resources.R4B import get_fhir_model_class

VALIDATED = {"answers": 0, "resources": 0, "errors": 0}
# Required bindings that the pydantic models leave as free strings.
GENDERS = {"male", "female", "other", "unknown"}
ISSUE_SEVERITIES = {"fatal", "error", "warning", "information"}
BUNDLE_SEARCH_MODES = {"match", "include", "outcome"}


class FhirAnswerError(AssertionError):
    pass


def _check_bindings(resource: dict) -> None:
    kind = resource["resourceType"]
    if kind == "Practitioner" and "gender" in resource and resource["gender"] not in GENDERS:
        raise FhirAnswerError(f"Practitioner.gender {resource['gender']!r}")
    if kind == "OperationOutcome":
        for issue in resource["issue"]:
            if issue["severity"] not in ISSUE_SEVERITIES:
                raise FhirAnswerError(f"OperationOutcome.issue.severity {issue['severity']!r}")
    if kind == "Bundle":
        for entry in resource.get("entry", []):
            mode = entry.get("search", {}).get("mode")
            if mode is not None and mode not in BUNDLE_SEARCH_MODES:
                raise FhirAnswerError(f"Bundle.entry.search.mode {mode!r}")


def validate_resource(resource: dict) -> None:
    """Raises on any structural error (pydantic ValidationError) or an unknown resource type."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    _check_bindings(resource)
    VALIDATED["resources"] += 1
    for entry in resource.get("entry", []) if resource["resourceType"] == "Bundle" else []:
        validate_resource(entry["resource"])


def validate_fhir_answer(path: str, response) -> None:
    """A response to a request under /fhir/: FHIR JSON with a valid resource, whatever its status."""
    try:
        _validate_answer(path, response)
    except Exception:
        VALIDATED["errors"] += 1
        raise


def _validate_answer(path: str, response) -> None:
    if not path.startswith("/fhir/") or response.status_code in (204, 304) or getattr(response, "streaming", False):
        return
    content_type = response.get("Content-Type", "")
    if not content_type.startswith("application/fhir+json"):
        raise FhirAnswerError(f"{path}: {response.status_code} answered {content_type!r}, not application/fhir+json")
    try:
        data = json.loads(response.content)
    except ValueError as exc:
        raise FhirAnswerError(f"{path}: {response.status_code} answered a body that is not JSON") from exc
    if not isinstance(data, dict) or "resourceType" not in data:
        raise FhirAnswerError(f"{path}: {response.status_code} answered JSON without a resourceType")
    validate_resource(data)
    VALIDATED["answers"] += 1
