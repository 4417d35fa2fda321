#!/bin/sh
# The replica service: on its first start (empty data directory) it copies the primary with
# pg_basebackup -R, which also writes standby.signal and primary_conninfo, so PostgreSQL starts as a
# hot standby streaming from the primary. Later starts go straight to PostgreSQL. The same
# pg_basebackup -R makes the replica of the CI runs (deploy/pgcluster.py).
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -h "$PRIMARY_HOST" -p 5432 -q; do sleep 1; done
  mkdir -p "$PGDATA"
  pg_basebackup -h "$PRIMARY_HOST" -p 5432 -U replicator -D "$PGDATA" -R -X stream -c fast
  chmod 700 "$PGDATA"
fi
exec "$@"
