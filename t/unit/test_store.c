
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * The one reader of a key record (apiauth_store.h): a record as apiauth-ctl
 * writes it is read whole; each field the module cannot do without,
 * missing or malformed, refuses the record and says why; an expiry that is
 * there is never "never".
 */


#include <stdlib.h>
#include <string.h>

#include "apiauth_key.h"
#include "apiauth_store.h"
#include "tap.h"


#define FIELDS  16


typedef struct {
    apiauth_text_t  fv[2 * FIELDS];
    size_t          n;
} fields_t;


static void
set(fields_t *f, const char *field, const char *value)
{
    size_t  i;

    for (i = 0; i < f->n; i++) {
        if (strcmp((const char *) f->fv[2 * i].data, field) == 0) {
            break;
        }
    }

    if (value == NULL) {
        if (i < f->n) {
            memmove(&f->fv[2 * i], &f->fv[2 * i + 2],
                    (f->n - i - 1) * 2 * sizeof(apiauth_text_t));
            f->n--;
        }

        return;
    }

    if (i == f->n) {
        f->n++;
    }

    f->fv[2 * i].data = (const unsigned char *) field;
    f->fv[2 * i].len = strlen(field);
    f->fv[2 * i + 1].data = (const unsigned char *) value;
    f->fv[2 * i + 1].len = strlen(value);
}


/* a record as apiauth-ctl writes it */

static void
good(fields_t *f)
{
    f->n = 0;
    set(f, "name", "Shop partner");
    set(f, "description", "");
    set(f, "salt", "00112233445566778899aabbccddeeff");
    set(f, "status", "enabled");
    set(f, "created", "1764000000");
    set(f, "updated", "1764000001");
    set(f, "apps", "shop,crm");
    set(f, "interfaces", "*");
    set(f, "ips", "10.0.0.0/8,127.0.0.1");
}


static int
parse(fields_t *f, apiauth_record_t *rec, const char **why)
{
    apiauth_ip_entry_t  ips[APIAUTH_IPS_MAX];

    return apiauth_record_parse(rec, f->fv, f->n, ips, APIAUTH_IPS_MAX, why);
}


static void
test_good(void)
{
    fields_t          f;
    const char       *why;
    apiauth_record_t  rec;

    good(&f);
    set(&f, "color", "blue");

    ok(parse(&f, &rec, &why) == 0 && why == NULL,
       "a record as apiauth-ctl writes it is read, an unknown field ignored");
    is_str(rec.name.data, rec.name.len, "Shop partner", 12, "its name");
    is_str(rec.apps.data, rec.apps.len, "shop,crm", 8, "its apps");
    ok(rec.enabled == 1, "enabled");
    ok(rec.nips == 2, "two whitelist entries parsed");
    ok(rec.expires_at == 0 && !rec.expires_malformed,
       "no expires field: never");
    ok(rec.description.data != NULL && rec.description.len == 0,
       "an empty description is there, empty");

    set(&f, "status", "disabled");
    set(&f, "ips", "");
    ok(parse(&f, &rec, &why) == 0 && rec.enabled == 0 && rec.nips == 0,
       "disabled, an empty whitelist");
}


static void
test_refused(void)
{
    int               rc;
    size_t            i;
    fields_t          f;
    const char       *why;
    char              long_name[APIAUTH_KEY_NAME_MAX + 2];
    char             *many;
    apiauth_record_t  rec;

    static const struct {
        const char  *field;
        const char  *value;             /* NULL: the field is removed */
        const char  *why;               /* a word the reason holds */
    } cases[] = {
        { "salt", NULL, "salt" },
        { "salt", "00112233445566778899aabbccddeef", "salt" },
        { "salt", "00112233445566778899AABBCCDDEEFF", "salt" },
        { "status", NULL, "status" },
        { "status", "Enabled", "status" },
        { "status", "", "status" },
        { "apps", NULL, "apps" },
        { "apps", "", "apps" },
        { "apps", "shop,,crm", "apps" },
        { "apps", "sh op", "apps" },
        { "interfaces", NULL, "interfaces" },
        { "interfaces", "all", NULL },
        { "ips", NULL, "ips" },
        { "ips", "300.1.1.1", "whitelist" },
        { "ips", "10.0.0.1,", "whitelist" },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        good(&f);
        set(&f, cases[i].field, cases[i].value);

        /* parsed before ok() reads why among its arguments */
        rc = parse(&f, &rec, &why);

        if (cases[i].why == NULL) {
            ok(rc == 0, "%s \"%s\" is read", cases[i].field, cases[i].value);
            continue;
        }

        ok(rc == -1 && why != NULL
           && strstr(why, cases[i].why) != NULL,
           "%s %s%s%s: refused, saying so (%s)", cases[i].field,
           cases[i].value ? "\"" : "missing", cases[i].value
           ? cases[i].value : "", cases[i].value ? "\"" : "",
           why ? why : "no reason");
    }

    /* a name of 128 bytes is read, of 129 refused */

    memset(long_name, 'n', sizeof(long_name) - 1);
    long_name[APIAUTH_KEY_NAME_MAX] = '\0';
    good(&f);
    set(&f, "name", long_name);
    ok(parse(&f, &rec, &why) == 0, "a name of 128 bytes");
    long_name[APIAUTH_KEY_NAME_MAX] = 'n';
    long_name[APIAUTH_KEY_NAME_MAX + 1] = '\0';
    set(&f, "name", long_name);
    rc = parse(&f, &rec, &why);
    ok(rc == -1 && strstr(why, "name") != NULL,
       "a name of 129 bytes: refused");

    /* the whitelist's bound */

    many = malloc(APIAUTH_IPS_MAX * 16 + 16);
    if (many == NULL) {
        abort();
    }

    many[0] = '\0';

    for (i = 0; i < APIAUTH_IPS_MAX; i++) {
        sprintf(many + strlen(many), "%s10.0.%zu.%zu", i ? "," : "",
                i / 256, i % 256);
    }

    good(&f);
    set(&f, "ips", many);
    ok(parse(&f, &rec, &why) == 0 && rec.nips == APIAUTH_IPS_MAX,
       "a whitelist of 1024 entries");
    strcat(many, ",10.9.9.9");
    set(&f, "ips", many);
    ok(parse(&f, &rec, &why) == -1, "of 1025: refused");
    free(many);
}


static void
test_expires(void)
{
    size_t            i;
    fields_t          f;
    const char       *why;
    apiauth_record_t  rec;

    static const struct {
        const char  *value;
        long long    at;
        int          malformed;
    } cases[] = {
        { "1764000000", 1764000000LL, 0 },
        { "1", 1, 0 },
        { "9223372036854775807", 9223372036854775807LL, 0 },
        { "0", -1, 0 },
        { "00", -1, 0 },
        { "", -1, 1 },
        { "-5", -1, 1 },
        { "+5", -1, 1 },
        { " 5", -1, 1 },
        { "5 ", -1, 1 },
        { "abc", -1, 1 },
        { "1970-01-01T00:00:00Z", -1, 1 },
        { "9223372036854775808", -1, 1 },
        { "99999999999999999999", -1, 1 },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        good(&f);
        set(&f, "expires", cases[i].value);

        ok(parse(&f, &rec, &why) == 0 && rec.expires_at == cases[i].at
           && rec.expires_malformed == cases[i].malformed,
           "expires \"%s\": %s", cases[i].value,
           cases[i].at > 0 ? "that time"
           : cases[i].malformed ? "expired, malformed" : "expired");
    }
}


int
main(void)
{
    test_good();
    test_refused();
    test_expires();

    return done_testing();
}
