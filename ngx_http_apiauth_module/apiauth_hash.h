
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Keyed hashing for the shared memory tables (no nginx headers): with a
 * seed drawn when a zone is made, nobody can choose accessKeys or nonces
 * that share a bucket.
 */


#ifndef _APIAUTH_HASH_H_INCLUDED_
#define _APIAUTH_HASH_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/* SipHash-2-4 (Aumasson, Bernstein) of p with a 128-bit key */
uint64_t apiauth_siphash(const uint64_t key[2], const unsigned char *p,
    size_t len);


#endif /* _APIAUTH_HASH_H_INCLUDED_ */
