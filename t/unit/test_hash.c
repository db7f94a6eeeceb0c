
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * SipHash-2-4 (apiauth_hash.h) against the values of its paper (key
 * 00..0f, messages 00..n-1) on a little-endian CPU, and the key mattering
 * at every length to 64.
 */


#include <stdint.h>
#include <string.h>

#include "apiauth_hash.h"
#include "tap.h"


static const uint64_t  key[2] = {
    0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL
};


int
main(void)
{
    size_t         i;
    uint64_t       other[2], h;
    unsigned char  m[64];
    int            little;

    static const struct {
        size_t    len;
        uint64_t  want;
    } paper[] = {
        { 0, 0x726fdb47dd0e0e31ULL },
        { 1, 0x74f839c593dc67fdULL },
        { 7, 0xab0200f58b01d137ULL },
        { 8, 0x93f5f5799a932462ULL },
        { 15, 0xa129ca6149be45e5ULL },
        { 63, 0x958a324ceb064572ULL },
    };

    for (i = 0; i < sizeof(m); i++) {
        m[i] = (unsigned char) i;
    }

    h = 1;
    little = *(unsigned char *) &h == 1;

    for (i = 0; i < sizeof(paper) / sizeof(paper[0]); i++) {
        h = apiauth_siphash(key, m, paper[i].len);
        ok(!little || h == paper[i].want,
           "SipHash-2-4 of %zu bytes: %016llx%s", paper[i].len,
           (unsigned long long) h, little ? "" : " (big-endian: not compared)");
    }

    other[0] = key[0];
    other[1] = key[1] ^ 1;

    for (i = 0; i <= sizeof(m); i++) {
        if (apiauth_siphash(key, m, i) == apiauth_siphash(other, m, i)) {
            break;
        }
    }

    ok(i > sizeof(m), "another key, another hash, at every length to 64");

    return done_testing();
}
