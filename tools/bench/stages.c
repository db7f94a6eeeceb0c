
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * make bench: nanoseconds per stage of verifying a typical signed request,
 * with the shared code the module runs; the floor is one SHA-256 of the
 * canonical request and one HMAC.
 */


#include <stdio.h>
#include <string.h>
#include <time.h>

#include "apiauth_crypto.h"
#include "apiauth_key.h"
#include "apiauth_secret.h"
#include "apiauth_sign.h"


#define N  200000


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


#define stage(name, body)                                                    \
    do {                                                                     \
        double  t0 = now();                                                  \
        for (i = 0; i < N; i++) { body; }                                    \
        printf("  %-40s %7.0f ns\n", name, (now() - t0) / N * 1e9);          \
    } while (0)


static void
sink_null(void *data, const unsigned char *p, size_t len)
{
    (void) p;
    *(size_t *) data += len;
}


int
main(void)
{
    int                i;
    size_t             total;
    unsigned char      mac[32], md[32], hex[64], creq[4096], buf[512];
    apiauth_auth_t     auth;
    apiauth_param_t    params[APIAUTH_QUERY_PARAMS_MAX];
    apiauth_request_t  req;
    apiauth_scratch_t  scratch;
    apiauth_hmac_key_t  hk;

    static const char  authorization[] =
        "APIAUTH-HMAC-SHA256 Credential=BenchKey0001, SignedHeaders="
        "host;x-apiauth-date;x-apiauth-nonce, Signature="
        "4846d1e3ecb3741f4fd7399f6ff1fa8a3e6655e9bc8fedb3751c4846b18d3840";
    static const char  secret[] =
        "0074fab64fb1e38d40ae8e8b7c4c68289d49e48df4b2674c8046a56729c78688";

    apiauth_header_t  headers[] = {
        { (unsigned char *) "host", 4, (unsigned char *) "127.0.0.1:8080",
          14 },
        { (unsigned char *) "x-apiauth-date", 14,
          (unsigned char *) "1795458029", 10 },
        { (unsigned char *) "x-apiauth-nonce", 15,
          (unsigned char *) "bench017954580290000001", 23 },
        { (unsigned char *) "authorization", 13,
          (unsigned char *) authorization, sizeof(authorization) - 1 }
    };

    memset(&req, 0, sizeof(req));
    req.method = (unsigned char *) "GET";
    req.method_len = 3;
    req.path = (unsigned char *) "/sig/orders";
    req.path_len = 11;
    req.query = (unsigned char *) "";
    req.headers = headers;
    req.nheaders = 4;
    req.signed_headers = (unsigned char *) "host;x-apiauth-date;x-apiauth-nonce";
    req.signed_headers_len = 35;

    scratch.buf = buf;
    scratch.params = params;
    scratch.creq = creq;
    scratch.creq_cap = sizeof(creq);

    printf("# stages of verifying a signed GET (%zu-byte Authorization)\n",
           sizeof(authorization) - 1);

    stage("Authorization parse",
          apiauth_auth_parse((unsigned char *) authorization,
                             sizeof(authorization) - 1, &auth));
    stage("accessKey check",
          apiauth_access_key_check((unsigned char *) "BenchKey0001", 12));
    stage("nonce check",
          apiauth_nonce_check((unsigned char *) "bench017954580290000001",
                              23));
    stage("SignedHeaders check",
          apiauth_signed_headers_check(req.signed_headers,
                                       req.signed_headers_len, headers, 4));
    stage("canonical request bound",
          total = apiauth_canonical_request_bound(&req));
    total = 0;
    stage("canonical request (counting sink)",
          apiauth_canonical_request(&req, &scratch, sink_null, &total));
    stage("SHA-256 of 160 bytes", apiauth_sha256(creq, 160, md));
    stage("hex of 32 bytes", apiauth_hex(hex, md, 32));
    stage("HMAC-SHA256 of 110 bytes",
          apiauth_hmac_sha256((unsigned char *) secret, 64, creq, 110, mac));
    apiauth_hmac_key(&hk, (unsigned char *) secret, 64);
    stage("HMAC-SHA256 of 110 bytes, key prepared",
          apiauth_hmac_sha256_keyed(&hk, creq, 110, mac));
    stage("MAC compare", apiauth_mac_compare(mac, 32, auth.signature, 32));
    stage("whole apiauth_sign()",
          apiauth_sign(&req, &scratch, headers[1].value, 10,
                       headers[2].value, 23, (unsigned char *) secret, 64,
                       mac));
    stage("whole apiauth_sign_keyed() (as nginx)",
          apiauth_sign_keyed(&req, &scratch, headers[1].value, 10,
                             headers[2].value, 23, &hk, mac));

    return total == 0;
}
