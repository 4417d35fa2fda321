#!/bin/sh
# collectstatic with the production storage (whitenoise's CompressedManifestStaticFilesStorage:
# hashed names, gzip/brotli copies), exactly as the image build runs it (Dockerfile) and the CI smoke
# run (deploy/smoke.py). Settings must import to run it, so throwaway secrets are made up when none
# are set; they never reach a running process. STATIC_ROOT (default staticfiles/) is the target.
set -eu
export DJANGO_ENV=production
export SECRET_KEY="${SECRET_KEY:-build-only-$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n')}"
export DOCUMENT_ENCRYPTION_KEYS="${DOCUMENT_ENCRYPTION_KEYS:-bWVkcmVnLWRldi1vbmx5LWtleS1ub3Qtc2VjcmV0ISE=}"
export EXTRACT_SIGNING_KEYS="${EXTRACT_SIGNING_KEYS:-build:$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')}"
export ALLOWED_HOSTS="${ALLOWED_HOSTS:-build}"
exec "${PYTHON:-python}" manage.py collectstatic --noinput "$@"
