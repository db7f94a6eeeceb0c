
/*
 * Copyright (C) ngx_http_apiauth_module authors
 */


#include <string.h>

#include "apiauth_hash.h"


/*
 * the message is read in 64-bit words as the CPU stores them: the
 * reference values on little-endian CPUs, a hash as good on any other
 */

#define apiauth_rotl(x, b)                                                   \
    (uint64_t) (((x) << (b)) | ((x) >> (64 - (b))))

#define apiauth_sipround(v0, v1, v2, v3)                                     \
    v0 += v1; v1 = apiauth_rotl(v1, 13); v1 ^= v0;                           \
    v0 = apiauth_rotl(v0, 32);                                               \
    v2 += v3; v3 = apiauth_rotl(v3, 16); v3 ^= v2;                           \
    v0 += v3; v3 = apiauth_rotl(v3, 21); v3 ^= v0;                           \
    v2 += v1; v1 = apiauth_rotl(v1, 17); v1 ^= v2;                           \
    v2 = apiauth_rotl(v2, 32)


uint64_t
apiauth_siphash(const uint64_t key[2], const unsigned char *p, size_t len)
{
    size_t    i, n;
    uint64_t  v0, v1, v2, v3, m, b;

    v0 = key[0] ^ 0x736f6d6570736575ULL;
    v1 = key[1] ^ 0x646f72616e646f6dULL;
    v2 = key[0] ^ 0x6c7967656e657261ULL;
    v3 = key[1] ^ 0x7465646279746573ULL;

    b = (uint64_t) len << 56;
    n = len & ~(size_t) 7;

    for (i = 0; i < n; i += 8) {
        memcpy(&m, p + i, 8);
        v3 ^= m;
        apiauth_sipround(v0, v1, v2, v3);
        apiauth_sipround(v0, v1, v2, v3);
        v0 ^= m;
    }

    for (i = 0; i < (len & 7); i++) {
        b |= (uint64_t) p[n + i] << (8 * i);
    }

    v3 ^= b;
    apiauth_sipround(v0, v1, v2, v3);
    apiauth_sipround(v0, v1, v2, v3);
    v0 ^= b;

    v2 ^= 0xff;
    apiauth_sipround(v0, v1, v2, v3);
    apiauth_sipround(v0, v1, v2, v3);
    apiauth_sipround(v0, v1, v2, v3);
    apiauth_sipround(v0, v1, v2, v3);

    return v0 ^ v1 ^ v2 ^ v3;
}
