#!/bin/sh
# Signs a GET request with curl and openssl, as docs/signature.md describes.
#
#   APIAUTH_ACCESS_KEY=AK APIAUTH_SECRET=S apiauth-curl.sh http://host:port/path [curl options]
#
# The path is sent as given; add a query to the URL only in its canonical
# form (parameters sorted by name, percent-encoding upper case).

set -eu

url=$1
shift

rest=${url#*://}
host=${rest%%/*}
target=/${rest#*/}
[ "$target" = "/$rest" ] && target=/
path=${target%%\?*}
query=
case $target in *\?*) query=${target#*\?} ;; esac

date=$(date +%s)
nonce=$(openssl rand -hex 16)
signed="host;x-apiauth-date;x-apiauth-nonce"

creq=$(printf 'GET\n%s\n%s\nhost:%s\nx-apiauth-date:%s\nx-apiauth-nonce:%s\n%s\nUNSIGNED-PAYLOAD' \
    "$path" "$query" "$host" "$date" "$nonce" "$signed")
hash=$(printf '%s' "$creq" | openssl dgst -sha256 -hex | sed 's/^.* //')
sts=$(printf 'APIAUTH-HMAC-SHA256\n%s\n%s\n%s' "$date" "$nonce" "$hash")
sig=$(printf '%s' "$sts" | openssl dgst -sha256 -hmac "$APIAUTH_SECRET" -hex \
      | sed 's/^.* //')

exec curl -sS "$@" \
    -H "X-Apiauth-Date: $date" \
    -H "X-Apiauth-Nonce: $nonce" \
    -H "Authorization: APIAUTH-HMAC-SHA256 Credential=$APIAUTH_ACCESS_KEY, SignedHeaders=$signed, Signature=$sig" \
    "$url"
