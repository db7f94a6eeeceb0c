#!/usr/bin/python3

# Mints the jwt-minted-* vectors with Debian's python3-jwt (2.6.0) and
# python3-cryptography, apart from the module's C code: run it as
# /usr/bin/python3 t/data/jwt-mint.py (`python3` may be a shim without
# the modules).  EdDSA signs with RFC 8037 A.1's private key, so that token
# comes out the same every time; the ES256 key is made afresh, and only
# its public half is kept.  Check them with jwt-check.py.

import base64
import os

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

DIR = os.path.dirname(os.path.abspath(__file__))

# a key's accessSecret: 64 hex characters, whose text is the HMAC key
HS_SECRET = "5b2f8e1c9a7d4036b1e8f2a9c4d7e0b3a6f9c2e5d8b1a4f7e0c3b6a9d2f5e8c1"

# RFC 8037 A.1: the Ed25519 private key's d
ED_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def write(name, comment, lines):
    with open(os.path.join(DIR, name), "w") as f:
        for c in comment:
            f.write("# " + c + "\n")
        for k, v in lines:
            f.write(k + " " + v + "\n")


def main():
    hs = jwt.encode(
        {"sub": "AKIDEXAMPLE0001", "iss": "https://issuer.example",
         "aud": ["other.example", "api.example"], "iat": 1764547200,
         "nbf": 1764547200, "exp": 1764550800, "jti": "6f1c2a90",
         "tenant": "acme", "n": 12.5, "roles": ["read", "write"],
         "caf\u00e9": "cr\u00e8me \U0001F600", "admin": False},
        HS_SECRET, algorithm="HS256",
        headers={"kid": "AKIDEXAMPLE0001"})
    write("jwt-minted-hs256.txt",
          ["HS256, minted by jwt-mint.py (python3-jwt 2.6.0, apart from the",
           "C code): secret is the HMAC key's text, as a key's accessSecret;",
           "the payload's non-ASCII names and values are \\u escapes"],
          [("token", hs), ("secret", HS_SECRET)])

    ed = ed25519.Ed25519PrivateKey.from_private_bytes(b64d(ED_D))
    eddsa = jwt.encode({"sub": "AKIDEXAMPLE0002", "exp": 1764550800},
                       ed, algorithm="EdDSA")
    write("jwt-minted-eddsa.txt",
          ["EdDSA (Ed25519), minted by jwt-mint.py (python3-jwt 2.6.0) with",
           "RFC 8037 A.1's private key: a JWT whose payload is JSON; the",
           "public key is jwt-rfc8037-a4.pem"],
          [("token", eddsa)])

    es = ec.generate_private_key(ec.SECP256R1())
    es256 = jwt.encode({"sub": "AKIDEXAMPLE0003", "exp": 1764550800,
                        "aud": "api.example"},
                       es, algorithm="ES256",
                       headers={"kid": "AKIDEXAMPLE0003"})
    pem = es.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    with open(os.path.join(DIR, "jwt-minted-es256.pem"), "wb") as f:
        f.write(pem)
    write("jwt-minted-es256.txt",
          ["ES256, minted by jwt-mint.py (python3-jwt 2.6.0) with a fresh",
           "P-256 key, whose public half is jwt-minted-es256.pem"],
          [("token", es256)])


main()
