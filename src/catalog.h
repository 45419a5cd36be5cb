/*
 * catalog — tables, versions and commits, and the index built from the log.
 *
 * Two kinds of metadata object, both content-addressed and both in a
 * canonical text form (one spelling for one content, so equal metadata
 * hashes equal; readable with `udr object get`). Every field is
 * percent-escaped (buf_escaped), so fields never hold spaces or newlines.
 *
 *   udr table-version 1              udr commit 1
 *   parent <hex>        (optional)   parent <hex>          (0, 1 or 2)
 *   rows <n>                         time <microseconds since 1970>
 *   column <name> <type> (in order)  author <text>
 *   key <name>          (in order)   message <text>
 *   chunk <hex> <rows> <bytes> [<lo> <hi>]  table <name> <version> <hex> (by name)
 *   delete <hex> <rows>  (optional)
 *   patch <hex> <rows> <column>...  (optional, in order)
 *
 * A table version is a table's content: its schema, its key, its chunks (the
 * Parquet objects, in row order; for an integer first key column, the
 * range of its values in each chunk, which lets a point lookup read one
 * chunk), and its delete files: Parquet objects of
 * (chunk VARCHAR, row BIGINT) naming rows of those chunks that are no longer
 * there (an update or delete of a few rows costs a few rows, not a chunk).
 * rows = the chunks' rows less the deletes' rows. Its patches are Parquet
 * objects of (chunk VARCHAR, row BIGINT, then the columns named, in the
 * table's order and types): new values for those columns of rows of its
 * chunks, which keep their positions (an UPDATE of fixed-width columns
 * stores only those columns; see docs/tables.md). Where two patches name a
 * row, the later one wins; a patch never names a key column, and only the
 * first 64 columns can be patched. A raw version
 * (udr_table_commit_chunks of objects that are not Parquet of one schema)
 * has no column lines, rows 0 and chunks of 0 rows: it keeps objects in
 * order and holds no rows; the decoder refuses no columns anywhere else.
 * A commit is the state of every table of a branch. Version numbers (1, 2,
 * 3 ... per table, across branches) live in commits and in the log, not in
 * table versions, so the same content written twice is one object.
 *
 * The log holds one record per commit (see encode_commit_record):
 *
 *   u8 1 | u64 time_us | 32-byte commit hash | str16 branch |
 *   u32 n | n x (str16 table | u64 version | 32-byte table version hash,
 *                all zero for a drop)
 *
 * A commit record names its branch; its table entries are either new
 * versions (the next number of each table) or versions that exist already
 * (a merge taking a table from the other side reuses its version).
 *
 * Branches, tags and the repository's current branch are ref records:
 *
 *   u8 3 | u8 kind | u64 time_us | str16 name | u8 has_commit |
 *   32-byte commit hash (if has_commit) | str16 text
 *
 *   kind 1  branch set: create it (text: its description) or move its head
 *           (reset, fast-forward); without a commit, an empty branch
 *   kind 2  branch delete
 *   kind 3  tag set (text: its message)
 *   kind 4  tag delete
 *   kind 5  checkout: the repository's current branch is now name
 *
 * Subscriptions (see feed.h) are named cursors in the log, sub records:
 *
 *   u8 4 | u8 kind | u64 time_us | str16 name | ...
 *
 *   kind 1  create: str16 branch | u64 cursor | u32 n | n x str16 table
 *   kind 2  drop
 *   kind 3  acknowledge: u64 seq (the cursor's new place)
 *
 * and a commit record may end with acknowledgements that commit with it
 * (exactly-once consumers): u32 n | n x (str16 subscription | u64 seq).
 *
 * Retention (udr expire) is an expire record, naming the rule it applied
 * and the versions it let go (see catexp.c):
 *
 *   u8 5 | u64 time_us | str16 rule | u32 n | n x (str16 table | u64 version)
 *
 * An expired version stays in the history (udr log shows it, and when it
 * expired) but no longer resolves, and GC no longer keeps its objects.
 * A table's newest version is never expired, so the index a checkpoint
 * loads (newest versions only) never holds an expired one.
 *
 * Opening replays the records into the index: every version of every table
 * (number, hash, time, record number), every commit in log order, and for
 * each branch its head, the head's tables and the heads it had. main exists
 * from the start and cannot be deleted.
 *
 * Checkpoints bound the work of opening. After every checkpoint_every
 * records, the committer writes a checkpoint object and starts a new log
 * segment with a record naming it (u8 2 | 32-byte hash):
 *
 *   udr checkpoint 2
 *   current <branch>
 *   branch <name> <created> <seq> <time> <head hex, or -> <description>
 *   tag <name> <time> <commit hex> <message>
 *   table <name> <version> <seq> <time> <hex> <commit hex>
 *                         each table's latest version (hash 0...0: dropped)
 *   commit <seq> <time> <hex>                      the last commit
 *
 *    sub <name> <branch> <created> <cursor> <table,table,...>
                                                   each subscription (format 3)

(Format 1 had only the table lines and main's last commit; format 2 no
subscriptions.) Opening reads
 * only the newest segment, starting from its checkpoint: the index then holds
 * each table's latest version and each branch's head only (complete = 0).
 * Whatever needs older versions (a version number, a table's log, fsck)
 * calls catalog_complete, which reads the whole log once.
 */
#ifndef UDR_CATALOG_H
#define UDR_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "store.h"
#include "udr.h"
#include "util/err.h"

enum {
    CATALOG_NAME_MAX = 128,          /* bytes in a table name */
    CATALOG_REF_MAX = 200,           /* bytes in a branch or tag name */
    CATALOG_MAX_COLUMNS = 10000,
};

/* ---- table versions ------------------------------------------------------ */

typedef struct cat_column {
    char *name;
    char *type;                      /* DuckDB's name for it, e.g. DECIMAL(18,3) */
} cat_column;

typedef struct cat_chunk {
    udr_hash hash;
    uint64_t rows;
    uint64_t bytes;
    int has_range;                   /* lo..hi: the range of the first key column */
    int64_t lo, hi;                  /* (an integer) over the chunk's rows */
} cat_chunk;

typedef struct cat_tablever {
    int has_parent;
    udr_hash parent;
    uint64_t rows;
    cat_column *cols;
    size_t ncols;
    char **key;                      /* decoded: NULL-terminated as well */
    size_t nkey;
    cat_chunk *chunks;
    size_t nchunks;
    cat_chunk *deletes;              /* bytes are not recorded: 0 */
    size_t ndeletes;
    struct cat_patch *patches;       /* in order: a later one wins */
    size_t npatches;
} cat_tablever;

enum { CAT_PATCH_MAX_COLUMN = 64 };  /* columns 0..63 can be patched */

typedef struct cat_patch {
    udr_hash hash;
    uint64_t rows;                   /* rows it names */
    uint64_t cols;                   /* bit i: column i of the version */
} cat_patch;

/* Encodes canonically into a malloc'd buffer; NULL when memory runs out. */
char *catv_encode(const cat_tablever *tv, size_t *len);
/* Decodes; on failure UDR_ECORRUPT with a message naming what is wrong. */
int catv_decode(const void *data, size_t len, cat_tablever *tv, udr_err *err);
void catv_free(cat_tablever *tv);

/* A raw version (udr_table_commit_chunks of objects that are not all
 * Parquet files of one schema) keeps its objects as chunks of 0 rows and
 * has no columns: 1 for one. Nothing can read rows from it. */
int catv_is_raw(const cat_tablever *tv);
/* 1 if two versions have the same columns: names and types, in order. */
int catv_same_columns(const cat_tablever *a, const cat_tablever *b);
/* UDR_EINVAL saying that version of table (0: unknown) is a raw version
 * and why that stops what was asked (e.g. "it has no columns to query"). */
int catv_raw_error(udr_err *err, const char *table, uint64_t version, const char *why);

/* ---- commits ----------------------------------------------------------- */

typedef struct cat_entry {
    char *table;
    uint64_t version;
    udr_hash hash;
} cat_entry;

typedef struct cat_commit {
    int nparents;
    udr_hash parents[2];
    int64_t time_us;
    char *author;
    char *message;
    cat_entry *tables;               /* sorted by name */
    size_t ntables;
} cat_commit;

char *catc_encode(const cat_commit *c, size_t *len);
int catc_decode(const void *data, size_t len, cat_commit *c, udr_err *err);
void catc_free(cat_commit *c);

/* ---- names ------------------------------------------------------------- */

/* A table name: 1..CATALOG_NAME_MAX bytes of [A-Za-z0-9_], not starting
 * with a digit (so it is a plain SQL identifier). UDR_EINVAL otherwise, with
 * a message that says why. */
int catalog_check_name(const char *name, udr_err *err);

/* A branch or tag name (what: "branch" or "tag"), like git's: 1 to
 * CATALOG_REF_MAX bytes of letters, digits and . _ - /, in /-separated parts
 * that are not empty and do not start with . or -, with no "..", not ending
 * in / or . or .lock, and not all digits or a time (those mean versions and
 * instants after a table's @). UDR_EINVAL with a message that says why. */
int catalog_check_ref_name(const char *name, const char *what, udr_err *err);

/* ---- the index --------------------------------------------------------- */

typedef struct cat_version {
    uint64_t version;
    udr_hash hash;                   /* zero for a drop */
    int dropped;
    int64_t time_us;
    uint64_t seq;                    /* the log record that made it */
    udr_hash commit;
    int64_t expired_us;              /* when an expire record let it go; 0: kept */
    uint64_t expired_seq;            /*   and that record */
} cat_version;

typedef struct cat_table {
    char *name;
    cat_version *v;                  /* by version number, ascending */
    size_t nv, cap;
} cat_table;

typedef struct cat_point {           /* one commit in a branch's history */
    uint64_t seq;
    int64_t time_us;
    udr_hash commit;
} cat_point;

typedef struct cat_branch {
    char *name;
    char *description;
    int64_t created_us;
    int has_head;                    /* 0: no commit yet */
    udr_hash head;
    cat_entry *tables;               /* the head's tables, sorted by name */
    size_t ntables, tcap;
    cat_point *points;               /* the heads it had (those loaded), oldest first */
    size_t npoints, pcap;
    char *broken;                    /* why it cannot be used (its head commit is missing
                                        or damaged), or NULL: it has no tables then */
} cat_branch;

typedef struct cat_tag {
    char *name;
    udr_hash commit;
    int64_t time_us;
    char *message;
} cat_tag;

typedef struct cat_sub {
    char *name;
    char *branch;                    /* the branch it follows */
    char **tables;                   /* sorted */
    size_t ntables;
    uint64_t cursor;                 /* acknowledged through this log record */
    int64_t created_us;
} cat_sub;

typedef struct catalog {
    store *store;
    udrlog log;
    udr_err *err;
    cat_table *tables;               /* every table ever, sorted by name */
    size_t ntables, tcap;
    cat_branch *branches;            /* sorted by name; main always there */
    size_t nbranches, bcap;
    cat_tag *tags;                   /* sorted by name */
    size_t ntags, tgcap;
    cat_point *history;              /* every commit, in log order */
    size_t nhist, histcap;
    cat_sub *subs;                   /* subscriptions, sorted by name */
    size_t nsubs, scap;
    udr_hash *checkpoints;           /* the checkpoint objects the log names (those
                                        read: all of them once complete) */
    size_t nckpt, ckcap;
    char current[CATALOG_REF_MAX + 1];   /* the repository's current branch */
    char work[CATALOG_REF_MAX + 1];  /* this handle's branch; "" follows current */
    int complete;                    /* 0: loaded from a checkpoint, history partial */
    int flags;                       /* CATALOG_READONLY, CATALOG_SALVAGE */
    int damaged;                     /* salvage: the log could not be read past a record */
    char damage[ERR_MSG_BYTES];      /*   which, and why (the log's message) */
    char repo[PATH_MAX];
    uint64_t checkpoint_every;       /* records per segment (tests lower it) */
} catalog;

enum { CATALOG_CHECKPOINT_EVERY = 1000 };

/* Loads the whole history (a no-op when it is loaded already). */
int catalog_complete(catalog *c);

int catalog_open(catalog *c, store *s, const char *repo, udr_err *err);

/* Opening flags. READONLY: nothing on disk changes (no torn tail is cut, the
 * lock is never taken: every write fails with UDR_EPERM). SALVAGE (with
 * READONLY): a damaged log (UDR_ECORRUPT) is read up to the damage and the
 * index stays as it was there (damaged = 1, damage says where; refreshing
 * reads nothing more); catalog_complete keeps a full history that reaches
 * as far, and fails as before if it stops sooner (damage in an older
 * segment). */
enum { CATALOG_READONLY = 1, CATALOG_SALVAGE = 2 };
int catalog_open_flags(catalog *c, store *s, const char *repo, int flags, udr_err *err);
void catalog_close(catalog *c);

/* Reads what other processes committed since. */
int catalog_refresh(catalog *c);

/* One table's change in a commit: a new content (tv) or a drop (tv NULL). */
typedef struct cat_change {
    const char *table;
    const udr_hash *tv;
    uint64_t version;                /* in: 0 for a new version, else an existing
                                        version of tv (or of the drop) to reuse;
                                        out: the version number */
} cat_change;

/* A subscription's cursor moved by a commit (exactly-once consumers): the
 * commit fails with UDR_ECONFLICT unless the cursor is still at expect. */
typedef struct cat_ack {
    const char *name;
    uint64_t expect;
    uint64_t seq;
} cat_ack;

typedef struct cat_commit_opts {
    const char *branch;              /* NULL: the working branch */
    const char *message, *author;
    const udr_hash *merge_parent;    /* the second parent of a merge, or NULL */
    int check_head;                  /* refuse (UDR_ECONFLICT) if the branch's head is */
    int expect_has_head;             /*   no longer expect_head (or still empty) */
    udr_hash expect_head;
    int locked;                      /* the caller holds the log's lock (catalog_lock)
                                        and makes the commit durable (catalog_sync)
                                        after catalog_unlock */
    const cat_ack *acks;             /* cursors that move with the commit */
    size_t nacks;
} cat_commit_opts;

/* The writers' lock on the log, for a caller that must decide and commit
 * with nothing committed in between (catalog_refresh after taking it).
 * catalog_sync makes the commits made under it durable: call it after
 * catalog_unlock, before acknowledging them. */
int catalog_lock(catalog *c);
void catalog_unlock(catalog *c);
int catalog_sync(catalog *c);

/* Commits changes to a branch as one log record: takes the lock, reads what
 * others committed, numbers the new versions, writes the commit object
 * (parents: the branch head, and the merge parent), appends the record. A
 * drop of a table the branch does not have is UDR_ENOTFOUND. */
int catalog_commit_on(catalog *c, const cat_commit_opts *o, cat_change *changes, size_t n,
                      udr_hash *commit_out);

/* The same, on the working branch, with no head check. */
int catalog_commit(catalog *c, const char *message, const char *author, cat_change *changes,
                   size_t n, udr_hash *commit_out);

typedef enum cat_ref_kind {
    CAT_REF_BRANCH = 1,              /* create or move a branch */
    CAT_REF_BRANCH_DELETE = 2,
    CAT_REF_TAG = 3,
    CAT_REF_TAG_DELETE = 4,
    CAT_REF_CHECKOUT = 5,
} cat_ref_kind;

typedef struct cat_ref_change {
    cat_ref_kind kind;
    const char *name;
    const udr_hash *commit;          /* NULL: none (an empty branch) */
    const char *text;                /* a new branch's description, a tag's message */
    int create;                      /* branch, tag: the name must be new */
    int check_head;                  /* moving a branch: its head must still be */
    int expect_has_head;             /*   expect_head (or still empty) */
    udr_hash expect_head;
} cat_ref_change;

/* Appends a ref record under the lock, after checking it against what
 * others committed: a new name must be new (UDR_EEXIST), a branch or tag to
 * delete or check out must exist (UDR_ENOTFOUND), main is never deleted. */
int catalog_set_ref(catalog *c, const cat_ref_change *r);

const cat_table *catalog_table(const catalog *c, const char *name);
/* A branch by name; NULL name: the working branch. NULL if there is none,
 * or if it is broken (its head commit cannot be read; catalog_branch_error
 * says which). */
const cat_branch *catalog_branch(const catalog *c, const char *name);
/* The same, broken or not (to list or delete it). */
const cat_branch *catalog_branch_any(const catalog *c, const char *name);
/* The error for a name catalog_branch gave NULL for: the branch is broken
 * (UDR_ECORRUPT, why), or there is none (UDR_ENOTFOUND). */
int catalog_branch_error(const catalog *c, const char *name);
const cat_tag *catalog_tag(const catalog *c, const char *name);
/* The working branch's name: the handle's own, else the repository's. */
const char *catalog_work_branch(const catalog *c);
/* Sets the handle's branch (NULL or "": follow the repository's current
 * branch). UDR_ENOTFOUND for a branch that does not exist. */
int catalog_set_work_branch(catalog *c, const char *name);
/* A table's entry at the working branch's head, or NULL. */
const cat_entry *catalog_head_entry(const catalog *c, const char *name);

/* Resolves a reference to a table's content: ref NULL or "" is the working
 * branch's head; digits are a version number; a branch name is that
 * branch's head; a tag is its commit; anything else is an instant in ISO
 * 8601 (2026-11-24T10:00:00Z, or with a +hh:mm offset, or a date), meaning
 * the version the working branch had then. UDR_ENOTFOUND with a message that
 * names the table or version and says where to look. */
int catalog_resolve(catalog *c, const char *table, const char *ref, cat_version *out);

/* The table's entry in a commit: *found 0 if the commit has no such table. */
int catalog_commit_entry(catalog *c, const udr_hash *commit, const char *table, cat_entry *out,
                         int *found);

/* A version of a table by number (dropped ones included); NULL if none. */
const cat_version *catalog_version(const catalog *c, const char *table, uint64_t version);

/* Reads and decodes an object of the store (verified). */
int catalog_read_tablever(catalog *c, const udr_hash *h, cat_tablever *tv);
int catalog_read_commit(catalog *c, const udr_hash *h, cat_commit *cm);

/* ---- subscriptions ------------------------------------------------------ */

const cat_sub *catalog_sub(const catalog *c, const char *name);

/* Records a new subscription (under the lock, after reading what others
 * did): UDR_EEXIST for a name in use, UDR_ENOTFOUND for a branch or table
 * that is not there. cursor UINT64_MAX: the log's last record then. */
int catalog_sub_create(catalog *c, const char *name, const char *branch,
                       const char *const *tables, size_t ntables, uint64_t cursor);
int catalog_sub_drop(catalog *c, const char *name);

/* Moves a cursor to seq: UDR_EINVAL if seq is behind it or past the log's
 * last record; UDR_ECONFLICT if expect (UINT64_MAX: any) is not where it is
 * now. Checks the acks of a commit the same way (lock held). */
int catalog_sub_ack(catalog *c, const char *name, uint64_t expect, uint64_t seq);
int catalog_check_acks(catalog *c, const cat_ack *acks, size_t n);

/* ---- retention (catexp.c) ---------------------------------------------- */

typedef struct cat_expiry {
    const char *table;
    uint64_t version;
} cat_expiry;

/* Appends an expire record for versions (lock held by the caller, after
 * catalog_refresh and catalog_complete; each must exist, not be a drop, not
 * be expired, and not be its table's newest version: UDR_EINVAL otherwise).
 * rule: the rule applied, as the user gave it, for the history. */
int catalog_expire(catalog *c, const char *rule, const cat_expiry *v, size_t n, uint64_t *seq);

/* UDR_ENOTFOUND naming table and version if v is expired (and when, and by
 * which record); UDR_OK otherwise. */
int catalog_check_kept(catalog *c, const char *table, const cat_version *v);

/* UDR_EINVAL if commit names a table version that was expired (it can no
 * longer be a branch head or a tag: its rows may be gone). */
int catalog_check_commit_kept(catalog *c, const udr_hash *commit);

/* Parses an ISO 8601 instant into microseconds since 1970; -1 if malformed. */
int catalog_parse_time(const char *s, int64_t *us);

#endif
