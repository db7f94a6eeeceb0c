
/*
 * Copyright (C) ngx_http_apiauth_module authors
 */


#include <string.h>

#include "apiauth_jwt.h"


static const char  *apiauth_jwt_algs[] = {
    NULL, "HS256", "RS256", "ES256", "EdDSA"
};


int
apiauth_jwt_alg(const unsigned char *name, size_t len)
{
    int  i;

    for (i = APIAUTH_JWT_HS256; i <= APIAUTH_JWT_EDDSA; i++) {
        if (len == strlen(apiauth_jwt_algs[i])
            && memcmp(name, apiauth_jwt_algs[i], len) == 0)
        {
            return i;
        }
    }

    return -1;
}


const char *
apiauth_jwt_alg_name(int alg)
{
    return (alg >= APIAUTH_JWT_HS256 && alg <= APIAUTH_JWT_EDDSA)
           ? apiauth_jwt_algs[alg] : NULL;
}
