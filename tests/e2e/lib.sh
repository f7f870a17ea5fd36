# Shared helpers for the end-to-end tests: real tongban node processes on 127.0.0.1, free
# ports, temporary directories, bounded waits, and a cleanup trap that always stops every
# node this shell started (by pid, never by name) and removes the directory.
# Source it after setting TB to the tongban binary:  TB=path/to/tongban; . lib.sh
# Nothing here listens on anything but 127.0.0.1, and every wait has a timeout.

TB_CITIES=(371500 370100 370900 371400)
TB_NAMES=(聊城 济南 泰安 德州)
declare -a TB_PIDS=()
TB_WORK=""
TB_KEEP=${TB_E2E_KEEP:-0}
# Mutual TLS between the nodes of tb_cluster_init (docs/peer.md): on unless TB_E2E_TLS=0.
# With TLS, each node listens with HTTPS on TB_PEER_PORTS[i] (its genesis endpoint) and serves
# the JSON API over plain HTTP on 127.0.0.1:TB_PORTS[i] ([api] local_port), so tb_url, tb_get
# and any http://127.0.0.1:${TB_PORTS[i]} in a test work as before. Without TLS both are the
# same port, as before.
TB_E2E_TLS=${TB_E2E_TLS:-1}

tb_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

tb_fail() {
  tb_log "FAIL: $*"
  if [ -n "$TB_WORK" ]; then
    for f in "$TB_WORK"/c*/node.log; do
      [ -f "$f" ] || continue
      echo "---- last lines of $f" >&2
      tail -n 15 "$f" >&2
    done
  fi
  exit 1
}

tb_cleanup() {
  local pid
  for pid in "${TB_PIDS[@]}"; do
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  done
  for pid in "${TB_PIDS[@]}"; do
    [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  done
  if [ -n "$TB_WORK" ] && [ "$TB_KEEP" = 0 ]; then rm -rf "$TB_WORK"; fi
}

# tb_setup NAME: a fresh temporary directory and the trap.
tb_setup() {
  TB_WORK=$(mktemp -d "/tmp/tongban-$1.XXXXXX")
  trap tb_cleanup EXIT
  trap 'exit 130' INT TERM
}

# tb_free_ports N: N distinct free TCP ports on 127.0.0.1 (held open together while chosen).
tb_free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# tb_cluster_init SUITE N: N cities in $TB_WORK/c0..c{N-1}, a genesis, keys copied in.
# Consensus timeouts come from TB_E2E_* (shorter than the defaults, for quick tests).
tb_cluster_init() {
  local suite=$1 n=$2 i members=() ports tls_args
  if [ "$TB_E2E_TLS" = 1 ]; then
    read -r -a ports <<<"$(tb_free_ports $((2 * n)))"
    TB_PEER_PORTS=("${ports[@]:0:n}")
    TB_PORTS=("${ports[@]:n:n}")
  else
    read -r -a ports <<<"$(tb_free_ports "$n")"
    TB_PEER_PORTS=("${ports[@]}")
    TB_PORTS=("${ports[@]}")
  fi
  for ((i = 0; i < n; i++)); do
    if [ "$TB_E2E_TLS" = 1 ]; then tls_args=(--local-port "${TB_PORTS[$i]}"); else tls_args=(--no-tls); fi
    "$TB" init --city "${TB_CITIES[$i]}" --name "${TB_NAMES[$i]}" --dir "$TB_WORK/c$i" \
      --listen "127.0.0.1:${TB_PEER_PORTS[$i]}" --suite "$suite" "${tls_args[@]}" >/dev/null ||
      tb_fail "init city $i"
    members+=(--member "$TB_WORK/c$i/member.json")
    sed -i -e "s/^timeout_propose_ms = .*/timeout_propose_ms = ${TB_E2E_PROPOSE_MS:-1000}/" \
      -e "s/^timeout_prevote_ms = .*/timeout_prevote_ms = ${TB_E2E_VOTE_MS:-500}/" \
      -e "s/^timeout_precommit_ms = .*/timeout_precommit_ms = ${TB_E2E_VOTE_MS:-500}/" \
      -e "s/^timeout_delta_ms = .*/timeout_delta_ms = ${TB_E2E_DELTA_MS:-250}/" \
      -e "s/^block_interval_ms = .*/block_interval_ms = ${TB_E2E_BLOCK_MS:-200}/" \
      -e "s/^block_txs_max = .*/block_txs_max = ${TB_E2E_BLOCK_TXS:-2000}/" \
      -e "s/^map_size_mb = .*/map_size_mb = 1024/" "$TB_WORK/c$i/node.ini"
  done
  "$TB" genesis --federation "e2e 测试联盟" --suite "$suite" "${members[@]}" \
    --type provident.deposit:consent --type police.no-criminal-record:closed \
    --type social-security.card:open --out "$TB_WORK/genesis.json" >/dev/null ||
    tb_fail "genesis"
  for ((i = 0; i < n; i++)); do
    cp "$TB_WORK/genesis.json" "$TB_WORK/subject.key" "$TB_WORK/c$i/"
  done
  TB_N=$n
}

tb_url() { echo "http://127.0.0.1:${TB_PORTS[$1]}"; }
# tb_peer_url I: node I's genesis endpoint (https:// with TLS): where peers reach it.
tb_peer_url() {
  if [ "$TB_E2E_TLS" = 1 ]; then echo "https://127.0.0.1:${TB_PEER_PORTS[$1]}"
  else echo "http://127.0.0.1:${TB_PEER_PORTS[$1]}"; fi
}
# tb_node_cert I: node I's self-signed certificate; `TONGBAN_NODE_CERT=$(tb_node_cert I)
# tongban status --node $(tb_peer_url I)` or `curl --cacert` + pinning reach the TLS port.
tb_node_cert() { echo "$TB_WORK/c$1/tls.crt"; }

# tb_node_start I: starts node I in the background, its log in c$I/node.log.
tb_node_start() {
  "$TB" node --config "$TB_WORK/c$1/node.ini" >>"$TB_WORK/c$1/node.log" 2>&1 &
  TB_PIDS[$1]=$!
}

# tb_node_kill I [SIGNAL]: signals node I (default KILL) and reaps it.
tb_node_kill() {
  local pid=${TB_PIDS[$1]:-}
  [ -n "$pid" ] || return 0
  kill "-${2:-KILL}" "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  TB_PIDS[$1]=""
}

# tb_get URL [PYTHON_EXPR]: GET a JSON document; print it or the expression over `d`.
tb_get() {
  python3 - "$1" "${2:-d}" <<'PY'
import json, sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
        d = json.load(r)
except Exception as e:
    print("", end=""); sys.exit(1)
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (dict, list)) else v)
PY
}

tb_height() { tb_get "$(tb_url "$1")/v1/status" 'd["height"]' 2>/dev/null || echo -1; }

# tb_wait_height I H SECONDS: waits until node I reports height >= H.
tb_wait_height() {
  local deadline=$((SECONDS + $3)) h
  while :; do
    h=$(tb_height "$1")
    [ "${h:--1}" -ge "$2" ] && return 0
    [ $SECONDS -ge $deadline ] && tb_fail "node $1 (${TB_CITIES[$1]}) at height ${h:-?}, not $2, after $3 s"
    sleep 0.3
  done
}

# tb_wait_up I SECONDS: waits until node I answers GET /v1/status.
tb_wait_up() { tb_wait_height "$1" 0 "$2"; }

# tb_check_headers I...: every block hash at heights 1..min(height) equal on the given nodes.
tb_check_headers() {
  local urls=() i
  for i in "$@"; do urls+=("$(tb_url "$i")"); done
  python3 - "${urls[@]}" <<'PY' || tb_fail "nodes disagree on committed headers"
import json, sys, urllib.request
urls = sys.argv[1:]
def get(u):
    with urllib.request.urlopen(u, timeout=10) as r: return json.load(r)
top = min(get(u + "/v1/status")["height"] for u in urls)
for h in range(1, top + 1):
    hs = {u: get("%s/v1/blocks/%d" % (u, h)) for u in urls}
    hashes = {b["hash"] for b in hs.values()}
    headers = {json.dumps(b["header"], sort_keys=True) for b in hs.values()}
    if len(hashes) != 1 or len(headers) != 1:
        print("height %d differs: %s" % (h, hashes), file=sys.stderr); sys.exit(1)
print("headers identical on %d nodes at heights 1..%d" % (len(urls), top), file=sys.stderr)
PY
}

# tb_register_agencies SUITE: one agency per city, keys in $TB_WORK/agency-I.key.
tb_register_agencies() {
  local i
  for ((i = 0; i < TB_N; i++)); do
    "$TB" agency add --config "$TB_WORK/c$i/node.ini" --agency "ag$i" --name "机构$i" \
      --types provident.deposit,police.no-criminal-record,social-security.card \
      --out "$TB_WORK/agency-$i.key" --wait-ms 60000 >"$TB_WORK/agency-$i.out" 2>&1 ||
      { cat "$TB_WORK/agency-$i.out" >&2; tb_fail "agency add in city $i"; }
  done
}
