#!/usr/bin/env python3
"""A minimal APIAUTH-HMAC-SHA256 client (standard library only).

    APIAUTH_ACCESS_KEY=AK APIAUTH_SECRET=S apiauth_client.py METHOD URL [BODY]
    APIAUTH_ACCESS_KEY=AK APIAUTH_SECRET=S apiauth_client.py --headers METHOD URL [BODY]

Prints the status and the body of the response; with --headers, prints the
signed request's headers ("Name: value", Host first) and sends nothing, for
another program (curl -H) to send, once or, to see a replay refused, twice.
A body is signed (X-Apiauth-Content-SHA256). Header values and the body are
signed as their UTF-8 bytes.
"""
import hashlib, hmac, os, re, sys, time, urllib.error, urllib.parse, urllib.request

UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def normalise(s):
    """%xx upper-cased, %xx of an unreserved character decoded (RFC 3986)."""
    def fix(m):
        c = chr(int(m.group(1), 16))
        return c if c in UNRESERVED else "%" + m.group(1).upper()
    return re.sub(r"%([0-9A-Fa-f]{2})", fix, s)


def fold(v):
    return re.sub(r"[ \t]+", " ", v.strip(" \t"))


def authorization(access_key, secret, method, target, headers):
    """The Authorization value of a request: target as sent (path?query),
    headers the (name, value) pairs as sent, every one of them signed."""
    path, _, query = target.partition("?")
    pairs = sorted(((normalise(n), normalise(v)) for n, _, v in
                    (p.partition("=") for p in query.split("&") if p)),
                   key=lambda p: (p[0].encode(), p[1].encode()))
    names = sorted({n.lower() for n, _ in headers})
    lines = [n + ":" + ",".join(fold(v) for m, v in headers if m.lower() == n)
             for n in names]
    payload = next((fold(v) for n, v in headers
                    if n.lower() == "x-apiauth-content-sha256"), "UNSIGNED-PAYLOAD")
    creq = "\n".join([method, normalise(path),
                      "&".join(f"{n}={v}" for n, v in pairs),
                      "\n".join(lines), ";".join(names), payload])
    date = next(v for n, v in headers if n.lower() == "x-apiauth-date")
    nonce = next(v for n, v in headers if n.lower() == "x-apiauth-nonce")
    sts = "\n".join(["APIAUTH-HMAC-SHA256", fold(date), fold(nonce),
                     hashlib.sha256(creq.encode()).hexdigest()])
    sig = hmac.new(secret.encode(), sts.encode(), hashlib.sha256).hexdigest()
    return (f"APIAUTH-HMAC-SHA256 Credential={access_key}, "
            f"SignedHeaders={';'.join(names)}, Signature={sig}")


def signed_headers(access_key, secret, method, url, body=None):
    """The headers of a signed request for url, Host first."""
    u = urllib.parse.urlsplit(url)
    target = (u.path or "/") + ("?" + u.query if u.query else "")
    headers = [("Host", u.netloc.rpartition("@")[2]),
               ("X-Apiauth-Date", str(int(time.time()))),
               ("X-Apiauth-Nonce", os.urandom(16).hex())]
    if body is not None:
        headers.append(("X-Apiauth-Content-SHA256", hashlib.sha256(body).hexdigest()))
    return headers + [("Authorization",
                       authorization(access_key, secret, method, target, headers))]


def main():
    args = sys.argv[1:]
    only_headers = bool(args) and args[0] == "--headers"
    if only_headers:
        args = args[1:]
    if len(args) not in (2, 3):
        sys.exit(__doc__)
    method, url = args[0], args[1]
    body = args[2].encode() if len(args) > 2 else None
    headers = signed_headers(os.environ["APIAUTH_ACCESS_KEY"],
                             os.environ["APIAUTH_SECRET"], method, url, body)
    if only_headers:
        for n, v in headers:
            print(f"{n}: {v}")
        return
    # urllib sends the same Host itself
    req = urllib.request.Request(url, data=body, method=method,
                                 headers=dict(headers[1:]))
    try:
        with urllib.request.urlopen(req) as resp:
            print(resp.status)
            print(resp.read().decode())
    except urllib.error.HTTPError as e:
        print(e.code)
        print(e.read().decode())


if __name__ == "__main__":
    main()
