"""OpenAPI description of the partner token (loaded by ApiConfig.ready) and of every operation's parameters."""

import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class PartnerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.PartnerTokenAuthentication"
    name = "partnerToken"
    # Without a token the API answers with public data, so the scheme is optional.
    optional = True

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Partner token created in the admin: `Authorization: Bearer mr_…`. Scopes `personal` "
            "and `documents` add protected fields; without a token only public data is returned.",
        }


def apply_parameters(result, generator, request, public):
    """drf-spectacular postprocessing hook: every operation's parameters are written from its declaration in
    api.parameters.OPERATIONS, the same objects that clean the request, so the schema says exactly what is
    accepted. A path whose placeholders differ from the declared path parameters is a programming error."""
    from django.core.exceptions import ImproperlyConfigured

    from ..parameters import OPERATIONS

    for path, methods in result.get("paths", {}).items():
        placeholders = sorted(re.findall(r"{(\w+)}", path))
        for operation in methods.values():
            declared = OPERATIONS.get(operation.get("operationId"))
            if declared is None:
                operation_id = operation.get("operationId")
                raise ImproperlyConfigured(f"{path}: operation {operation_id} has no parameters in api.parameters")
            names = sorted(p.name for p in declared if p.location == "path")
            if names != placeholders:
                raise ImproperlyConfigured(f"{path}: path parameters {names} do not match the path")
            operation["parameters"] = declared.openapi()
    return result
