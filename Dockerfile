# One image for web, worker and beat.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_ENV=production

RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-dejavu-core postgresql-client \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 medreg

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .

# collectstatic needs settings to import; these throwaway values never reach a running container.
RUN SECRET_KEY=build-only-$(head -c 48 /dev/urandom | base64 | tr -d '/+=') \
    DOCUMENT_ENCRYPTION_KEYS=bWVkcmVnLWRldi1vbmx5LWtleS1ub3Qtc2VjcmV0ISE= \
    EXTRACT_SIGNING_KEYS=build:$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=') \
    ALLOWED_HOSTS=build python manage.py collectstatic --noinput \
 && mkdir -p /data/documents /backups && chown -R medreg /data /backups

USER medreg
EXPOSE 8000
# --limit-request-line 0: gunicorn's cap becomes 1 MiB, so the API answers an over-long query string itself
# (a JSON 414, api.errors.MAX_QUERY_STRING) instead of gunicorn's HTML page at 4 KiB.
CMD ["gunicorn", "portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--limit-request-line", "0", \
     "--access-logfile", "-"]
