# One image for web, worker, beat and PgBouncer (Debian's package, configured by deploy/pgbouncer/start.sh).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_ENV=production

RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-dejavu-core postgresql-client pgbouncer \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 medreg

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .

# Static files with hashed names and compressed copies; the script makes up throwaway secrets so the
# settings import (they never reach a running container). The CI smoke run (deploy/smoke.py) runs the same.
RUN sh deploy/collectstatic.sh \
 && mkdir -p /data/documents /data/var /backups && chown -R medreg /data /backups

USER medreg
EXPOSE 8000
# The web service's command in docker-compose.yml (which the CI smoke run starts). --limit-request-line 0:
# gunicorn's cap becomes 1 MiB, so the API answers an over-long query string itself (a JSON 414,
# api.rest.errors.MAX_QUERY_STRING) instead of gunicorn's HTML page at 4 KiB.
CMD ["gunicorn", "portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", \
     "--timeout", "60", "--limit-request-line", "0", "--access-logfile", "-", "--forwarded-allow-ips", "*"]
