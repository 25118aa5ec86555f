#!/usr/bin/env bash
# Makes sure the infrastructure Pulse needs answers: NATS with JetStream, PostgreSQL, ClickHouse, Redis.
# For each: reuse the configured server when it answers; otherwise start a local one from the installed
# binaries with its data under .data/ (installing the Debian package first when missing and we are root).
# Used by `npm start`, `npm test` and .ci/run. Prints what was reused and what was started.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data="$root/.data"
mkdir -p "$data"

NATS_URL=${NATS_URL:-nats://127.0.0.1:4222}
DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/pulse}
CLICKHOUSE_URL=${CLICKHOUSE_URL:-http://127.0.0.1:8123}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}

log() { printf '[infra] %s\n' "$*"; }
hostport() { # URL -> "host port" with a default port
  local rest=${1#*://}
  rest=${rest#*@}
  rest=${rest%%/*}
  local host=${rest%%:*} port=${rest##*:}
  [ "$port" = "$rest" ] && port=$2
  echo "$host $port"
}
tcp_up() { timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }
wait_for() { # description command...
  local what=$1
  shift
  for _ in $(seq 1 100); do
    if "$@"; then return 0; fi
    sleep 0.2
  done
  log "$what did not come up"
  return 1
}
apt_updated=0
ensure_package() { # binary package...
  local bin=$1
  shift
  if command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || [ -x "/usr/lib/postgresql/15/bin/$bin" ]; then
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    log "$bin is missing and we are not root: install $* yourself"
    exit 1
  fi
  if [ $apt_updated = 0 ]; then
    apt-get update -qq
    apt_updated=1
  fi
  log "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- NATS with JetStream ---
read -r nh np <<<"$(hostport "$NATS_URL" 4222)"
if tcp_up "$nh" "$np"; then
  log "NATS: reusing $NATS_URL"
else
  ensure_package nats-server nats-server
  mkdir -p "$data/nats"
  nohup "$(command -v nats-server || echo /usr/sbin/nats-server)" -a "$nh" -p "$np" -js -sd "$data/nats" \
    -l "$data/nats/nats.log" >/dev/null 2>&1 &
  wait_for "NATS" tcp_up "$nh" "$np"
  log "NATS: started nats-server on $nh:$np (data in .data/nats)"
fi

# --- PostgreSQL ---
read -r ph pp <<<"$(hostport "$DATABASE_URL" 5432)"
pg_up() { tcp_up "$ph" "$pp" && psql "postgres://postgres@$ph:$pp/postgres" -Atqc 'select 1' >/dev/null 2>&1; }
if pg_up; then
  log "PostgreSQL: reusing $ph:$pp"
else
  ensure_package psql postgresql
  if command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null | awk -v p="$pp" '$3==p' | grep -q .; then
    read -r ver name _ <<<"$(pg_lsclusters -h | awk -v p="$pp" '$3==p' | head -n1)"
    pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start || true
    wait_for "PostgreSQL" pg_up
    log "PostgreSQL: started the installed cluster $ver/$name on port $pp"
  else
    bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
    pgdata="$data/postgres"
    if [ ! -f "$pgdata/PG_VERSION" ]; then
      mkdir -p "$pgdata"
      chown postgres:postgres "$pgdata"
      runuser -u postgres -- "$bindir/initdb" -D "$pgdata" -U postgres --auth=trust >/dev/null
    fi
    runuser -u postgres -- "$bindir/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" \
      -o "-p $pp -k /tmp -c listen_addresses=$ph" start >/dev/null
    wait_for "PostgreSQL" pg_up
    log "PostgreSQL: started a cluster in .data/postgres on port $pp"
  fi
fi
db=${DATABASE_URL##*/}
db=${db%%\?*}
if ! psql "postgres://postgres@$ph:$pp/postgres" -Atqc "select 1 from pg_database where datname='$db'" | grep -q 1; then
  psql "postgres://postgres@$ph:$pp/postgres" -qc "create database \"$db\"" >/dev/null
  log "PostgreSQL: created database $db"
fi

# --- ClickHouse ---
ch_up() { curl -sf "$CLICKHOUSE_URL/ping" >/dev/null 2>&1; }
if ch_up; then
  log "ClickHouse: reusing $CLICKHOUSE_URL ($(curl -s "$CLICKHOUSE_URL/?query=SELECT%20version()"))"
else
  ensure_package clickhouse-server clickhouse-server clickhouse-client
  read -r _ chp <<<"$(hostport "$CLICKHOUSE_URL" 8123)"
  "$root/scripts/clickhouse-server.sh" "$data/clickhouse" "$chp" "${CLICKHOUSE_TCP_PORT:-9000}" >/dev/null
  wait_for "ClickHouse" ch_up
  log "ClickHouse: started $(curl -s "$CLICKHOUSE_URL/?query=SELECT%20version()") on port $chp (data in .data/clickhouse)"
fi

# --- Redis (login rate limits shared by API replicas) ---
read -r rh rp <<<"$(hostport "$REDIS_URL" 6379)"
if tcp_up "$rh" "$rp"; then
  log "Redis: reusing $REDIS_URL"
else
  ensure_package redis-server redis-server
  redis-server --daemonize yes --bind "$rh" --port "$rp" --save "" --appendonly no --dir "$data" \
    --logfile "$data/redis.log" >/dev/null
  wait_for "Redis" tcp_up "$rh" "$rp"
  log "Redis: started redis-server on $rh:$rp"
fi

# --- Chromium, for the web app's browser tests (npm test passes --with-browser; npm start does not) ---
if [ "${1:-}" = "--with-browser" ]; then
  ensure_package chromium chromium
  log "Chromium: $(command -v chromium)"
fi
