"""OpenAPI description of the partner token (loaded by ApiConfig.ready)."""

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
