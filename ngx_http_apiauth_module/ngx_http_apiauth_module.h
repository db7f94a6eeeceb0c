
/*
 * Copyright (C) ngx_http_apiauth_module authors
 */


#ifndef _NGX_HTTP_APIAUTH_MODULE_H_INCLUDED_
#define _NGX_HTTP_APIAUTH_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "apiauth_secret.h"
#include "apiauth_key.h"
#include "apiauth_ip.h"
#include "apiauth_scope.h"
#include "apiauth_sign.h"


extern ngx_module_t  ngx_http_apiauth_module;


#endif /* _NGX_HTTP_APIAUTH_MODULE_H_INCLUDED_ */
