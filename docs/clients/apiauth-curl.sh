#!/bin/sh
# Signs a request with curl and openssl, as docs/signature.md describes.
#
#   APIAUTH_ACCESS_KEY=AK APIAUTH_SECRET=S apiauth-curl.sh http://host:port/path [curl options]
#
# A GET; with APIAUTH_BODY_FILE=FILE, a POST (APIAUTH_METHOD=PUT, ... for
# another method) of the file's bytes, their SHA-256 signed as
# X-Apiauth-Content-SHA256.
#
# The path and query are sent as given and signed in their canonical form
# (percent-encoding normalised, parameters sorted), as docs/signature.md
# says.
# APIAUTH_DATE and APIAUTH_NONCE, when set, replace the current time and a
# random nonce (t/034 checks the client against t/data's vectors with them).
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

# the secret's characters are the HMAC key, padded with zero bytes to one
# SHA-256 block (an issued secret fills it: 64 hex digits)
case $APIAUTH_SECRET in
    *[!\ -~]*) echo "apiauth-curl.sh: APIAUTH_SECRET is not printable ASCII" >&2
               exit 2 ;;
esac
[ ${#APIAUTH_SECRET} -le 64 ] || {
    echo "apiauth-curl.sh: APIAUTH_SECRET is longer than 64 characters" >&2
    exit 2
}

# the key XOR 0x36 and XOR 0x5c, as printf escapes
ipad=
opad=
k=$APIAUTH_SECRET
n=0
while [ $n -lt 64 ]; do
    o=0
    if [ -n "$k" ]; then
        c=${k%"${k#?}"}
        k=${k#?}
        o=$(printf '%d' "'$c")
    fi
    ipad=$ipad$(printf '\\%03o' $((o ^ 54)))
    opad=$opad$(printf '\\%03o' $((o ^ 92)))
    n=$((n + 1))
done

# nor in the environment of the programs run from here on
unset APIAUTH_SECRET

# RFC 3986 6.2.2.1 and 6.2.2.2 on each line: %xx upper-cased, %xx of an
# unreserved character decoded
NORMALISE='
function norm(s,    out, i, h, v, c) {
    out = ""
    while ((i = index(s, "%")) > 0) {
        out = out substr(s, 1, i - 1)
        h = toupper(substr(s, i + 1, 2))
        if (h ~ /^[0-9A-F][0-9A-F]$/) {
            v = (index(HEX, substr(h, 1, 1)) - 1) * 16 + index(HEX, substr(h, 2, 1)) - 1
            c = sprintf("%c", v)
            out = out ((v >= 45 && v < 127 && index(UNRESERVED, c)) ? c : "%" h)
            s = substr(s, i + 3)
        } else {
            out = out "%"
            s = substr(s, i + 1)
        }
    }
    return out s
}
BEGIN {
    HEX = "0123456789ABCDEF"
    UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
}'

canonical_path() {
    printf '%s\n' "$1" | LC_ALL=C awk "$NORMALISE"' { print norm($0) }'
}

# parts split on "&", empty ones dropped, each at its first "=", normalised,
# sorted by name then value, bytewise, joined again
canonical_query() {
    printf '%s\n' "$1" | tr '&' '\n' | LC_ALL=C awk "$NORMALISE"'
        length($0) {
            i = index($0, "=")
            if (i) print norm(substr($0, 1, i - 1)) "\t" norm(substr($0, i + 1))
            else print norm($0) "\t"
        }' | LC_ALL=C sort -t "$(printf '\t')" -k1,1 -k2,2 \
       | LC_ALL=C awk -F '\t' '{ printf "%s%s=%s", (NR > 1 ? "&" : ""), $1, $2 }'
}

date=${APIAUTH_DATE:-$(date +%s)}
nonce=${APIAUTH_NONCE:-$(openssl rand -hex 16)}
method=${APIAUTH_METHOD:-GET}
body=${APIAUTH_BODY_FILE:-}

# the body's hash is a signed header, and the canonical request's payload
if [ -n "$body" ]; then
    [ -f "$body" ] && [ -r "$body" ] || {
        echo "apiauth-curl.sh: cannot read APIAUTH_BODY_FILE \"$body\"" >&2
        exit 2
    }
    method=${APIAUTH_METHOD:-POST}
    payload=$(openssl dgst -sha256 -hex < "$body" | sed 's/^.* //')
    signed="host;x-apiauth-content-sha256;x-apiauth-date;x-apiauth-nonce"
    headers=$(printf 'host:%s\nx-apiauth-content-sha256:%s\nx-apiauth-date:%s\nx-apiauth-nonce:%s' \
        "$host" "$payload" "$date" "$nonce")
    set -- "$@" -X "$method" -H "X-Apiauth-Content-SHA256: $payload" \
        --data-binary "@$body"
else
    payload=UNSIGNED-PAYLOAD
    signed="host;x-apiauth-date;x-apiauth-nonce"
    headers=$(printf 'host:%s\nx-apiauth-date:%s\nx-apiauth-nonce:%s' \
        "$host" "$date" "$nonce")
    set -- "$@" -X "$method"
fi

creq=$(printf '%s\n%s\n%s\n%s\n%s\n%s' "$method" \
    "$(canonical_path "$path")" "$(canonical_query "$query")" "$headers" \
    "$signed" "$payload")
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
