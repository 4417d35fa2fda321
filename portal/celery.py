"""The Celery application. Settings come from Django settings with the CELERY_ prefix."""

import os

from celery import Celery

from core import reconcile

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("medreg")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Rows enqueued after commit are published through this app (core.reconcile).
reconcile.use_app(app)
