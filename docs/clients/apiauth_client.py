#!/usr/bin/env python3
"""A minimal APIAUTH-HMAC-SHA256 client (standard library only).

    APIAUTH_ACCESS_KEY=AK APIAUTH_SECRET=S apiauth_client.py METHOD URL [BODY]

Prints the status and the body of the response.
"""
import hashlib, hmac, os, re, sys, time, urllib.error, urllib.parse, urllib.request

UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def normalise(s):
    def fix(m):
        c = chr(int(m.group(1), 16))
        return c if c in UNRESERVED else "%" + m.group(1).upper()
    return re.sub(r"%([0-9A-Fa-f]{2})", fix, s)


def signed_headers(access_key, secret, method, url, body=None):
    u = urllib.parse.urlsplit(url)
    query = sorted((normalise(n), normalise(v)) for n, _, v in
                   (p.partition("=") for p in u.query.split("&") if p))
    headers = {"host": u.netloc,
               "x-apiauth-date": str(int(time.time())),
               "x-apiauth-nonce": os.urandom(16).hex()}
    if body is not None:
        headers["x-apiauth-content-sha256"] = hashlib.sha256(body).hexdigest()
    names = sorted(headers)
    creq = "\n".join([method, normalise(u.path or "/"),
                      "&".join(f"{n}={v}" for n, v in query),
                      "\n".join(f"{n}:{headers[n]}" for n in names),
                      ";".join(names),
                      headers.get("x-apiauth-content-sha256", "UNSIGNED-PAYLOAD")])
    sts = "\n".join(["APIAUTH-HMAC-SHA256", headers["x-apiauth-date"],
                     headers["x-apiauth-nonce"],
                     hashlib.sha256(creq.encode()).hexdigest()])
    sig = hmac.new(secret.encode(), sts.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (f"APIAUTH-HMAC-SHA256 Credential={access_key}, "
                                f"SignedHeaders={';'.join(names)}, Signature={sig}")
    del headers["host"]  # urllib sends the same Host itself
    return headers


def main():
    method, url = sys.argv[1], sys.argv[2]
    body = sys.argv[3].encode() if len(sys.argv) > 3 else None
    headers = signed_headers(os.environ["APIAUTH_ACCESS_KEY"],
                             os.environ["APIAUTH_SECRET"], method, url, body)
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req) as resp:
            print(resp.status)
            print(resp.read().decode())
    except urllib.error.HTTPError as e:
        print(e.code)
        print(e.read().decode())


if __name__ == "__main__":
    main()
