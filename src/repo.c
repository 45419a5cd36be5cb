/*
 * repo — creating and opening repositories, and the public object API that
 * forwards to the store with the handle's error record; see repo.h.
 */
#include "repo.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"
#include "log.h"
#include "feedapi.h"
#include "frame.h"
#include "txapi.h"
#include "util/buf.h"
#include "util/csv.h"
#include "util/fs.h"

static const char FORMAT_MAGIC[] = "udr repository";

const char *udr_version(void)
{
    return UDR_VERSION;
}

const char *udr_duckdb_version(void)
{
    return duckdb_library_version();
}

const char *udr_strerror(int code)
{
    switch (code) {
    case UDR_OK: return "UDR_OK";
    case UDR_ERROR: return "UDR_ERROR";
    case UDR_EINVAL: return "UDR_EINVAL";
    case UDR_ENOTFOUND: return "UDR_ENOTFOUND";
    case UDR_ECORRUPT: return "UDR_ECORRUPT";
    case UDR_EIO: return "UDR_EIO";
    case UDR_EFULL: return "UDR_EFULL";
    case UDR_ENOMEM: return "UDR_ENOMEM";
    case UDR_EFORMAT: return "UDR_EFORMAT";
    case UDR_EPERM: return "UDR_EPERM";
    case UDR_EEXIST: return "UDR_EEXIST";
    case UDR_ECONFLICT: return "UDR_ECONFLICT";
    default: return "UDR_E(unknown)";
    }
}

const char *udr_default_dir(void)
{
    const char *env = getenv("UDR_DIR");
    return env != NULL && env[0] != '\0' ? env : ".udr";
}

void udr_free(void *ptr)
{
    free(ptr);
}

static udr_repo *repo_new(const char *path)
{
    udr_repo *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    if (path == NULL || path[0] == '\0') {
        err_set(&r->err, UDR_EINVAL, "no repository path given");
        return r;
    }
    if (fs_path(r->path, sizeof r->path, "%s", path) != 0)
        err_set(&r->err, UDR_EINVAL, "repository path is too long: %.100s...", path);
    return r;
}

const char *udr_errmsg(const udr_repo *repo)
{
    return repo == NULL ? "out of memory" : repo->err.msg;
}

int udr_errcode(const udr_repo *repo)
{
    return repo == NULL ? UDR_ENOMEM : repo->err.code;
}

const char *udr_repo_path(const udr_repo *repo)
{
    return repo->path;
}

void udr_open_report_get(const udr_repo *repo, udr_open_report *out)
{
    out->torn_log_bytes = repo->cat_open ? repo->cat.log.cut_bytes : 0;
    out->stale_tmp_files = repo->tmp_removed;
}

void udr_sync_stats_get(const udr_repo *repo, udr_sync_stats *out)
{
    out->fsyncs = repo->cat_open ? repo->cat.log.syncs : 0;
    out->shared = repo->cat_open ? repo->cat.log.shared_syncs : 0;
}

store *repo_store(udr_repo *repo)
{
    return &repo->store;
}

void udr_close(udr_repo *repo)
{
    if (repo == NULL)
        return;
    txapi_abandon(repo);
    feedapi_close(repo);
    query_close(&repo->q);
    if (repo->cat_open)
        catalog_close(&repo->cat);
    free(repo);
}

/* ---- FORMAT ------------------------------------------------------------- */

static int read_format(udr_repo *r)
{
    char path[PATH_MAX];
    if (fs_path(path, sizeof path, "%s/FORMAT", r->path))
        return err_set(&r->err, UDR_EINVAL, "repository path is too long");
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (errno == ENOENT)
            return err_set(&r->err, UDR_EFORMAT,
                           "%s is not a UDR repository (it has no FORMAT file); create one "
                           "with 'udr init %s'",
                           r->path, r->path);
        return err_sys(&r->err, errno, "cannot read %s", path);
    }
    char line1[64] = "", line2[64] = "";
    int ok = fgets(line1, sizeof line1, f) != NULL && fgets(line2, sizeof line2, f) != NULL;
    fclose(f);
    line1[strcspn(line1, "\n")] = '\0';
    if (!ok || strcmp(line1, FORMAT_MAGIC) != 0)
        return err_set(&r->err, UDR_EFORMAT,
                       "%s is not a UDR repository (its FORMAT file does not say so)", r->path);
    int version;
    char extra;
    if (sscanf(line2, "format %d%c", &version, &extra) != 2 || extra != '\n' || version < 1)
        return err_set(&r->err, UDR_EFORMAT, "%s: FORMAT has an unreadable version line", r->path);
    if (version > REPO_FORMAT_VERSION)
        return err_set(&r->err, UDR_EFORMAT,
                       "%s has repository format %d, newer than this udr %s understands "
                       "(format %d); upgrade udr to open it",
                       r->path, version, UDR_VERSION, REPO_FORMAT_VERSION);
    return UDR_OK;
}

static int check_dir(udr_repo *r, const char *name)
{
    char path[PATH_MAX];
    struct stat st;
    if (fs_path(path, sizeof path, "%s/%s", r->path, name))
        return err_set(&r->err, UDR_EINVAL, "repository path is too long");
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return err_set(&r->err, UDR_EFORMAT,
                       "%s is a damaged UDR repository: its %s/ directory is missing", r->path,
                       name);
    return UDR_OK;
}

int udr_open(const char *path, udr_repo **out)
{
    return udr_open_v2(path, 0, out);
}

int udr_open_v2(const char *path, int flags, udr_repo **out)
{
    udr_repo *r = repo_new(path);
    *out = r;
    if (r == NULL)
        return UDR_ENOMEM;
    if (r->err.code)
        return r->err.code;
    if ((flags & ~(UDR_OPEN_READONLY | UDR_OPEN_SALVAGE)) != 0 ||
        ((flags & UDR_OPEN_SALVAGE) && !(flags & UDR_OPEN_READONLY)))
        return err_set(&r->err, UDR_EINVAL,
                       "udr_open_v2: unknown flags 0x%x (UDR_OPEN_SALVAGE needs "
                       "UDR_OPEN_READONLY)",
                       (unsigned)flags);
    struct stat st;
    if (stat(r->path, &st) != 0) {
        if (errno == ENOENT)
            return err_set(&r->err, UDR_ENOTFOUND,
                           "no repository at %s (no such directory); create one with 'udr init "
                           "%s' or say where it is with --repo DIR or $UDR_DIR",
                           r->path, r->path);
        return err_sys(&r->err, errno, "cannot open repository %s", r->path);
    }
    if (!S_ISDIR(st.st_mode))
        return err_set(&r->err, UDR_EFORMAT, "%s is not a UDR repository (not a directory)",
                       r->path);
    int rc = read_format(r);
    if (rc == UDR_OK)
        rc = check_dir(r, "objects");
    if (rc == UDR_OK)
        rc = check_dir(r, "log");
    if (rc == UDR_OK)
        rc = check_dir(r, "tmp");
    if (rc == UDR_OK)
        rc = store_open(&r->store, r->path, &r->err);
    if (rc == UDR_OK && !(flags & UDR_OPEN_READONLY))
        rc = store_clean_tmp(&r->store, &r->tmp_removed);
    int cflags = (flags & UDR_OPEN_READONLY ? CATALOG_READONLY : 0) |
                 (flags & UDR_OPEN_SALVAGE ? CATALOG_SALVAGE : 0);
    if (rc == UDR_OK &&
        (rc = catalog_open_flags(&r->cat, &r->store, r->path, cflags, &r->err)) == UDR_OK)
        r->cat_open = 1;
    if (rc != UDR_OK)
        return rc;
    query_init(&r->q, &r->cat, &r->store, r->path, &r->err);
    r->q.ack = feedapi_ack_hook;
    r->q.ack_ctx = r;
    r->usable = 1;
    err_clear(&r->err);
    return UDR_OK;
}

/* ---- init --------------------------------------------------------------- */

/* 1 if dir is empty, 0 if not, negative errno-code on error. */
static int dir_is_empty(const char *dir)
{
    DIR *dp = opendir(dir);
    if (dp == NULL)
        return -errno;
    struct dirent *de;
    int empty = 1;
    while ((de = readdir(dp)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            empty = 0;
            break;
        }
    }
    closedir(dp);
    return empty;
}

static int write_format(udr_repo *r)
{
    char tmp[PATH_MAX], dest[PATH_MAX], body[64];
    if (fs_path(tmp, sizeof tmp, "%s/tmp/FORMAT.%ld", r->path, (long)getpid()) ||
        fs_path(dest, sizeof dest, "%s/FORMAT", r->path))
        return err_set(&r->err, UDR_EINVAL, "repository path is too long");
    int n = snprintf(body, sizeof body, "%s\nformat %d\n", FORMAT_MAGIC, REPO_FORMAT_VERSION);
    int fd, e = fs_create_excl(tmp, 0644, &fd, NULL);
    if (e)
        return err_sys(&r->err, e, "cannot create %s", tmp);
    if ((e = fs_write_all(fd, body, (size_t)n, NULL, tmp)) != 0 || (e = fs_fsync(fd, NULL, tmp)) != 0) {
        close(fd);
        unlink(tmp);
        return err_sys(&r->err, e, "cannot write %s", tmp);
    }
    close(fd);
    if ((e = fs_rename(tmp, dest, NULL)) != 0 || (e = fs_fsync_dir(r->path, NULL)) != 0) {
        unlink(tmp);
        return err_sys(&r->err, e, "cannot create %s", dest);
    }
    return UDR_OK;
}

int udr_init(const char *path, udr_repo **out)
{
    udr_repo *r = repo_new(path);
    *out = r;
    if (r == NULL)
        return UDR_ENOMEM;
    if (r->err.code)
        return r->err.code;
    if (mkdir(r->path, 0755) != 0) {
        if (errno != EEXIST)
            return err_sys(&r->err, errno, "cannot create repository directory %s", r->path);
        char fmt[PATH_MAX];
        fs_path(fmt, sizeof fmt, "%s/FORMAT", r->path);
        if (access(fmt, F_OK) == 0)
            return err_set(&r->err, UDR_EEXIST, "%s is already a UDR repository", r->path);
        int empty = dir_is_empty(r->path);
        if (empty < 0)
            return err_sys(&r->err, -empty, "cannot create a repository in %s", r->path);
        if (!empty)
            return err_set(&r->err, UDR_EEXIST,
                           "cannot create a repository in %s: the directory is not empty",
                           r->path);
    }
    static const char *const dirs[] = {"objects", "log", "tmp"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char d[PATH_MAX];
        if (fs_path(d, sizeof d, "%s/%s", r->path, dirs[i]))
            return err_set(&r->err, UDR_EINVAL, "repository path is too long");
        int e = fs_mkdir(d, NULL);
        if (e)
            return err_sys(&r->err, e, "cannot create %s", d);
    }
    int rc = log_create(r->path, &r->err);
    if (rc)
        return rc;
    rc = write_format(r);         /* last: marks the repository complete */
    if (rc)
        return rc;
    udr_close(r);
    return udr_open(path, out);
}

/* ---- objects ------------------------------------------------------------ */

/* Every object call starts here: clears the error, refuses an unusable handle. */
int repo_begin(udr_repo *repo)
{
    assert(repo != NULL);
    if (!repo->usable)
        return err_set(&repo->err, UDR_EINVAL, "the repository handle is not open%s%s",
                       repo->err.msg[0] ? ": " : "", repo->err.msg);
    err_clear(&repo->err);
    return UDR_OK;
}

int udr_object_put(udr_repo *repo, const void *data, size_t len, udr_hash *out)
{
    int rc = repo_begin(repo);
    return rc ? rc : store_put(&repo->store, data, len, out);
}

int udr_object_put_fd(udr_repo *repo, int fd, udr_hash *out)
{
    int rc = repo_begin(repo);
    return rc ? rc : store_put_fd(&repo->store, fd, out);
}

int udr_object_put_file(udr_repo *repo, const char *path, udr_hash *out)
{
    int rc = repo_begin(repo);
    if (rc)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_sys(&repo->err, errno, "cannot open %s", path);
    rc = store_put_fd(&repo->store, fd, out);
    close(fd);
    if (rc)
        err_prefix(&repo->err, "%s", path);
    return rc;
}

int udr_object_get(udr_repo *repo, const udr_hash *h, void **data, size_t *len)
{
    int rc = repo_begin(repo);
    return rc ? rc : store_get(&repo->store, h, 0, data, len);
}

int udr_object_get_verified(udr_repo *repo, const udr_hash *h, void **data, size_t *len)
{
    int rc = repo_begin(repo);
    return rc ? rc : store_get(&repo->store, h, 1, data, len);
}

int udr_object_write_to_fd(udr_repo *repo, const udr_hash *h, int fd)
{
    int rc = repo_begin(repo);
    return rc ? rc : store_write_to_fd(&repo->store, h, fd);
}

int udr_object_exists(udr_repo *repo, const udr_hash *h)
{
    int rc = repo_begin(repo);
    return rc ? rc : store_exists(&repo->store, h);
}

int udr_object_size(udr_repo *repo, const udr_hash *h, uint64_t *size_bytes)
{
    int rc = repo_begin(repo);
    return rc ? rc : store_size(&repo->store, h, size_bytes);
}

int udr_object_verify(udr_repo *repo, const udr_hash *h)
{
    int rc = repo_begin(repo);
    return rc ? rc : store_verify(&repo->store, h);
}

int udr_object_delete(udr_repo *repo, const udr_hash *h)
{
    int rc = repo_begin(repo);
    return rc ? rc : store_delete(&repo->store, h);
}

int udr_object_foreach(udr_repo *repo, udr_object_fn fn, void *ctx)
{
    int rc = repo_begin(repo);
    return rc ? rc : store_foreach(&repo->store, fn, NULL, ctx);
}

int udr_hash_fd(int fd, udr_hash *out)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return UDR_EIO;
    store s;
    udr_err err;
    store_open(&s, "/", &err);       /* no repository: only the hashing is used */
    if (S_ISREG(st.st_mode)) {
        off_t at = lseek(fd, 0, SEEK_CUR);
        if (at < 0 || at > st.st_size)
            at = 0;
        return store_hash_fd(&s, fd, at, (uint64_t)(st.st_size - at), "input", out);
    }
    udr_hasher *hs = udr_hasher_new();
    char *io = malloc(STORE_IO_BYTES);
    int rc = hs != NULL && io != NULL ? UDR_OK : UDR_ENOMEM;
    for (size_t got = 1; rc == UDR_OK && got > 0;) {
        if (fs_read_full(fd, io, STORE_IO_BYTES, &got, NULL, "input") != 0)
            rc = UDR_EIO;
        else
            udr_hasher_update(hs, io, got);
    }
    if (rc == UDR_OK)
        udr_hasher_final(hs, out);
    udr_hasher_free(hs);
    free(io);
    return rc;
}

/* ---- tables -------------------------------------------------------------- */

const char *repo_author(const char *given)
{
    if (given != NULL)
        return given;
    const char *a = getenv("UDR_AUTHOR");
    if (a == NULL || a[0] == '\0')
        a = getenv("USER");
    if (a == NULL || a[0] == '\0') {
        /* No environment (a service, a container): the account's name. */
        const struct passwd *pw = getpwuid(getuid());
        a = pw != NULL ? pw->pw_name : NULL;
    }
    return a ? a : "";
}

static int write_table(udr_repo *repo, const char *table, const char *select_sql,
                       const udr_write_opts *opts, udr_write_info *info, int append)
{
    int rc = repo_begin(repo);
    if (rc)
        return rc;
    if (repo->tx != NULL)
        return err_set(&repo->err, UDR_EINVAL,
                       "a transaction is open on this handle: write through it (udr_tx_write), "
                       "or commit or roll it back first");
    return txapi_write_alone(repo, table, select_sql, opts, info, append);
}

int udr_table_write(udr_repo *repo, const char *table, const char *select_sql,
                    const udr_write_opts *opts, udr_write_info *info)
{
    return write_table(repo, table, select_sql, opts, info, 0);
}

int udr_table_append(udr_repo *repo, const char *table, const char *select_sql,
                     const udr_write_opts *opts, udr_write_info *info)
{
    return write_table(repo, table, select_sql, opts, info, 1);
}

/* "csv", "parquet", "json" from a file name, or NULL. */
static const char *format_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    static const struct {
        const char *ext, *format;
    } map[] = {{".csv", "csv"}, {".tsv", "csv"}, {".txt", "csv"}, {".parquet", "parquet"},
               {".pq", "parquet"}, {".json", "json"}, {".jsonl", "json"}, {".ndjson", "json"}};
    for (size_t i = 0; dot != NULL && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(dot, map[i].ext) == 0)
            return map[i].format;
    return NULL;
}

int udr_table_import(udr_repo *repo, const char *table, const char *path, const char *format,
                     int append, const udr_write_opts *opts, udr_write_info *info)
{
    int rc = repo_begin(repo);
    if (rc)
        return rc;
    const char *f = format ? format : format_of(path);
    if (f == NULL || (strcmp(f, "csv") && strcmp(f, "parquet") && strcmp(f, "json")))
        return err_set(&repo->err, UDR_EINVAL,
                       "cannot tell the format of %s: name it csv, parquet or json", path);
    if (access(path, R_OK) != 0)
        return err_sys(&repo->err, errno, "cannot read %s", path);
    if (strcmp(f, "csv") == 0) {
        const char *dot = strrchr(path, '.');
        char delim = dot && strcmp(dot, ".tsv") == 0 ? '\t' : ',';
        csv_shape shape;
        int e = csv_check(path, delim, &shape);
        if (e)
            return err_sys(&repo->err, e, "cannot read %s", path);
        if (shape.bad_line)
            return err_set(&repo->err, UDR_EINVAL,
                           "cannot import %s: line %llu of %s has %zu fields where the header "
                           "has %zu; nothing was imported",
                           table, (unsigned long long)shape.bad_line, path, shape.fields,
                           shape.expected);
        if (shape.open_quote)
            return err_set(&repo->err, UDR_EINVAL,
                           "cannot import %s: %s ends inside a quoted field (a \" is not "
                           "closed); nothing was imported",
                           table, path);
    }
    buf b;
    buf_init(&b);
    buf_printf(&b, "SELECT * FROM read_%s('", f);
    for (const char *p = path; *p; p++) {
        if (*p == '\'')
            buf_addc(&b, '\'');
        buf_addc(&b, *p);
    }
    buf_adds(&b, "')");
    char *sql = buf_take(&b, NULL);
    if (sql == NULL)
        return err_set(&repo->err, UDR_ENOMEM, "out of memory");
    rc = write_table(repo, table, sql, opts, info, append);
    free(sql);
    return rc;
}

/* The rows of "table@ref" as the catalog has them, for an export's progress;
 * 0 if ref is not that simple (the export itself then says what is wrong). */
static uint64_t export_rows(udr_repo *repo, const char *ref)
{
    char table[CATALOG_NAME_MAX + 1];
    const char *at = strchr(ref, '@');
    size_t len = at ? (size_t)(at - ref) : strlen(ref);
    uint64_t rows = 0;
    if (len < sizeof table) {
        memcpy(table, ref, len);
        table[len] = '\0';
        cat_version cv;
        if (catalog_refresh(&repo->cat) == UDR_OK &&
            catalog_check_name(table, NULL) == UDR_OK &&
            catalog_resolve(&repo->cat, table, at ? at + 1 : NULL, &cv) == UDR_OK &&
            !cv.dropped && query_rows(&repo->q, &cv.hash, &rows) != UDR_OK)
            rows = 0;
    }
    repo->err.code = 0;                /* a failed look-up is not the export's error */
    repo->err.msg[0] = '\0';
    return rows;
}

int udr_table_export(udr_repo *repo, const char *ref, const char *path, const char *format,
                     udr_export_info *info)
{
    int rc = repo_begin(repo);
    if (rc)
        return rc;
    udr_export_info scratch;
    if (info == NULL)
        info = &scratch;
    memset(info, 0, sizeof *info);
    const char *f = format ? format : format_of(path);
    if (f == NULL || (strcmp(f, "csv") && strcmp(f, "parquet")))
        return err_set(&repo->err, UDR_EINVAL,
                       "cannot tell how to export %s to %s: name the format, csv or parquet",
                       ref, path);
    query_progress_begin(&repo->q, ref);
    if (repo->q.progress != NULL)
        repo->q.prog.total_rows = export_rows(repo, ref);
    if ((rc = query_export(&repo->q, ref, path, f, info)) != UDR_OK)
        return rc;
    query_progress_done(&repo->q, info->rows, 0, info->bytes);
    return UDR_OK;
}

void udr_progress_set(udr_repo *repo, udr_work_progress_fn fn, void *ctx)
{
    if (repo == NULL)
        return;
    repo->q.progress = fn;
    repo->q.progress_ctx = fn != NULL ? ctx : NULL;
}

int udr_table_drop(udr_repo *repo, const char *table, const char *message)
{
    int rc = repo_begin(repo);
    if (rc)
        return rc;
    if (repo->tx != NULL)
        return err_set(&repo->err, UDR_EINVAL,
                       "a transaction is open on this handle: drop through it (udr_tx_drop), "
                       "or commit or roll it back first");
    char msg[256];
    if (message == NULL) {
        snprintf(msg, sizeof msg, "drop %.200s", table);
        message = msg;
    }
    udr_tx *tx;
    if ((rc = udr_tx_begin(repo, NULL, UDR_SNAPSHOT, &tx)) != 0)
        return rc;
    if ((rc = udr_tx_drop(tx, table)) != 0) {
        udr_tx_rollback(tx);
        return rc;
    }
    return udr_tx_commit(tx, message, NULL);
}

/* ---- queries ------------------------------------------------------------- */

int udr_table_diff(udr_repo *repo, const char *table, const char *from_ref, const char *to_ref,
                   const char *const *key, udr_diff *out, udr_result **rows)
{
    if (rows != NULL)
        *rows = NULL;
    int rc = repo_begin(repo);
    if (rc)
        return rc;
    duckdb_result r;
    rc = query_diff(&repo->q, table, from_ref, to_ref, key, out, rows ? &r : NULL);
    if (rc == UDR_OK && rows != NULL && (*rows = repo_wrap_shown(&r, &repo->q)) == NULL)
        rc = err_set(&repo->err, UDR_ENOMEM, "out of memory");
    return rc;
}

void udr_interrupt(udr_repo *repo)
{
    if (repo != NULL)
        query_interrupt(&repo->q);
}

int udr_query(udr_repo *repo, const char *sql, const udr_pin *pins, size_t npins,
              udr_result **out)
{
    *out = NULL;
    int rc = repo_begin(repo);
    if (rc)
        return rc;
    int handled = 0;
    if ((rc = txapi_query(repo, sql, out, &handled)) != 0 || handled)
        return rc;
    duckdb_result r;
    if ((rc = query_run(&repo->q, sql, pins, npins, &r)) != 0)
        return rc;
    if ((*out = repo_wrap_shown(&r, &repo->q)) == NULL)
        return err_set(&repo->err, UDR_ENOMEM, "out of memory");
    return UDR_OK;
}

int udr_frame_register(udr_repo *repo, const char *name, const udr_column *cols, size_t ncols,
                       uint64_t nrows)
{
    int rc = repo_begin(repo);
    if (rc == UDR_OK && name == NULL)
        rc = err_set(&repo->err, UDR_EINVAL, "a frame needs a name");
    if (rc == UDR_OK && ncols > 0 && cols == NULL)
        rc = err_set(&repo->err, UDR_EINVAL, "frame %s: no column list", name ? name : "");
    for (size_t i = 0; rc == UDR_OK && i < ncols; i++)
        if (cols[i].values == NULL && nrows > 0)
            rc = err_set(&repo->err, UDR_EINVAL, "frame %s: column %s has no values",
                         name ? name : "", cols[i].name ? cols[i].name : "?");
    return rc ? rc : frame_add(&repo->q, name, cols, ncols, nrows);
}

int udr_frame_unregister(udr_repo *repo, const char *name)
{
    int rc = repo_begin(repo);
    return rc ? rc : frame_remove(&repo->q, name ? name : "");
}

/* ---- inspecting tables ---------------------------------------------------- */

void udr_version_info_free(udr_version_info *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++) {
        free(v[i].table);
        free(v[i].message);
        free(v[i].author);
    }
    free(v);
}

/* Fills v from a catalog version: the table version and commit objects. */
static int fill_info(udr_repo *repo, const char *table, const cat_version *cv,
                     const cat_tablever *prev, cat_tablever *tv_out, udr_version_info *v)
{
    memset(v, 0, sizeof *v);
    v->table = strdup(table);
    v->version = cv->version;
    v->dropped = cv->dropped;
    v->time_us = cv->time_us;
    hash_to_hex(&cv->commit, v->commit);
    cat_commit cm;
    int rc = catalog_read_commit(&repo->cat, &cv->commit, &cm);
    if (rc)
        return rc;
    v->message = strdup(cm.message);
    v->author = strdup(cm.author);
    catc_free(&cm);
    if (v->table == NULL || v->message == NULL || v->author == NULL)
        return err_set(&repo->err, UDR_ENOMEM, "out of memory");
    v->expired_us = cv->expired_us;
    if (cv->dropped)
        return UDR_OK;
    hash_to_hex(&cv->hash, v->content);
    if (cv->expired_us != 0)
        return UDR_OK;                 /* its objects may be gone */
    cat_tablever tv;
    if ((rc = catalog_read_tablever(&repo->cat, &cv->hash, &tv)) != 0)
        return rc;
    v->rows = tv.rows;
    v->chunks = tv.nchunks;
    for (size_t i = 0; i < tv.nchunks; i++) {
        v->bytes += tv.chunks[i].bytes;
        int old = 0;
        for (size_t j = 0; prev != NULL && j < prev->nchunks && !old; j++)
            old = hash_equal(&prev->chunks[j].hash, &tv.chunks[i].hash);
        if (!old)
            v->new_bytes += tv.chunks[i].bytes;
    }
    if (tv_out != NULL)
        *tv_out = tv;
    else
        catv_free(&tv);
    return UDR_OK;
}

int udr_table_list(udr_repo *repo, udr_version_info **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int rc = repo_begin(repo);
    if (rc == UDR_OK)
        rc = catalog_refresh(&repo->cat);
    if (rc)
        return rc;
    const cat_branch *b = catalog_branch(&repo->cat, NULL);
    if (b == NULL && catalog_branch_any(&repo->cat, NULL) != NULL)
        return catalog_branch_error(&repo->cat, NULL);   /* broken */
    size_t count = b ? b->ntables : 0;
    udr_version_info *v = calloc(count ? count : 1, sizeof *v);
    if (v == NULL)
        return err_set(&repo->err, UDR_ENOMEM, "out of memory");
    for (size_t i = 0; i < count && rc == UDR_OK; i++) {
        cat_version cv;
        rc = catalog_resolve(&repo->cat, b->tables[i].table, NULL, &cv);
        if (rc == UDR_OK)
            rc = fill_info(repo, b->tables[i].table, &cv, NULL, NULL, &v[i]);
    }
    if (rc) {
        udr_version_info_free(v, count);
        return rc;
    }
    *out = v;
    *n = count;
    return UDR_OK;
}

int udr_table_log(udr_repo *repo, const char *table, udr_version_info **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int rc = repo_begin(repo);
    if (rc == UDR_OK)
        rc = catalog_refresh(&repo->cat);
    if (rc)
        return rc;
    if ((rc = catalog_complete(&repo->cat)) != 0)
        return rc;
    const cat_table *t = catalog_table(&repo->cat, table);
    if (t == NULL) {
        if ((rc = catalog_check_name(table, &repo->err)) != 0)
            return rc;
        return err_set(&repo->err, UDR_ENOTFOUND,
                       "there is no table %s (see 'udr tables' for the tables there are)", table);
    }
    size_t count = t->nv;
    udr_version_info *v = calloc(count, sizeof *v);
    if (v == NULL)
        return err_set(&repo->err, UDR_ENOMEM, "out of memory");
    cat_tablever prev = {0};
    int have_prev = 0;
    for (size_t i = 0; i < count && rc == UDR_OK; i++) {
        cat_tablever cur = {0};
        /* Oldest first, so each knows its predecessor; stored newest first. */
        int readable = !t->v[i].dropped && t->v[i].expired_us == 0;
        rc = fill_info(repo, table, &t->v[i], have_prev ? &prev : NULL,
                       readable ? &cur : NULL, &v[count - 1 - i]);
        if (rc == UDR_OK && readable) {
            catv_free(&prev);
            prev = cur;
            have_prev = 1;
        }
    }
    catv_free(&prev);
    if (rc) {
        udr_version_info_free(v, count);
        return rc;
    }
    *out = v;
    *n = count;
    return UDR_OK;
}

void udr_table_detail_free(udr_table_detail *d)
{
    if (d == NULL)
        return;
    free(d->info.table);
    free(d->info.message);
    free(d->info.author);
    for (size_t i = 0; i < d->ncols; i++) {
        free(d->col_names[i]);
        free(d->col_types[i]);
    }
    for (size_t i = 0; i < d->nkey; i++)
        free(d->key[i]);
    free(d->col_names);
    free(d->col_types);
    free(d->key);
    free(d->chunk_hash);
    free(d->chunk_rows);
    free(d->chunk_bytes);
    free(d->delete_hash);
    free(d->delete_rows);
    free(d->patch_hash);
    free(d->patch_rows);
    free(d->patch_cols);
    free(d);
}

int udr_table_show(udr_repo *repo, const char *table, const char *ref, udr_table_detail **out)
{
    *out = NULL;
    int rc = repo_begin(repo);
    if (rc == UDR_OK)
        rc = catalog_refresh(&repo->cat);
    if (rc == UDR_OK)
        rc = catalog_check_name(table, &repo->err);
    if (rc)
        return rc;
    cat_version cv;
    if ((rc = catalog_resolve(&repo->cat, table, ref, &cv)) != 0)
        return rc;
    udr_table_detail *d = calloc(1, sizeof *d);
    if (d == NULL)
        return err_set(&repo->err, UDR_ENOMEM, "out of memory");
    cat_tablever tv = {0};
    if ((rc = fill_info(repo, table, &cv, NULL, &tv, &d->info)) != 0) {
        udr_table_detail_free(d);
        return rc;
    }
    d->col_names = calloc(tv.ncols + 1, sizeof *d->col_names);
    d->col_types = calloc(tv.ncols + 1, sizeof *d->col_types);
    d->key = calloc(tv.nkey + 1, sizeof *d->key);
    d->chunk_hash = calloc(tv.nchunks + 1, sizeof *d->chunk_hash);
    d->chunk_rows = calloc(tv.nchunks + 1, sizeof *d->chunk_rows);
    d->chunk_bytes = calloc(tv.nchunks + 1, sizeof *d->chunk_bytes);
    d->delete_hash = calloc(tv.ndeletes + 1, sizeof *d->delete_hash);
    d->delete_rows = calloc(tv.ndeletes + 1, sizeof *d->delete_rows);
    d->patch_hash = calloc(tv.npatches + 1, sizeof *d->patch_hash);
    d->patch_rows = calloc(tv.npatches + 1, sizeof *d->patch_rows);
    d->patch_cols = calloc(tv.npatches + 1, sizeof *d->patch_cols);
    if (!d->col_names || !d->col_types || !d->key || !d->chunk_hash || !d->chunk_rows ||
        !d->chunk_bytes || !d->delete_hash || !d->delete_rows || !d->patch_hash ||
        !d->patch_rows || !d->patch_cols) {
        catv_free(&tv);
        udr_table_detail_free(d);
        return err_set(&repo->err, UDR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < tv.ncols; i++) {
        d->col_names[i] = tv.cols[i].name;
        d->col_types[i] = tv.cols[i].type;
        tv.cols[i].name = tv.cols[i].type = NULL;
    }
    d->ncols = tv.ncols;
    for (size_t i = 0; i < tv.nkey; i++) {
        d->key[i] = tv.key[i];
        tv.key[i] = NULL;
    }
    d->nkey = tv.nkey;
    for (size_t i = 0; i < tv.nchunks; i++) {
        hash_to_hex(&tv.chunks[i].hash, d->chunk_hash[i]);
        d->chunk_rows[i] = tv.chunks[i].rows;
        d->chunk_bytes[i] = tv.chunks[i].bytes;
    }
    d->nchunks = tv.nchunks;
    for (size_t i = 0; i < tv.ndeletes; i++) {
        hash_to_hex(&tv.deletes[i].hash, d->delete_hash[i]);
        d->delete_rows[i] = tv.deletes[i].rows;
    }
    d->ndeletes = tv.ndeletes;
    for (size_t i = 0; i < tv.npatches; i++) {
        hash_to_hex(&tv.patches[i].hash, d->patch_hash[i]);
        d->patch_rows[i] = tv.patches[i].rows;
        d->patch_cols[i] = tv.patches[i].cols;
    }
    d->npatches = tv.npatches;
    catv_free(&tv);
    *out = d;
    return UDR_OK;
}
