"""collectstatic with the manifest storage: what the image build and the production web serve.

Production (DJANGO_ENV=production) stores static files through whitenoise's
CompressedManifestStaticFilesStorage, a ManifestStaticFilesStorage that also compresses. The manifest
step is the one that fails on a reference to a file that does not exist (a vendored library's
``sourceMappingURL``), and then every page linking a static file answers 500. The compression step
(a minute of brotli) runs in the CI smoke run (deploy/smoke.py), with the production settings.
"""

from __future__ import annotations

import json
import re

import pytest
from django.conf import settings as django_settings
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from django.core.management import call_command
from django.utils.module_loading import import_string

STATIC = django_settings.BASE_DIR / "static"


def test_production_static_storage_is_a_manifest_storage():
    # The class production uses (portal/settings.py picks it for DJANGO_ENV=production).
    storage = import_string("whitenoise.storage.CompressedManifestStaticFilesStorage")
    assert issubclass(storage, ManifestStaticFilesStorage)
    dockerfile = (django_settings.BASE_DIR / "Dockerfile").read_text()
    assert "deploy/collectstatic.sh" in dockerfile


def test_collectstatic_with_the_manifest_storage_resolves_every_reference(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    call_command("collectstatic", interactive=False, verbosity=0)
    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())["paths"]
    hashed = manifest["vendor/chartjs/4.6.1/chart.umd.min.js"]
    assert re.fullmatch(r"vendor/chartjs/4\.6\.1/chart\.umd\.min\.[0-9a-f]{12}\.js", hashed)
    assert (tmp_path / "static" / hashed).exists()
    assert manifest["css/site.css"] != "css/site.css"


@pytest.mark.parametrize("path", sorted(p.relative_to(STATIC).as_posix() for p in STATIC.rglob("*.js")))
def test_no_shipped_script_points_at_a_missing_source_map(path):
    text = (STATIC / path).read_text(encoding="utf-8", errors="replace")
    for target in re.findall(r"sourceMappingURL=(\S+)", text):
        assert ((STATIC / path).parent / target).exists(), f"{path} names {target}, which is not shipped"
