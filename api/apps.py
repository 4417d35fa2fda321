from django.apps import AppConfig


class ApiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "api"
    verbose_name = "API и выписки"

    def ready(self):
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured

        from .extracts import signing
        from .rest import schema  # noqa: F401  (registers the OpenAPI auth extension)

        if not settings.EXTRACT_SIGNING_KEYS and not settings.PRODUCTION:
            # Development: a key generated once under VAR_DIR (never used in production, where
            # settings refuse to start without EXTRACT_SIGNING_KEYS).
            settings.EXTRACT_SIGNING_KEYS = [signing.dev_signing_key(settings.VAR_DIR)]
        try:  # fail at start-up, not at the first download, when a key is malformed
            signing.parse_keys(settings.EXTRACT_SIGNING_KEYS)
        except signing.KeyConfigError as exc:
            raise ImproperlyConfigured(str(exc)) from None
