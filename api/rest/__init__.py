"""The REST API /api/v1/: views, serializers, the error envelope and the OpenAPI schema."""
