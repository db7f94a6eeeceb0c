#!/bin/sh
# Signs a GET request with curl and openssl, as docs/signature.md describes.
#
#   APIAUTH_ACCESS_KEY=AK APIAUTH_SECRET=S apiauth-curl.sh http://host:port/path [curl options]
#
# The path is sent as given; add a query to the URL only in its canonical
# form (parameters sorted by name, percent-encoding upper case).
#
# The secret never appears on a command line, where ps would show it to
# every local user: openssl only hashes what it reads on stdin, and the
# HMAC's padded keys (RFC 2104) are computed and written by the shell's
# builtins (printf, arithmetic), which run no program.

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

# the secret's 64 characters are the HMAC key: one SHA-256 block, as is
case $APIAUTH_SECRET in
    *[!0-9a-f]*) echo "apiauth-curl.sh: APIAUTH_SECRET is not lower-case hex" >&2
                 exit 2 ;;
esac
[ ${#APIAUTH_SECRET} -eq 64 ] || {
    echo "apiauth-curl.sh: APIAUTH_SECRET must hold 64 characters" >&2
    exit 2
}

# the key XOR 0x36 and XOR 0x5c, as printf escapes
ipad=
opad=
k=$APIAUTH_SECRET
while [ -n "$k" ]; do
    c=${k%"${k#?}"}
    k=${k#?}
    o=$(printf '%d' "'$c")
    ipad=$ipad$(printf '\\%03o' $((o ^ 54)))
    opad=$opad$(printf '\\%03o' $((o ^ 92)))
done

# nor in the environment of the programs run from here on
unset APIAUTH_SECRET

date=$(date +%s)
nonce=$(openssl rand -hex 16)
signed="host;x-apiauth-date;x-apiauth-nonce"

creq=$(printf 'GET\n%s\n%s\nhost:%s\nx-apiauth-date:%s\nx-apiauth-nonce:%s\n%s\nUNSIGNED-PAYLOAD' \
    "$path" "$query" "$host" "$date" "$nonce" "$signed")
hash=$(printf '%s' "$creq" | openssl dgst -sha256 -hex | sed 's/^.* //')
sts=$(printf 'APIAUTH-HMAC-SHA256\n%s\n%s\n%s' "$date" "$nonce" "$hash")

# HMAC = SHA-256(opad key, SHA-256(ipad key, message))
sig=$( { printf "$opad"
         { printf "$ipad"; printf '%s' "$sts"; } | openssl dgst -sha256 -binary
       } | openssl dgst -sha256 -hex | sed 's/^.* //')

exec curl -sS "$@" \
    -H "X-Apiauth-Date: $date" \
    -H "X-Apiauth-Nonce: $nonce" \
    -H "Authorization: APIAUTH-HMAC-SHA256 Credential=$APIAUTH_ACCESS_KEY, SignedHeaders=$signed, Signature=$sig" \
    "$url"
