
/*
 * Copyright (C) ngx_http_apiauth_module authors
 */


#include "apiauth_jwt_key.h"
