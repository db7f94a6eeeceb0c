
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Scopes, shared by the module and apiauth-ctl (no nginx headers).  The
 * store keeps each dimension (apps, interfaces) as "*" (all) or as a
 * comma-separated list of plain names.
 */


#ifndef _APIAUTH_SCOPE_H_INCLUDED_
#define _APIAUTH_SCOPE_H_INCLUDED_


#include <stddef.h>


#define APIAUTH_SCOPE_ALL      "*"


/* returns 0 when list is "*" or a comma-separated list of plain names */
int apiauth_scope_check(const unsigned char *list, size_t len);

/* returns 1 when list is "*" */
int apiauth_scope_is_all(const unsigned char *list, size_t len);

/*
 * returns 1 when the list admits name: it is "*" or holds name; an empty
 * name (a location that names no app or interface) is admitted by "*" only
 */
int apiauth_scope_match(const unsigned char *list, size_t len,
    const unsigned char *name, size_t name_len);


#endif /* _APIAUTH_SCOPE_H_INCLUDED_ */
