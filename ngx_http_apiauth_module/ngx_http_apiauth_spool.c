
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * The call records' spool: where records go while Redis does not take
 * them, one file per worker process, replayed in order once it does.
 *
 * A record is a frame: magic, payload length, the payload's CRC32, then
 * each field as a 16-bit length and its bytes (native byte order: a spool
 * never leaves its host).  A torn last write fails its length or its CRC
 * and is counted lost; a damaged frame inside a file is skipped to the next
 * magic.  A writer holds flock(LOCK_EX) on its file until it exits; a
 * worker claims any other file only by taking that lock without waiting,
 * so a file is replayed by one process, and only once its writer is gone.
 * Names are taken with link(), never rename(), so no file replaces another.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <sys/file.h>
#include <dirent.h>

#include "ngx_http_apiauth_module.h"


#define NGX_HTTP_APIAUTH_FRAME_MAGIC   0x31525041     /* "APR1" */
#define NGX_HTTP_APIAUTH_FRAME_HEAD    12
#define NGX_HTTP_APIAUTH_SPOOL_NAME    64


typedef struct {
    ngx_str_t                   dir;
    off_t                       max;
    ngx_log_t                  *log;

    ngx_fd_t                    wfd;        /* this process's file */
    off_t                       wsize;
    u_char                      wname[NGX_HTTP_APIAUTH_SPOOL_NAME];

    ngx_fd_t                    rfd;        /* the file being replayed */
    off_t                       roff;
    off_t                       rsize;
    u_char                      rname[NGX_HTTP_APIAUTH_SPOOL_NAME];
    off_t                       read;       /* of rfd, not yet committed */
    ngx_uint_t                  lost;       /* in what was read */
    ngx_uint_t                  lost_past;  /* in what was read past */

    ngx_uint_t                  seq;
    time_t                      next_scan;
} ngx_http_apiauth_spool_t;


static ngx_int_t ngx_http_apiauth_frame_check(u_char *p, u_char *last,
    size_t *size);
static ngx_uint_t ngx_http_apiauth_frame_fields(u_char *p, size_t len);
static ngx_int_t ngx_http_apiauth_spool_create(void);
static ngx_int_t ngx_http_apiauth_spool_take(ngx_fd_t fd, u_char *from,
    const char *prefix, u_char *name);
static ngx_int_t ngx_http_apiauth_spool_next(void);
static ngx_int_t ngx_http_apiauth_spool_claim(u_char *name);
static void ngx_http_apiauth_spool_done(void);
static u_char *ngx_http_apiauth_spool_path(u_char *buf, u_char *name);


static ngx_http_apiauth_spool_t  ngx_http_apiauth_spool = {
    ngx_null_string, 0, NULL, NGX_INVALID_FILE, 0, "", NGX_INVALID_FILE,
    0, 0, "", 0, 0, 0, 0, 0
};


/* frames */

size_t
ngx_http_apiauth_frame_size(ngx_str_t *fields, ngx_uint_t n)
{
    size_t      size;
    ngx_uint_t  i;

    size = NGX_HTTP_APIAUTH_FRAME_HEAD;

    for (i = 0; i < n; i++) {
        size += sizeof(uint16_t) + fields[i].len;
    }

    return size;
}


/* the fields' lengths are at most NGX_HTTP_APIAUTH_FIELD_MAX */

u_char *
ngx_http_apiauth_frame_write(u_char *p, ngx_str_t *fields, ngx_uint_t n)
{
    u_char      *payload;
    uint16_t     len;
    uint32_t     head[3];
    ngx_uint_t   i;

    payload = p + NGX_HTTP_APIAUTH_FRAME_HEAD;
    p = payload;

    for (i = 0; i < n; i++) {
        len = (uint16_t) fields[i].len;
        p = ngx_cpymem(p, &len, sizeof(uint16_t));

        /* an empty field may have no data at all */
        if (len) {
            p = ngx_cpymem(p, fields[i].data, len);
        }
    }

    /* the checksum is for the disk: ngx_http_apiauth_spool_write() */

    head[0] = NGX_HTTP_APIAUTH_FRAME_MAGIC;
    head[1] = (uint32_t) (p - payload);
    head[2] = 0;

    ngx_memcpy(payload - NGX_HTTP_APIAUTH_FRAME_HEAD, head, sizeof(head));

    return p;
}


/* the size of a frame made in memory, which needs no checking */

size_t
ngx_http_apiauth_frame_len(u_char *p)
{
    uint32_t  len;

    ngx_memcpy(&len, p + sizeof(uint32_t), sizeof(uint32_t));

    return NGX_HTTP_APIAUTH_FRAME_HEAD + len;
}


/*
 * NGX_OK: a whole, sound frame of *size bytes at p; NGX_AGAIN: the bytes
 * end before it does; NGX_ERROR: not a frame
 */

static ngx_int_t
ngx_http_apiauth_frame_check(u_char *p, u_char *last, size_t *size)
{
    uint32_t  head[3];

    if (last - p < NGX_HTTP_APIAUTH_FRAME_HEAD) {
        return NGX_AGAIN;
    }

    ngx_memcpy(head, p, sizeof(head));

    if (head[0] != NGX_HTTP_APIAUTH_FRAME_MAGIC
        || head[1] > NGX_HTTP_APIAUTH_FRAME_MAX)
    {
        return NGX_ERROR;
    }

    if ((size_t) (last - p) < NGX_HTTP_APIAUTH_FRAME_HEAD + head[1]) {
        return NGX_AGAIN;
    }

    if (ngx_crc32_long(p + NGX_HTTP_APIAUTH_FRAME_HEAD, head[1]) != head[2]) {
        return NGX_ERROR;
    }

    /* sound, and a record: exactly its fields, as the sender reads them */

    if (ngx_http_apiauth_frame_fields(p, head[1]) != APIAUTH_CALL_NFIELDS) {
        return NGX_ERROR;
    }

    *size = NGX_HTTP_APIAUTH_FRAME_HEAD + head[1];

    return NGX_OK;
}


/* how many whole fields a frame's payload holds, nothing left over */

static ngx_uint_t
ngx_http_apiauth_frame_fields(u_char *p, size_t len)
{
    u_char      *end;
    uint16_t     flen;
    ngx_uint_t   n;

    p += NGX_HTTP_APIAUTH_FRAME_HEAD;
    end = p + len;

    for (n = 0; p < end; n++) {
        if (end - p < (ssize_t) sizeof(uint16_t)) {
            return 0;
        }

        ngx_memcpy(&flen, p, sizeof(uint16_t));
        p += sizeof(uint16_t);

        if (end - p < flen) {
            return 0;
        }

        p += flen;
    }

    return n;
}


/*
 * the next frame at *pos, its n fields pointing into it; NGX_DONE at last;
 * frames in memory were checked when they were made or read
 */

ngx_int_t
ngx_http_apiauth_frame_next(u_char **pos, u_char *last, ngx_str_t *fields,
    ngx_uint_t n)
{
    u_char      *p, *end;
    uint16_t     len;
    uint32_t     head[3];
    ngx_uint_t   i;

    p = *pos;

    if (p >= last) {
        return NGX_DONE;
    }

    ngx_memcpy(head, p, sizeof(head));

    p += NGX_HTTP_APIAUTH_FRAME_HEAD;
    end = p + head[1];

    for (i = 0; i < n; i++) {
        if (end - p < (ssize_t) sizeof(uint16_t)) {
            return NGX_ERROR;
        }

        ngx_memcpy(&len, p, sizeof(uint16_t));
        p += sizeof(uint16_t);

        if (end - p < len) {
            return NGX_ERROR;
        }

        fields[i].data = p;
        fields[i].len = len;
        p += len;
    }

    *pos = end;

    return NGX_OK;
}


/* the spool */

void
ngx_http_apiauth_spool_init(ngx_cycle_t *cycle, ngx_str_t *dir, off_t max)
{
    ngx_http_apiauth_spool_t  *sp = &ngx_http_apiauth_spool;

    sp->dir = *dir;
    sp->max = max;
    sp->log = cycle->log;
    sp->wfd = NGX_INVALID_FILE;
    sp->rfd = NGX_INVALID_FILE;

    /* a worker that starts looks for what others left at once */
    sp->next_scan = 0;
}


/*
 * appends the whole frames of [p, last) that fit; returns how many, the
 * rest are the caller's to count as dropped
 */

ngx_uint_t
ngx_http_apiauth_spool_write(u_char *p, u_char *last)
{
    size_t                     size, len;
    ssize_t                    n;
    u_char                    *q;
    uint32_t                   crc;
    ngx_uint_t                 frames;
    ngx_http_apiauth_spool_t  *sp = &ngx_http_apiauth_spool;

    if (sp->wfd == NGX_INVALID_FILE
        && ngx_http_apiauth_spool_create() != NGX_OK)
    {
        return 0;
    }

    frames = 0;
    len = 0;

    /* frames made in memory, checksummed as they go to the disk */

    for (q = p; q < last; q += size) {
        size = ngx_http_apiauth_frame_len(q);

        if (sp->wsize + (off_t) (len + size) > sp->max) {
            break;
        }

        crc = ngx_crc32_long(q + NGX_HTTP_APIAUTH_FRAME_HEAD,
                             size - NGX_HTTP_APIAUTH_FRAME_HEAD);
        ngx_memcpy(q + 2 * sizeof(uint32_t), &crc, sizeof(uint32_t));

        len += size;
        frames++;
    }

    if (len == 0) {
        return 0;
    }

    n = write(sp->wfd, p, len);

    if (n == (ssize_t) len) {
        sp->wsize += len;
        return frames;
    }

    /* a short write would leave a torn frame: take it back */

    ngx_log_error(NGX_LOG_ERR, sp->log, n == -1 ? ngx_errno : 0,
                  "apiauth: cannot write call records to the spool "
                  "\"%s\"", sp->wname);

    if (ftruncate(sp->wfd, sp->wsize) == -1) {
        ngx_log_error(NGX_LOG_ALERT, sp->log, ngx_errno,
                      "apiauth: cannot truncate the spool \"%s\"",
                      sp->wname);
    }

    return 0;
}


/* a new file of this process's, locked before its name is seen */

static ngx_int_t
ngx_http_apiauth_spool_create(void)
{
    u_char                     tmp[NGX_HTTP_APIAUTH_SPOOL_NAME];
    u_char                     path[NGX_MAX_PATH];
    ngx_fd_t                   fd;
    ngx_http_apiauth_spool_t  *sp = &ngx_http_apiauth_spool;

    *ngx_sprintf(tmp, ".records-%P.tmp", ngx_pid) = '\0';
    ngx_http_apiauth_spool_path(path, tmp);

    fd = open((char *) path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0600);

    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_ERR, sp->log, ngx_errno,
                      "apiauth: cannot create the spool file \"%s\"", path);
        return NGX_ERROR;
    }

    if (flock(fd, LOCK_EX | LOCK_NB) == -1
        || ngx_http_apiauth_spool_take(fd, tmp, "records", sp->wname)
           != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, sp->log, ngx_errno,
                      "apiauth: cannot lock the spool file \"%s\"", path);
        (void) unlink((char *) path);
        (void) close(fd);
        return NGX_ERROR;
    }

    sp->wfd = fd;
    sp->wsize = 0;

    return NGX_OK;
}


/* gives the file "from" a name "prefix-pid-seq.spool" no other file has */

static ngx_int_t
ngx_http_apiauth_spool_take(ngx_fd_t fd, u_char *from, const char *prefix,
    u_char *name)
{
    u_char                     old[NGX_MAX_PATH], new[NGX_MAX_PATH];
    ngx_uint_t                 tries;
    ngx_http_apiauth_spool_t  *sp = &ngx_http_apiauth_spool;

    ngx_http_apiauth_spool_path(old, from);

    for (tries = 0; tries < 1000; tries++) {
        *ngx_sprintf(name, "%s-%P-%ui.spool", prefix, ngx_pid, sp->seq++)
            = '\0';
        ngx_http_apiauth_spool_path(new, name);

        if (link((char *) old, (char *) new) == 0) {
            (void) unlink((char *) old);
            return NGX_OK;
        }

        if (ngx_errno != NGX_EEXIST) {
            return NGX_ERROR;
        }
    }

    return NGX_ERROR;
}


static u_char *
ngx_http_apiauth_spool_path(u_char *buf, u_char *name)
{
    *ngx_snprintf(buf, NGX_MAX_PATH - 1, "%V/%s", &ngx_http_apiauth_spool.dir,
                  name) = '\0';
    return buf;
}


/* whether a file waits to be replayed, this process's or a claimed one */

ngx_uint_t
ngx_http_apiauth_spool_pending(void)
{
    ngx_http_apiauth_spool_t  *sp = &ngx_http_apiauth_spool;

    return sp->rfd != NGX_INVALID_FILE || sp->wsize > 0
           || ngx_time() >= sp->next_scan;
}


/*
 * reads up to max whole frames of the oldest spooled records into buf,
 * sound frames only; returns their bytes, 0 when nothing waits; the frames
 * stay in the file until ngx_http_apiauth_spool_commit(), and those found
 * torn or damaged are counted by ngx_http_apiauth_spool_lost() once read
 * past
 */

size_t
ngx_http_apiauth_spool_read(u_char *buf, size_t size, ngx_uint_t max,
    ngx_uint_t *n)
{
    size_t                     fsize;
    ssize_t                    got;
    u_char                    *p, *w, *last;
    ngx_int_t                  rc;
    ngx_uint_t                 tries, bad;
    ngx_http_apiauth_spool_t  *sp = &ngx_http_apiauth_spool;

    *n = 0;

    for (tries = 0; tries < 16; tries++) {

        sp->lost = 0;

        if (sp->rfd == NGX_INVALID_FILE
            && ngx_http_apiauth_spool_next() != NGX_OK)
        {
            return 0;
        }

        got = pread(sp->rfd, buf, ngx_min((off_t) size, sp->rsize - sp->roff),
                    sp->roff);

        if (got == -1) {
            ngx_log_error(NGX_LOG_ERR, sp->log, ngx_errno,
                          "apiauth: cannot read the spool file \"%s\"",
                          sp->rname);
            return 0;
        }

        p = buf;
        w = buf;
        last = buf + got;
        bad = 0;

        while (*n < max) {
            rc = ngx_http_apiauth_frame_check(p, last, &fsize);

            if (rc == NGX_OK) {
                /* sound frames go together at the front */
                if (w != p) {
                    ngx_memmove(w, p, fsize);
                }

                w += fsize;
                p += fsize;
                (*n)++;
                bad = 0;
                continue;
            }

            if (rc == NGX_AGAIN) {
                /* the file's end: a torn last write */
                if (p < last && sp->roff + got == sp->rsize) {
                    sp->lost += !bad;
                    p = last;
                }

                break;
            }

            /* damaged: skip to the next magic, one record lost */

            if (!bad) {
                sp->lost++;
                bad = 1;
            }

            p++;
        }

        sp->read = p - buf;

        if (w > buf) {
            return w - buf;
        }

        /* nothing sound in what was read: past it, and on */
        ngx_http_apiauth_spool_commit();
    }

    return 0;
}


/* the frames read last reached Redis */

void
ngx_http_apiauth_spool_commit(void)
{
    ngx_http_apiauth_spool_t  *sp = &ngx_http_apiauth_spool;

    if (sp->rfd == NGX_INVALID_FILE) {
        return;
    }

    sp->roff += sp->read;
    sp->read = 0;
    sp->lost_past += sp->lost;
    sp->lost = 0;

    if (sp->roff >= sp->rsize) {
        ngx_http_apiauth_spool_done();
    }
}


/* the records found torn or damaged and read past since last asked */

ngx_uint_t
ngx_http_apiauth_spool_lost(void)
{
    ngx_uint_t  n;

    n = ngx_http_apiauth_spool.lost_past;
    ngx_http_apiauth_spool.lost_past = 0;

    return n;
}


static void
ngx_http_apiauth_spool_done(void)
{
    u_char                     path[NGX_MAX_PATH];
    ngx_http_apiauth_spool_t  *sp = &ngx_http_apiauth_spool;

    ngx_http_apiauth_spool_path(path, sp->rname);

    if (unlink((char *) path) == -1) {
        ngx_log_error(NGX_LOG_ALERT, sp->log, ngx_errno,
                      "apiauth: cannot remove the replayed spool file "
                      "\"%s\"", path);
    }

    (void) close(sp->rfd);
    sp->rfd = NGX_INVALID_FILE;
}


/*
 * the next file to replay: this process's own first (it stops taking
 * writes, and a new one is made when needed), else one that no living
 * writer holds, looked for every few seconds
 */

static ngx_int_t
ngx_http_apiauth_spool_next(void)
{
    DIR                       *dir;
    u_char                     path[NGX_MAX_PATH];
    size_t                     len;
    ngx_int_t                  rc;
    struct dirent             *de;
    ngx_http_apiauth_spool_t  *sp = &ngx_http_apiauth_spool;

    if (sp->wfd != NGX_INVALID_FILE && sp->wsize > 0) {
        if (ngx_http_apiauth_spool_take(sp->wfd, sp->wname, "replay",
                                        sp->rname)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ERR, sp->log, ngx_errno,
                          "apiauth: cannot rename the spool file \"%s\"",
                          sp->wname);
            return NGX_ERROR;
        }

        ngx_log_error(NGX_LOG_NOTICE, sp->log, 0,
                      "apiauth: replaying %O bytes of call records spooled "
                      "in \"%s\"", sp->wsize, sp->rname);

        sp->rfd = sp->wfd;
        sp->roff = 0;
        sp->rsize = sp->wsize;
        sp->wfd = NGX_INVALID_FILE;
        sp->wsize = 0;

        return NGX_OK;
    }

    if (ngx_time() < sp->next_scan) {
        return NGX_DECLINED;
    }

    sp->next_scan = ngx_time() + NGX_HTTP_APIAUTH_SPOOL_SCAN;

    *ngx_snprintf(path, NGX_MAX_PATH - 1, "%V", &sp->dir) = '\0';

    dir = opendir((char *) path);
    if (dir == NULL) {
        ngx_log_error(NGX_LOG_ERR, sp->log, ngx_errno,
                      "apiauth: cannot read the spool directory \"%s\"",
                      path);
        return NGX_ERROR;
    }

    rc = NGX_DECLINED;

    while ((de = readdir(dir)) != NULL) {
        len = ngx_strlen(de->d_name);

        if (len >= NGX_HTTP_APIAUTH_SPOOL_NAME || len < 6
            || ngx_strcmp(de->d_name + len - 6, ".spool") != 0
            || (ngx_strncmp(de->d_name, "records-", 8) != 0
                && ngx_strncmp(de->d_name, "replay-", 7) != 0))
        {
            continue;
        }

        if (ngx_http_apiauth_spool_claim((u_char *) de->d_name) == NGX_OK) {
            rc = NGX_OK;
            break;
        }
    }

    (void) closedir(dir);

    return rc;
}


/*
 * the lock tells whether its writer is gone (a living one, this process
 * included, holds it); the name, whether it is still the same file
 */

static ngx_int_t
ngx_http_apiauth_spool_claim(u_char *name)
{
    u_char                     path[NGX_MAX_PATH];
    ngx_fd_t                   fd;
    ngx_file_info_t            fi, ni;
    ngx_http_apiauth_spool_t  *sp = &ngx_http_apiauth_spool;

    ngx_http_apiauth_spool_path(path, name);

    fd = open((char *) path, O_RDWR);
    if (fd == NGX_INVALID_FILE) {
        return NGX_DECLINED;
    }

    if (flock(fd, LOCK_EX | LOCK_NB) == -1
        || ngx_fd_info(fd, &fi) == -1
        || ngx_file_info(path, &ni) == -1
        || fi.st_ino != ni.st_ino || fi.st_dev != ni.st_dev
        || ngx_http_apiauth_spool_take(fd, name, "replay", sp->rname)
           != NGX_OK)
    {
        (void) close(fd);
        return NGX_DECLINED;
    }

    ngx_log_error(NGX_LOG_NOTICE, sp->log, 0,
                  "apiauth: replaying %O bytes of call records spooled in "
                  "\"%s\"", ngx_file_size(&fi), name);

    sp->rfd = fd;
    sp->roff = 0;
    sp->rsize = ngx_file_size(&fi);

    return NGX_OK;
}


/* at exit: the locks go with the files; what is left, a later worker takes */

void
ngx_http_apiauth_spool_exit(void)
{
    ngx_http_apiauth_spool_t  *sp = &ngx_http_apiauth_spool;

    if (sp->rfd != NGX_INVALID_FILE) {
        (void) close(sp->rfd);
        sp->rfd = NGX_INVALID_FILE;
    }

    if (sp->wfd != NGX_INVALID_FILE) {
        (void) close(sp->wfd);
        sp->wfd = NGX_INVALID_FILE;
    }
}
