#!/bin/sh
# A private CA, the Redis server's certificate and one client certificate per remote adapter.
#
#   deploy/redis/make-certs.sh OUT_DIR SERVER_SANS [CLIENT ...]
#   deploy/redis/make-certs.sh deploy/secrets/tls "DNS:gateway.example,IP:10.0.0.5" adapter-mt5-global adapter-nt8
#
# OUT_DIR gets ca.crt, ca.key, redis.crt, redis.key and CLIENT.crt / CLIENT.key per client (keys 0600).
# An existing ca.key is reused, so clients can be added later. Keep ca.key off the servers once done.
# Certificates last 825 days; re-run before they expire (the server and clients reload on restart).
set -eu
out=${1:?usage: make-certs.sh OUT_DIR SERVER_SANS [CLIENT ...]}
sans=${2:?usage: make-certs.sh OUT_DIR SERVER_SANS [CLIENT ...]}
shift 2
days=825
umask 077
mkdir -p "$out"
key() { openssl ecparam -name prime256v1 -genkey -noout -out "$1" 2>/dev/null; }
if [ ! -f "$out/ca.key" ]; then
  key "$out/ca.key"
  openssl req -x509 -new -key "$out/ca.key" -sha256 -days 3650 -subj "/CN=NEXUS mesh Redis CA" -out "$out/ca.crt"
fi
sign() {  # name cn extensions
  key "$out/$1.key"
  openssl req -new -key "$out/$1.key" -subj "/CN=$2" -out "$out/$1.csr"
  printf '%s\n' "$3" > "$out/$1.ext"
  openssl x509 -req -in "$out/$1.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial -days "$days" \
    -sha256 -extfile "$out/$1.ext" -out "$out/$1.crt" 2>/dev/null
  rm -f "$out/$1.csr" "$out/$1.ext"
}
sign redis "nexus-redis" "subjectAltName=$sans
extendedKeyUsage=serverAuth
keyUsage=digitalSignature"
for client in "$@"; do
  sign "$client" "$client" "extendedKeyUsage=clientAuth
keyUsage=digitalSignature"
done
chmod 644 "$out"/*.crt
echo "certificates in $out: ca.crt redis.crt $*"
