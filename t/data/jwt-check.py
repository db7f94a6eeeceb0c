#!/usr/bin/python3

# Checks every jwt-* vector apart from the module's C code, with two tools:
# Debian's python3-jwt (2.6.0) and the openssl command.  Run it as
# /usr/bin/python3 t/data/jwt-check.py; it prints one line per check and
# exits non-zero if any fails.

import base64
import os
import subprocess
import sys
import tempfile

import jwt
from cryptography.hazmat.primitives import serialization

DIR = os.path.dirname(os.path.abspath(__file__))

# file, algorithm, public key PEM (None: HMAC), payload is JSON
VECTORS = [
    ("jwt-rfc7515-a1.txt", "HS256", None, True),
    ("jwt-rfc7515-a2.txt", "RS256", "jwt-rfc7515-a2.pem", True),
    ("jwt-rfc7515-a3.txt", "ES256", "jwt-rfc7515-a3.pem", True),
    ("jwt-rfc8037-a4.txt", "EdDSA", "jwt-rfc8037-a4.pem", False),
    ("jwt-minted-hs256.txt", "HS256", None, True),
    ("jwt-minted-eddsa.txt", "EdDSA", "jwt-rfc8037-a4.pem", True),
    ("jwt-minted-es256.txt", "ES256", "jwt-minted-es256.pem", True),
]

failed = 0


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def fields(name):
    f = {}
    with open(os.path.join(DIR, name)) as fh:
        for line in fh:
            if line.startswith("#") or not line.strip():
                continue
            k, v = line.rstrip("\n").split(" ", 1)
            f[k] = v
    return f


def check(ok, what):
    global failed
    print(("ok" if ok else "NOT OK") + " - " + what)
    if not ok:
        failed += 1


def der_sig(raw):
    n = len(raw) // 2

    def integer(b):
        b = b.lstrip(b"\0") or b"\0"
        if b[0] & 0x80:
            b = b"\0" + b
        return b"\x02" + bytes([len(b)]) + b

    body = integer(raw[:n]) + integer(raw[n:])
    return b"\x30" + bytes([len(body)]) + body


def openssl(alg, signed, sig, key, pem):
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "data")
        sigf = os.path.join(d, "sig")
        with open(data, "wb") as f:
            f.write(signed)
        if alg == "HS256":
            out = subprocess.run(
                ["openssl", "dgst", "-sha256", "-mac", "HMAC", "-macopt",
                 "hexkey:" + key.hex(), "-binary", data],
                capture_output=True).stdout
            return out == sig
        with open(sigf, "wb") as f:
            f.write(der_sig(sig) if alg == "ES256" else sig)
        if alg == "EdDSA":
            cmd = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pem,
                   "-rawin", "-in", data, "-sigfile", sigf]
        else:
            cmd = ["openssl", "dgst", "-sha256", "-verify", pem,
                   "-signature", sigf, data]
        return subprocess.run(cmd, capture_output=True).returncode == 0


for name, alg, pem, is_jwt in VECTORS:
    f = fields(name)
    token = f["token"]
    signed, sig = token.rsplit(".", 1)
    if pem is None:
        key = b64d(f["k"]) if "k" in f else f["secret"].encode()
        pkey = None
    else:
        pem = os.path.join(DIR, pem)
        with open(pem, "rb") as fh:
            pkey = serialization.load_pem_public_key(fh.read())
        key = pkey
    try:
        if is_jwt:
            jwt.decode(token, key, algorithms=[alg],
                       options={"verify_exp": False, "verify_aud": False,
                                "verify_nbf": False, "verify_iat": False})
        else:
            jwt.PyJWS().decode(token, key, algorithms=[alg])
        check(True, name + ": python3-jwt " + jwt.__version__ + " verifies")
    except Exception as e:
        check(False, name + ": python3-jwt: " + repr(e))
    check(openssl(alg, signed.encode(), b64d(sig),
                  key if pem is None else None, pem),
          name + ": openssl verifies")

sys.exit(1 if failed else 0)
