# Sourced by scripts/compose-test.sh when COMPOSE_SECURE=1: docker-compose.secure.yml for real.
# Uses what compose-test.sh set up: compose, project, secrets_dir (exported as GREGOR_SECRETS_DIR),
# readiness_wait_s, log, fail, wait_healthy, brokers_listed, build_s, script_start.

secure_compose_test() {
  bash scripts/compose-secure-certs.sh "$secrets_dir" >/dev/null
  log "certificates and the admin password made in $secrets_dir (scripts/compose-secure-certs.sh)"
  local host_kcat=(kcat -F "$secrets_dir/client.properties")
  local network_properties=/etc/gregor/secrets/client-container.properties

  local up_ms
  up_ms=$(date +%s%3N)
  "${compose[@]}" up -d --no-build

  # Ready: kcat on the host, over SASL_SSL as User:admin, lists every broker at its published port.
  # Before gregor-init has stored the credentials, authentication fails and so does the listing.
  local deadline listing=
  deadline=$(($(date +%s) + readiness_wait_s))
  until listing=$("${host_kcat[@]}" -b localhost:9092 -L -m 2 2>/dev/null) &&
    brokers_listed "$listing" localhost:9092 localhost:9093 localhost:9094; do
    [ "$(date +%s)" -lt "$deadline" ] ||
      fail "kcat -L over SASL_SSL does not list every broker after ${readiness_wait_s} s: ${listing:-nothing}"
    sleep 0.5
  done
  local ready_ms=$(($(date +%s%3N) - up_ms))
  log "kcat over SASL_SSL (SCRAM-SHA-512) as User:admin sees every broker ${ready_ms} ms after up -d"
  local init_container init_exit init_log
  init_container=$("${compose[@]}" ps -q gregor-init)
  init_exit=$(docker inspect --format '{{.State.ExitCode}}' "$init_container")
  init_log=$(docker logs "$init_container" 2>&1 | tail -n 1)
  [ "$init_exit" = 0 ] || fail "gregor-init exited with $init_exit: $init_log"
  log "$init_log"
  for id in 1 2 3; do wait_healthy "gregor-$id"; done
  log "every container passes the image's HEALTHCHECK (/readyz)"

  kcat_secure_network() {
    docker run --rm -i --network "${project}_gregor" -v "$secrets_dir:/etc/gregor/secrets:ro" \
      gregor-kcat:latest -F "$network_properties" "$@"
  }
  local network_listing
  network_listing=$(kcat_secure_network -b gregor-2:19092 -L -m 5 </dev/null 2>/dev/null)
  brokers_listed "$network_listing" gregor-1:19092 gregor-2:19092 gregor-3:19092 ||
    fail "network listing over SASL_SSL: $network_listing"
  log "clients on the compose network see every broker at gregor-N:19092 over SASL_SSL"

  # Written on one side, read on the other, acks=all both ways (kcat -P exits non-zero on any failed
  # delivery). 1,000 records from the host, timed.
  local records=1000 produce_start produce_ms read_back
  produce_start=$(date +%s%3N)
  seq 1 "$records" | sed 's/^/secure-host-/' |
    "${host_kcat[@]}" -b localhost:9093 -P -t secure-host-written -X acks=all -X message.timeout.ms=30000
  produce_ms=$(($(date +%s%3N) - produce_start))
  read_back=$(kcat_secure_network -b gregor-1:19092 -C -t secure-host-written -o beginning -e -q </dev/null |
    sort -u | wc -l)
  [ "$read_back" = "$records" ] || fail "the network client read $read_back of $records records"
  printf 'from-network-1\nfrom-network-2\nfrom-network-3\n' |
    kcat_secure_network -b gregor-3:19092 -P -t secure-network-written -X acks=all -X message.timeout.ms=30000
  local read_on_host
  read_on_host=$("${host_kcat[@]}" -b localhost:9094 -C -t secure-network-written -o beginning -e -q | sort)
  [ "$read_on_host" = $'from-network-1\nfrom-network-2\nfrom-network-3' ] ||
    fail "the host client read: $read_on_host"
  log "over SASL_SSL: $records records produced on the host (acks=all, ${produce_ms} ms) and read on the network; 3 the other way round"

  # Refused: TLS without SASL credentials, a wrong password, PLAINTEXT. kcat -L exits non-zero when it
  # gets no metadata.
  local refusals=0
  if kcat -b localhost:9092 -L -m 5 -X security.protocol=SSL -X "ssl.ca.location=$secrets_dir/ca.pem" \
    >/dev/null 2>&1; then
    fail "a TLS client without SASL credentials got metadata"
  fi
  refusals=$((refusals + 1))
  if "${host_kcat[@]}" -b localhost:9092 -L -m 5 -X sasl.password=not-the-password >/dev/null 2>&1; then
    fail "a client with a wrong password got metadata"
  fi
  refusals=$((refusals + 1))
  if kcat -b localhost:9092 -L -m 5 >/dev/null 2>&1; then
    fail "a PLAINTEXT client got metadata from a SASL_SSL listener"
  fi
  refusals=$((refusals + 1))
  local failed_lines
  failed_lines=$(docker logs gregor-1 2>&1 | grep -c 'failed authentication' || true)
  [ "$failed_lines" -gt 0 ] || fail "gregor-1 logged no 'failed authentication' line"
  log "refused: no credentials, a wrong password, PLAINTEXT ($refusals clients; gregor-1 logged $failed_lines 'failed authentication' lines)"

  # The CONTROLLER listener (not published): a TLS client with the cluster's CA but no certificate of
  # its own is refused by gregor-1 (mutual TLS), from gregor-2's container on the network.
  if docker exec gregor-2 node -e "
    const tls = require('node:tls');
    const fs = require('node:fs');
    const socket = tls.connect({ host: 'gregor-1', port: 9093, servername: 'gregor-1',
      ca: fs.readFileSync('/etc/gregor/secrets/ca.pem'), ALPNProtocols: ['h2'] });
    socket.on('secureConnect', () => socket.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
    socket.on('data', () => process.exit(0));
    socket.on('error', () => process.exit(1));
    socket.on('close', () => process.exit(1));
    setTimeout(() => process.exit(1), 10000);" >/dev/null 2>&1; then
    fail "gregor-1's CONTROLLER listener answered a TLS client without a certificate"
  fi
  log "gregor-1's CONTROLLER listener refuses a TLS client without a node certificate"

  local down_start down_s
  down_start=$(date +%s)
  # gregor-init shares gregor-1's network namespace: podman refuses to remove gregor-1 before it,
  # and docker-compose 1.29 removes the containers side by side.
  "${compose[@]}" rm -fsv gregor-init
  "${compose[@]}" down -v --remove-orphans
  down_s=$(($(date +%s) - down_start))
  log "figures: image build ${build_s} s; ready over SASL_SSL ${ready_ms} ms after up -d; $records records acks=all over SASL_SSL in ${produce_ms} ms (one kcat, incl. its connect and SCRAM); down -v ${down_s} s; whole script $(($(date +%s) - script_start)) s"
  echo "compose-test (secure): 1 passed, 0 failed"
}
