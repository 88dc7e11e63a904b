#!/usr/bin/env bash
# Project-local PostgreSQL 15 + PostGIS cluster for development and tests.
# Usage: scripts/localdb.sh start|stop|status
# Installs postgresql-15-postgis-3 with apt-get when missing (as root), runs initdb as the
# `postgres` user (never root), listens on 127.0.0.1:$GRIDWORK_PGPORT only, and creates the
# owner role `gridwork`, the runtime role `gridwork_app` and the database `gridwork`.
set -euo pipefail

cmd=${1:-start}
root=$(cd "$(dirname "$0")/.." && pwd)
port=${GRIDWORK_PGPORT:-55432}
pgbin=/usr/lib/postgresql/15/bin
extension_control=/usr/share/postgresql/15/extension/postgis.control

say() { echo "localdb: $*" >&2; }

ensure_packages() {
  if [[ -x $pgbin/initdb && -f $extension_control ]]; then return; fi
  if [[ $(id -u) -ne 0 ]]; then
    say "PostgreSQL 15 with PostGIS 3 is missing. Install it with:"
    say "  sudo apt-get install -y postgresql-15 postgresql-15-postgis-3"
    say "or set DATABASE_URL to an existing PostGIS database."
    exit 1
  fi
  say "installing postgresql-15-postgis-3 with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 postgresql-15-postgis-3 >/dev/null
}

# The cluster runs as `postgres` when we are root, otherwise as the calling user.
as_db_user() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The data folder lives in the checkout (git-ignored) when the cluster user can reach it;
# a checkout under a private home folder gets a folder under /var/tmp, linked from var/.
data_root() {
  local var=$root/var
  mkdir -p "$var"
  if [[ $(id -u) -eq 0 ]] && ! runuser -u postgres -- test -x "$var"; then
    local alt=/var/tmp/gridwork-$(echo -n "$root" | sha1sum | cut -c1-12)
    mkdir -p "$alt"
    chown postgres:postgres "$alt"
    ln -sfn "$alt" "$var/pg"
  elif [[ ! -e $var/pg ]]; then
    mkdir -p "$var/pg"
    if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "$var/pg"; fi
  fi
  echo "$var/pg"
}

psql_super() { as_db_user "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"; }

provision() {
  psql_super -d postgres <<SQL
SELECT 'CREATE ROLE gridwork LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridwork')\gexec
SELECT 'CREATE ROLE gridwork_app LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridwork_app')\gexec
SELECT 'CREATE DATABASE gridwork OWNER gridwork' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'gridwork')\gexec
SQL
  psql_super -d gridwork -f "$root/scripts/provision.sql" >/dev/null 2>&1
}

start() {
  ensure_packages
  local pg
  pg=$(data_root)
  local data=$pg/data
  if [[ ! -f $data/PG_VERSION ]]; then
    say "initdb in $data (as the cluster user, not root)"
    as_db_user "$pgbin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if as_db_user "$pgbin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    say "already running on 127.0.0.1:$port"
  else
    as_db_user "$pgbin/pg_ctl" -D "$data" -l "$pg/postgres.log" -w -t 60 start \
      -o "-p $port -c listen_addresses=127.0.0.1 -k $pg -c max_connections=200 -c fsync=on" >/dev/null
    say "started on 127.0.0.1:$port"
  fi
  provision
}

stop() {
  local pg=$root/var/pg
  if [[ -f $pg/data/PG_VERSION ]]; then
    as_db_user "$pgbin/pg_ctl" -D "$pg/data" -w stop -m fast >/dev/null 2>&1 || true
    say "stopped"
  fi
}

case $cmd in
  start) start ;;
  stop) stop ;;
  status) as_db_user "$pgbin/pg_ctl" -D "$root/var/pg/data" status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
