#!/usr/bin/env bash
# A single-node Kafka broker (KRaft, combined broker + controller) built from the Apache Kafka jars
# on Maven Central, so development, the test suite and the demo use a real broker without Docker.
#
#   kafka.sh jars               fetch the jars into .kafka/libs (skipped while kafka/pom.xml is unchanged)
#   kafka.sh up [STATE_DIR]     start a fresh broker on free loopback ports; print its bootstrap address
#   kafka.sh down [STATE_DIR]   stop it and delete its data (its logs stay for a post-mortem)
#   kafka.sh restart [STATE_DIR] stop it (SIGTERM) and start it again: same ports, same data
#   kafka.sh status [STATE_DIR] exit 0 only if it is running and answering
#
# STATE_DIR defaults to .kafka/run, whose address is also written to .kafka/bootstrap.
# Needs Java 17+, Maven (for `jars`) and python3 (standard library only).
#
# Opt-in SASL mode, for testing ACLs: KAFKA_SASL_USERS="admin:pw,analyst:pw,..." given to `up`
# makes every listener (the controller's too) SASL_PLAINTEXT with SASL/PLAIN for those users, with
# the KRaft StandardAuthorizer, super.users=User:admin (the broker itself connects as admin, so
# admin must be listed) and allow.everyone.if.no.acl.found=false: everyone else may do only what
# ACLs allow. `restart` and `status` keep the mode the broker was set up with.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
KAFKA_DIR="$REPO/.kafka"
LIBS="$KAFKA_DIR/libs"
POM="$REPO/kafka/pom.xml"
LOG4J_CONFIG="$REPO/kafka/log4j2.yaml"
DEFAULT_STATE_DIR="$KAFKA_DIR/run"
START_TIMEOUT_S=90
STOP_TIMEOUT_S=30
# A small heap; serial GC and the C1 compiler alone start the JVM faster on 2 cores.
JVM_OPTS=(-Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true)
SASL_USERS="${KAFKA_SASL_USERS:-}"

die() {
  echo "kafka.sh: $*" >&2
  exit 1
}

cmd_jars() {
  local stamp="$LIBS/.pom.sha256" hash
  hash="$(sha256sum "$POM" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(<"$stamp")" == "$hash" ]]; then
    return 0
  fi
  rm -rf "$LIBS"
  # To stderr: stdout carries only the bootstrap address, for scripts that read it.
  mvn -q -B -f "$POM" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$LIBS" >&2
  echo "$hash" >"$stamp"
}

# Two distinct loopback ports that were free a moment ago, chosen by the kernel.
free_ports() {
  python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
PY
}

# A random UUID in Kafka's form: 22 URL-safe base64 characters, never starting with '-'.
new_cluster_id() {
  local id="-"
  while [[ "$id" == -* ]]; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  done
  echo "$id"
}

write_server_properties() {
  local state_dir="$1" broker_port="$2" controller_port="$3" protocol=PLAINTEXT
  [[ -z "$SASL_USERS" ]] || protocol=SASL_PLAINTEXT
  cat >"$state_dir/server.properties" <<EOF
# Written by scripts/kafka.sh for a throwaway single-node development broker.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$controller_port
listeners=$protocol://127.0.0.1:$broker_port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=$protocol://127.0.0.1:$broker_port
controller.listener.names=CONTROLLER
inter.broker.listener.name=$protocol
listener.security.protocol.map=$protocol:$protocol,CONTROLLER:$protocol
log.dirs=$state_dir/data
num.partitions=1
auto.create.topics.enable=false
# One node: every internal topic gets one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Check retention every second (default 5 min) so tests can watch records being deleted.
log.retention.check.interval.ms=1000
# No time limit where a topic sets none (the analytics topics). Their records carry their slot's
# time, and the tests' generated logs have fixed dates: with the 7-day default, each hour of a log
# passed out of retention once the calendar got 7 days past it, and its events were deleted as they
# were written (the two-workers test then measured a day's later hours alone: dominated 0.1%).
log.retention.ms=-1
log.initial.task.delay.ms=1000
EOF
  [[ -z "$SASL_USERS" ]] || write_sasl_properties "$state_dir"
}

# SASL/PLAIN users from KAFKA_SASL_USERS and the standard authorizer. The config holds passwords,
# so it becomes owner-only; admin's login also goes to STATE_DIR/sasl-admin for the readiness check.
write_sasl_properties() {
  local state_dir="$1" entry users="" admin_password="" jaas
  local entry_re='^([A-Za-z0-9._-]+):([^",;\\[:space:]]+)$'
  local -a entries
  IFS=, read -ra entries <<<"$SASL_USERS"
  for entry in "${entries[@]}"; do
    # The entry is not echoed: it holds a password.
    [[ "$entry" =~ $entry_re ]] ||
      die "KAFKA_SASL_USERS: expected user:password pairs separated by commas (no quotes, backslashes, ';' or spaces)"
    users+=" user_${BASH_REMATCH[1]}=\"${BASH_REMATCH[2]}\""
    [[ "${BASH_REMATCH[1]}" != admin ]] || admin_password="${BASH_REMATCH[2]}"
  done
  [[ -n "$admin_password" ]] || die "KAFKA_SASL_USERS must list admin: the super user the broker itself connects as"
  jaas="org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"$admin_password\"$users;"
  chmod 600 "$state_dir/server.properties"
  cat >>"$state_dir/server.properties" <<EOF
# SASL mode (KAFKA_SASL_USERS): SASL/PLAIN on every listener, ACLs enforced, admin the only super user.
sasl.enabled.mechanisms=PLAIN
sasl.mechanism.inter.broker.protocol=PLAIN
sasl.mechanism.controller.protocol=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=$jaas
listener.name.controller.plain.sasl.jaas.config=$jaas
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin
allow.everyone.if.no.acl.found=false
EOF
  (umask 077 && echo "admin:$admin_password" >"$state_dir/sasl-admin")
}

# The user:password the readiness check logs in with; empty for a broker without SASL.
sasl_login() {
  [[ ! -f "$1/sasl-admin" ]] || cat "$1/sasl-admin"
}

# The address clients bootstrap from, as advertised in the broker's own config.
bootstrap_of() {
  sed -n 's|^advertised.listeners=[A-Z_]*://||p' "$1/server.properties"
}

# The pid in STATE_DIR/pid if that process is alive (not a zombie) and is this state dir's broker:
# pids get reused, and a stale file must never make us signal a stranger.
broker_pid() {
  local state_dir="$1" pid
  [[ -f "$state_dir/pid" ]] || return 1
  pid="$(<"$state_dir/pid")"
  [[ "$(ps -o stat= -p "$pid" 2>/dev/null)" == [^Z]* ]] || return 1
  ps -ww -o args= -p "$pid" | grep -qF -- "$state_dir/server.properties" || return 1
  echo "$pid"
}

# Success when the broker answers a Metadata request that lists itself. An open port is not
# enough: a KRaft broker accepts connections before it is unfenced and can host topics.
# With a LOGIN (user:password) it first authenticates with SASL/PLAIN.
broker_answers() {
  KAFKA_SH_LOGIN="${2:-}" python3 - "$1" <<'PY'
import os
import socket
import struct
import sys

host, port = sys.argv[1].rsplit(":", 1)
login = os.environ["KAFKA_SH_LOGIN"]
client_id = b"kafka.sh"


def receive(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            sys.exit(1)
        data += chunk
    return data


def call(sock: socket.socket, api_key: int, version: int, correlation_id: int, body: bytes) -> bytes:
    """One request (header v1) and its response body (after the v0 response header)."""
    request = struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id + body
    sock.sendall(struct.pack(">i", len(request)) + request)
    (size,) = struct.unpack(">i", receive(sock, 4))
    response = receive(sock, size)
    if struct.unpack(">i", response[:4])[0] != correlation_id:
        sys.exit(1)
    return response[4:]


def error_code(body: bytes) -> int:
    return struct.unpack(">h", body[:2])[0]


try:
    with socket.create_connection((host, int(port)), timeout=2) as sock:
        if login:
            user, password = login.split(":", 1)
            # SaslHandshake v1 (api key 17), then SaslAuthenticate v0 (36) with PLAIN's \0user\0password.
            if error_code(call(sock, 17, 1, 2, struct.pack(">h", 5) + b"PLAIN")):
                sys.exit(1)
            token = b"\0" + user.encode() + b"\0" + password.encode()
            if error_code(call(sock, 36, 0, 3, struct.pack(">i", len(token)) + token)):
                sys.exit(1)
        # Metadata v4: api key 3, no topics, no auto-creation.
        metadata = call(sock, 3, 4, 1, struct.pack(">i?", 0, False))
except OSError:
    sys.exit(1)
_throttle_ms, broker_count = struct.unpack(">ii", metadata[:8])
sys.exit(0 if broker_count > 0 else 1)
PY
}

print_log_tails() {
  local log
  for log in "$1"/logs/*.log; do
    [[ -f "$log" ]] || continue
    echo "----- last lines of $log -----" >&2
    tail -n 40 "$log" >&2
  done
}

wait_until_ready() {
  local state_dir="$1" address deadline=$((SECONDS + START_TIMEOUT_S))
  address="$(bootstrap_of "$state_dir")"
  until broker_answers "$address" "$(sasl_login "$state_dir")"; do
    if ! broker_pid "$state_dir" >/dev/null; then
      print_log_tails "$state_dir"
      die "the broker in $state_dir exited during start-up"
    fi
    if ((SECONDS >= deadline)); then
      print_log_tails "$state_dir"
      stop_broker "$state_dir"
      die "the broker in $state_dir did not answer within ${START_TIMEOUT_S}s; stopped it"
    fi
    sleep 0.5
  done
}

start_broker() {
  local state_dir="$1" broker_port controller_port
  rm -rf "$state_dir/data" "$state_dir/logs" "$state_dir/pid" "$state_dir/bootstrap" "$state_dir/sasl-admin"
  mkdir -p "$state_dir/data" "$state_dir/logs"
  read -r broker_port controller_port < <(free_ports)
  write_server_properties "$state_dir" "$broker_port" "$controller_port"

  if ! java "${JVM_OPTS[@]}" -cp "$LIBS/*" kafka.tools.StorageTool format --standalone \
    --cluster-id "$(new_cluster_id)" --config "$state_dir/server.properties" \
    >"$state_dir/logs/format.log" 2>&1; then
    print_log_tails "$state_dir"
    die "formatting the broker's storage failed"
  fi

  launch_broker "$state_dir"
}

# Start the broker process on STATE_DIR's existing config and data.
launch_broker() {
  local state_dir="$1"
  nohup java "${JVM_OPTS[@]}" -cp "$LIBS/*" \
    -Dlog4j2.configurationFile="$LOG4J_CONFIG" -Dkafka.logs.dir="$state_dir/logs" \
    kafka.Kafka "$state_dir/server.properties" \
    </dev/null >>"$state_dir/logs/stdout.log" 2>&1 &
  echo $! >"$state_dir/pid"
}

stop_broker() {
  local state_dir="$1" pid deadline=$((SECONDS + STOP_TIMEOUT_S))
  pid="$(broker_pid "$state_dir")" || return 0
  kill -TERM "$pid"
  while broker_pid "$state_dir" >/dev/null; do
    if ((SECONDS >= deadline)); then
      echo "kafka.sh: broker $pid ignored SIGTERM for ${STOP_TIMEOUT_S}s; killing it" >&2
      kill -KILL "$pid"
      break
    fi
    sleep 0.2
  done
}

cmd_up() {
  local state_dir="$1"
  if ! broker_pid "$state_dir" >/dev/null; then
    cmd_jars
    start_broker "$state_dir"
  fi
  wait_until_ready "$state_dir"
  bootstrap_of "$state_dir" >"$state_dir/bootstrap"
  if [[ "$state_dir" == "$DEFAULT_STATE_DIR" ]]; then
    cp "$state_dir/bootstrap" "$KAFKA_DIR/bootstrap"
  fi
  cat "$state_dir/bootstrap"
}

cmd_down() {
  local state_dir="$1"
  stop_broker "$state_dir"
  rm -rf "$state_dir/data" "$state_dir/pid" "$state_dir/bootstrap" "$state_dir/server.properties" \
    "$state_dir/sasl-admin"
  if [[ "$state_dir" == "$DEFAULT_STATE_DIR" ]]; then
    rm -f "$KAFKA_DIR/bootstrap"
  fi
}

# Stop (SIGTERM, as in a rolling restart) and start again on the same ports with the same data.
cmd_restart() {
  local state_dir="$1"
  [[ -f "$state_dir/server.properties" ]] || die "no broker was set up in $state_dir (run up first)"
  stop_broker "$state_dir"
  launch_broker "$state_dir"
  wait_until_ready "$state_dir"
  bootstrap_of "$state_dir"
}

cmd_status() {
  local state_dir="$1" pid address
  if ! pid="$(broker_pid "$state_dir")"; then
    echo "not running ($state_dir)"
    return 1
  fi
  address="$(bootstrap_of "$state_dir")"
  if ! broker_answers "$address" "$(sasl_login "$state_dir")"; then
    echo "starting or not answering: pid $pid, $address"
    return 1
  fi
  echo "running: pid $pid, $address"
}

usage() {
  echo "usage: $0 jars | up [STATE_DIR] | down [STATE_DIR] | restart [STATE_DIR] | status [STATE_DIR]"
}

main() {
  local command="${1:-}" state_dir
  case "$command" in
    jars)
      cmd_jars
      ;;
    up | down | restart | status)
      state_dir="$(realpath -m -- "${2:-$DEFAULT_STATE_DIR}")"
      "cmd_$command" "$state_dir"
      ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
}

main "$@"
