#!/usr/bin/env bash
# Starts a ClickHouse server with its data, logs and config under DIR, listening on 127.0.0.1 only.
# Usage: scripts/clickhouse-server.sh DIR [HTTP_PORT=8123] [TCP_PORT=9000]
# Runs in the background and prints the server's pid; used by ensure-infra.sh and the fault tests.
set -euo pipefail
dir=$(realpath -m "$1")
http_port=${2:-8123}
tcp_port=${3:-9000}
bin=$(command -v clickhouse-server || echo /usr/sbin/clickhouse-server)
mkdir -p "$dir"/{data,tmp,user_files,format_schemas,log}
cat >"$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>$dir/log/server.log</log>
    <errorlog>$dir/log/server.err.log</errorlog>
    <size>100M</size>
    <count>3</count>
  </logger>
  <http_port>$http_port</http_port>
  <tcp_port>$tcp_port</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>$dir/data/</path>
  <tmp_path>$dir/tmp/</tmp_path>
  <user_files_path>$dir/user_files/</user_files_path>
  <format_schema_path>$dir/format_schemas/</format_schema_path>
  <users_config>/etc/clickhouse-server/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>200</max_concurrent_queries>
</yandex>
XML
run=()
if [ "$(id -u)" = 0 ] && id clickhouse >/dev/null 2>&1; then
  chown -R clickhouse:clickhouse "$dir"
  run=(runuser -u clickhouse --)
fi
nohup "${run[@]}" "$bin" --config-file="$dir/config.xml" >"$dir/log/stdout.log" 2>&1 &
echo $!
