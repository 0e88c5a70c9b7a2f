#!/bin/bash
# A certificate directory as nbdkit (--tls-certificates=DIR), qemu-nbd (tls-creds-x509 dir=DIR) and
# the nbd engine (nbds://...?tls-certificates=DIR) read one, for tests and trials:
#   make-certs.sh DIR
# DIR/ca-cert.pem, a CA of its own (its key ca-key.pem beside it); server-cert.pem and
# server-key.pem for localhost and 127.0.0.1; client-cert.pem and client-key.pem, the client's key
# in PKCS#1 ("RSA PRIVATE KEY") as older tools write it. Needs Debian's openssl.
set -euo pipefail
dir=${1:?usage: make-certs.sh DIR}
command -v openssl >/dev/null || { echo "make-certs.sh: openssl is missing; install Debian's openssl" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"
exec 3>openssl.log
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca-cert.pem -days 30 \
  -subj "/CN=xen-disk-java test CA" >&3 2>&1
sign() { # who extensions key-command...
  local who=$1 ext=$2
  shift 2
  "$@" >&3 2>&1
  openssl req -new -key "$who-key.pem" -out "$who.csr" -subj "/CN=$who" >&3 2>&1
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n%s\n' "$ext" >"$who.ext"
  openssl x509 -req -in "$who.csr" -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial -out "$who-cert.pem" \
    -days 30 -extfile "$who.ext" >&3 2>&1
}
sign server "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth" openssl genpkey -algorithm RSA -out server-key.pem
sign client "extendedKeyUsage=clientAuth" openssl genrsa -traditional -out client-key.pem 2048
chmod 600 ./*-key.pem
