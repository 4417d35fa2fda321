"""The storage of uploaded documents, shared by the apps that keep them and the backups."""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages


def document_storage() -> Storage:
    """The "documents" storage. A file-system storage is rebuilt on each call from
    settings.DOCUMENT_STORAGE_DIR, so a changed setting (tests point it at a temp folder) is honoured."""
    storage = storages["documents"]
    if isinstance(storage, FileSystemStorage):
        options = dict(settings.STORAGES.get("documents", {}).get("OPTIONS", {}))
        options["location"] = settings.DOCUMENT_STORAGE_DIR
        return type(storage)(**options)
    return storage
