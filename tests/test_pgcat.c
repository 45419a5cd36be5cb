/*
 * Tests of the PostgreSQL catalog emulation of `udr serve`: pgtypes (DuckDB
 * types and values as PostgreSQL's, checked on DuckDB's real output) and
 * pgcat (the exact queries psql 15 sends for \dt \d \d NAME \dt+ \d+ NAME
 * \dn \l \du \df \dx \di, captured with psql -E against PostgreSQL 15, answered from a
 * repository's tables; drivers' pg_type look-ups; information_schema).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgcat.h"
#include "pgtypes.h"
#include "udrtest.h"

/* ---- psql 15's queries, as psql -E printed them ('@OID@': the table's) -- */

static const char DT[] =
    "SELECT n.nspname as \"Schema\",\n"
    "  c.relname as \"Name\",\n"
    "  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as \"Type\",\n"
    "  pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\"\n"
    "FROM pg_catalog.pg_class c\n"
    "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
    "     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam\n"
    "WHERE c.relkind IN ('r','p','')\n"
    "      AND n.nspname <> 'pg_catalog'\n"
    "      AND n.nspname !~ '^pg_toast'\n"
    "      AND n.nspname <> 'information_schema'\n"
    "  AND pg_catalog.pg_table_is_visible(c.oid)\n"
    "ORDER BY 1,2;";

static const char D[] =
    "SELECT n.nspname as \"Schema\",\n"
    "  c.relname as \"Name\",\n"
    "  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as \"Type\",\n"
    "  pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\"\n"
    "FROM pg_catalog.pg_class c\n"
    "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
    "     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam\n"
    "WHERE c.relkind IN ('r','p','v','m','S','f','')\n"
    "      AND n.nspname <> 'pg_catalog'\n"
    "      AND n.nspname !~ '^pg_toast'\n"
    "      AND n.nspname <> 'information_schema'\n"
    "  AND pg_catalog.pg_table_is_visible(c.oid)\n"
    "ORDER BY 1,2;";

static const char D_LOOKUP[] =
    "SELECT c.oid,\n"
    "  n.nspname,\n"
    "  c.relname\n"
    "FROM pg_catalog.pg_class c\n"
    "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
    "WHERE c.relname OPERATOR(pg_catalog.~) '^(users)$' COLLATE pg_catalog.default\n"
    "  AND pg_catalog.pg_table_is_visible(c.oid)\n"
    "ORDER BY 2, 3;";

static const char D_TABLE[] =
    "SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, '', c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, am.amname\n"
    "FROM pg_catalog.pg_class c\n"
    " LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)\n"
    "LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)\n"
    "WHERE c.oid = '@OID@';";

static const char D_COLUMNS[] =
    "SELECT a.attname,\n"
    "  pg_catalog.format_type(a.atttypid, a.atttypmod),\n"
    "  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)\n"
    "   FROM pg_catalog.pg_attrdef d\n"
    "   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),\n"
    "  a.attnotnull,\n"
    "  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t\n"
    "   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,\n"
    "  a.attidentity,\n"
    "  a.attgenerated\n"
    "FROM pg_catalog.pg_attribute a\n"
    "WHERE a.attrelid = '@OID@' AND a.attnum > 0 AND NOT a.attisdropped\n"
    "ORDER BY a.attnum;";

static const char D_INDEXES[] =
    "SELECT c2.relname, i.indisprimary, i.indisunique, i.indisclustered, i.indisvalid, pg_catalog.pg_get_indexdef(i.indexrelid, 0, true),\n"
    "  pg_catalog.pg_get_constraintdef(con.oid, true), contype, condeferrable, condeferred, i.indisreplident, c2.reltablespace\n"
    "FROM pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_index i\n"
    "  LEFT JOIN pg_catalog.pg_constraint con ON (conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x'))\n"
    "WHERE c.oid = '@OID@' AND c.oid = i.indrelid AND i.indexrelid = c2.oid\n"
    "ORDER BY i.indisprimary DESC, c2.relname;";

static const char D_POLICIES[] =
    "SELECT pol.polname, pol.polpermissive,\n"
    "  CASE WHEN pol.polroles = '{0}' THEN NULL ELSE pg_catalog.array_to_string(array(select rolname from pg_catalog.pg_roles where oid = any (pol.polroles) order by 1),',') END,\n"
    "  pg_catalog.pg_get_expr(pol.polqual, pol.polrelid),\n"
    "  pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid),\n"
    "  CASE pol.polcmd\n"
    "    WHEN 'r' THEN 'SELECT'\n"
    "    WHEN 'a' THEN 'INSERT'\n"
    "    WHEN 'w' THEN 'UPDATE'\n"
    "    WHEN 'd' THEN 'DELETE'\n"
    "    END AS cmd\n"
    "FROM pg_catalog.pg_policy pol\n"
    "WHERE pol.polrelid = '@OID@' ORDER BY 1;";

static const char D_STATISTICS[] =
    "SELECT oid, stxrelid::pg_catalog.regclass, stxnamespace::pg_catalog.regnamespace::pg_catalog.text AS nsp, stxname,\n"
    "pg_catalog.pg_get_statisticsobjdef_columns(oid) AS columns,\n"
    "  'd' = any(stxkind) AS ndist_enabled,\n"
    "  'f' = any(stxkind) AS deps_enabled,\n"
    "  'm' = any(stxkind) AS mcv_enabled,\n"
    "stxstattarget\n"
    "FROM pg_catalog.pg_statistic_ext\n"
    "WHERE stxrelid = '@OID@'\n"
    "ORDER BY nsp, stxname;";

static const char D_PUBLICATIONS[] =
    "SELECT pubname\n"
    "     , NULL\n"
    "     , NULL\n"
    "FROM pg_catalog.pg_publication p\n"
    "     JOIN pg_catalog.pg_publication_namespace pn ON p.oid = pn.pnpubid\n"
    "     JOIN pg_catalog.pg_class pc ON pc.relnamespace = pn.pnnspid\n"
    "WHERE pc.oid ='@OID@' and pg_catalog.pg_relation_is_publishable('@OID@')\n"
    "UNION\n"
    "SELECT pubname\n"
    "     , pg_get_expr(pr.prqual, c.oid)\n"
    "     , (CASE WHEN pr.prattrs IS NOT NULL THEN\n"
    "         (SELECT string_agg(attname, ', ')\n"
    "           FROM pg_catalog.generate_series(0, pg_catalog.array_upper(pr.prattrs::pg_catalog.int2[], 1)) s,\n"
    "                pg_catalog.pg_attribute\n"
    "          WHERE attrelid = pr.prrelid AND attnum = prattrs[s])\n"
    "        ELSE NULL END) FROM pg_catalog.pg_publication p\n"
    "     JOIN pg_catalog.pg_publication_rel pr ON p.oid = pr.prpubid\n"
    "     JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid\n"
    "WHERE pr.prrelid = '@OID@'\n"
    "UNION\n"
    "SELECT pubname\n"
    "     , NULL\n"
    "     , NULL\n"
    "FROM pg_catalog.pg_publication p\n"
    "WHERE p.puballtables AND pg_catalog.pg_relation_is_publishable('@OID@')\n"
    "ORDER BY 1;";

static const char D_INHERITS[] =
    "SELECT c.oid::pg_catalog.regclass\n"
    "FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i\n"
    "WHERE c.oid = i.inhparent AND i.inhrelid = '@OID@'\n"
    "  AND c.relkind != 'p' AND c.relkind != 'I'\n"
    "ORDER BY inhseqno;";

static const char D_PARTITIONS[] =
    "SELECT c.oid::pg_catalog.regclass, c.relkind, inhdetachpending, pg_catalog.pg_get_expr(c.relpartbound, c.oid)\n"
    "FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i\n"
    "WHERE c.oid = i.inhrelid AND i.inhparent = '@OID@'\n"
    "ORDER BY pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', c.oid::pg_catalog.regclass::pg_catalog.text;";

static const char DN[] =
    "SELECT n.nspname AS \"Name\",\n"
    "  pg_catalog.pg_get_userbyid(n.nspowner) AS \"Owner\"\n"
    "FROM pg_catalog.pg_namespace n\n"
    "WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'\n"
    "ORDER BY 1;";

static const char L[] =
    "SELECT d.datname as \"Name\",\n"
    "       pg_catalog.pg_get_userbyid(d.datdba) as \"Owner\",\n"
    "       pg_catalog.pg_encoding_to_char(d.encoding) as \"Encoding\",\n"
    "       d.datcollate as \"Collate\",\n"
    "       d.datctype as \"Ctype\",\n"
    "       d.daticulocale as \"ICU Locale\",\n"
    "       CASE d.datlocprovider WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu' END AS \"Locale Provider\",\n"
    "       pg_catalog.array_to_string(d.datacl, E'\\n') AS \"Access privileges\"\n"
    "FROM pg_catalog.pg_database d\n"
    "ORDER BY 1;";

static const char DT_PLUS[] =
    "SELECT n.nspname as \"Schema\",\n"
    "  c.relname as \"Name\",\n"
    "  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as \"Type\",\n"
    "  pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\",\n"
    "  CASE c.relpersistence WHEN 'p' THEN 'permanent' WHEN 't' THEN 'temporary' WHEN 'u' THEN 'unlogged' END as \"Persistence\",\n"
    "  am.amname as \"Access method\",\n"
    "  pg_catalog.pg_size_pretty(pg_catalog.pg_table_size(c.oid)) as \"Size\",\n"
    "  pg_catalog.obj_description(c.oid, 'pg_class') as \"Description\"\n"
    "FROM pg_catalog.pg_class c\n"
    "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
    "     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam\n"
    "WHERE c.relkind IN ('r','p','')\n"
    "      AND n.nspname <> 'pg_catalog'\n"
    "      AND n.nspname !~ '^pg_toast'\n"
    "      AND n.nspname <> 'information_schema'\n"
    "  AND pg_catalog.pg_table_is_visible(c.oid)\n"
    "ORDER BY 1,2;";

static const char D_PLUS_TABLE[] =
    "SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, pg_catalog.array_to_string(c.reloptions || array(select 'toast.' || x from pg_catalog.unnest(tc.reloptions) x), ', ')\n"
    ", c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, am.amname\n"
    "FROM pg_catalog.pg_class c\n"
    " LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)\n"
    "LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)\n"
    "WHERE c.oid = '@OID@';";

static const char D_PLUS_COLUMNS[] =
    "SELECT a.attname,\n"
    "  pg_catalog.format_type(a.atttypid, a.atttypmod),\n"
    "  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)\n"
    "   FROM pg_catalog.pg_attrdef d\n"
    "   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),\n"
    "  a.attnotnull,\n"
    "  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t\n"
    "   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,\n"
    "  a.attidentity,\n"
    "  a.attgenerated,\n"
    "  a.attstorage,\n"
    "  a.attcompression AS attcompression,\n"
    "  CASE WHEN a.attstattarget=-1 THEN NULL ELSE a.attstattarget END AS attstattarget,\n"
    "  pg_catalog.col_description(a.attrelid, a.attnum)\n"
    "FROM pg_catalog.pg_attribute a\n"
    "WHERE a.attrelid = '@OID@' AND a.attnum > 0 AND NOT a.attisdropped\n"
    "ORDER BY a.attnum;";

static const char DT_USERS[] =
    "SELECT n.nspname as \"Schema\",\n"
    "  c.relname as \"Name\",\n"
    "  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as \"Type\",\n"
    "  pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\"\n"
    "FROM pg_catalog.pg_class c\n"
    "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
    "     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam\n"
    "WHERE c.relkind IN ('r','p','t','s','')\n"
    "  AND c.relname OPERATOR(pg_catalog.~) '^(users)$' COLLATE pg_catalog.default\n"
    "  AND pg_catalog.pg_table_is_visible(c.oid)\n"
    "ORDER BY 1,2;";

static const char DU[] =
    "SELECT r.rolname, r.rolsuper, r.rolinherit,\n"
    "  r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,\n"
    "  r.rolconnlimit, r.rolvaliduntil,\n"
    "  ARRAY(SELECT b.rolname\n"
    "        FROM pg_catalog.pg_auth_members m\n"
    "        JOIN pg_catalog.pg_roles b ON (m.roleid = b.oid)\n"
    "        WHERE m.member = r.oid) as memberof\n"
    ", r.rolreplication\n"
    ", r.rolbypassrls\n"
    "FROM pg_catalog.pg_roles r\n"
    "WHERE r.rolname !~ '^pg_'\n"
    "ORDER BY 1;";

static const char DF[] =
    "SELECT n.nspname as \"Schema\",\n"
    "  p.proname as \"Name\",\n"
    "  pg_catalog.pg_get_function_result(p.oid) as \"Result data type\",\n"
    "  pg_catalog.pg_get_function_arguments(p.oid) as \"Argument data types\",\n"
    " CASE p.prokind\n"
    "  WHEN 'a' THEN 'agg'\n"
    "  WHEN 'w' THEN 'window'\n"
    "  WHEN 'p' THEN 'proc'\n"
    "  ELSE 'func'\n"
    " END as \"Type\"\n"
    "FROM pg_catalog.pg_proc p\n"
    "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace\n"
    "WHERE pg_catalog.pg_function_is_visible(p.oid)\n"
    "      AND n.nspname <> 'pg_catalog'\n"
    "      AND n.nspname <> 'information_schema'\n"
    "ORDER BY 1, 2, 4;";

static const char DX[] =
    "SELECT e.extname AS \"Name\", e.extversion AS \"Version\", n.nspname AS \"Schema\", c.description AS \"Description\"\n"
    "FROM pg_catalog.pg_extension e LEFT JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace LEFT JOIN pg_catalog.pg_description c ON c.objoid = e.oid AND c.classoid = 'pg_catalog.pg_extension'::pg_catalog.regclass\n"
    "ORDER BY 1;";

static const char DI[] =
    "SELECT n.nspname as \"Schema\",\n"
    "  c.relname as \"Name\",\n"
    "  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as \"Type\",\n"
    "  pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\",\n"
    "  c2.relname as \"Table\"\n"
    "FROM pg_catalog.pg_class c\n"
    "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
    "     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam\n"
    "     LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid\n"
    "     LEFT JOIN pg_catalog.pg_class c2 ON i.indrelid = c2.oid\n"
    "WHERE c.relkind IN ('i','I','')\n"
    "      AND n.nspname <> 'pg_catalog'\n"
    "      AND n.nspname !~ '^pg_toast'\n"
    "      AND n.nspname <> 'information_schema'\n"
    "  AND pg_catalog.pg_table_is_visible(c.oid)\n"
    "ORDER BY 1,2;";

/* ---- helpers --------------------------------------------------------------- */

/* q with every @OID@ replaced by oid (a static buffer). */
static const char *with_oid(const char *q, uint32_t oid)
{
    static char out[16384];
    size_t o = 0;
    for (const char *p = q; *p && o + 16 < sizeof out;) {
        if (strncmp(p, "@OID@", 5) == 0) {
            o += (size_t)snprintf(out + o, sizeof out - o, "%u", oid);
            p += 5;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    return out;
}

/* Rewrites sql (which must be recognised) and runs the result. */
static udr_result *catalog(udr_repo *r, const char *sql)
{
    int rc = 99;
    char *q = pgcat_rewrite(r, sql, &rc);
    if (q == NULL)
        harness_fail(__FILE__, __LINE__, "not rewritten (rc %d): %.80s", rc, sql);
    REQUIRE(q != NULL);
    CHECK_INT(rc, ==, 0);
    udr_result *res = NULL;
    if (udr_query(r, q, NULL, 0, &res) != UDR_OK)
        harness_fail(__FILE__, __LINE__, "%s\nfor: %s", udr_errmsg(r), q);
    free(q);
    REQUIRE(res != NULL);
    return res;
}

/* The result's column names joined by "|" (a static buffer). */
static const char *columns(const udr_result *res)
{
    static char out[1024];
    out[0] = '\0';
    for (size_t c = 0; c < udr_result_columns(res); c++) {
        if (c > 0)
            strncat(out, "|", sizeof out - strlen(out) - 1);
        strncat(out, udr_result_column_name(res, c), sizeof out - strlen(out) - 1);
    }
    return out;
}

/* A row as PostgreSQL would send it: each value in pgtypes' text, NULL as
 * NULL, joined by "|" (a static buffer). */
static const char *row(const udr_result *res, uint64_t i)
{
    static char out[4096];
    out[0] = '\0';
    for (size_t c = 0; c < udr_result_columns(res); c++) {
        if (c > 0)
            strncat(out, "|", sizeof out - strlen(out) - 1);
        char *v = udr_result_text(res, i, c);
        if (v == NULL) {
            strncat(out, "NULL", sizeof out - strlen(out) - 1);
            continue;
        }
        size_t n;
        char *t = pg_type_text(udr_result_column_type(res, c), v, strlen(v), &n);
        strncat(out, t ? t : "(oom)", sizeof out - strlen(out) - 1);
        free(t);
        udr_free(v);
    }
    return out;
}

/* A repository with users (keyed by id) and events (no key). */
static udr_repo *catalog_repo(void)
{
    udr_repo *r = new_repo();
    const char *key[] = {"id", NULL};
    must_write(r, "users",
               "SELECT 1::BIGINT AS id, 'ann' AS name, 12.5::DECIMAL(18,3) AS score,"
               " ['a', 'b c'] AS tags, TIMESTAMPTZ '2026-01-02 03:04:05+00' AS created"
               " UNION ALL SELECT 2, 'bob', NULL, [], NULL",
               key, NULL);
    udr_result *res = NULL;
    MUST(r, udr_query(r, "CREATE TABLE events AS SELECT 7::INTEGER AS id, '\\x00'::BLOB AS payload",
                      NULL, 0, &res));
    udr_result_free(res);
    return r;
}

/* ---- pgtypes ----------------------------------------------------------------- */

static void test_type_oids(void)
{
    static const struct {
        const char *duck;
        uint32_t oid;
        const char *format;
    } cases[] = {
        {"BOOLEAN", 16, "boolean"},
        {"TINYINT", 21, "smallint"},
        {"SMALLINT", 21, "smallint"},
        {"UTINYINT", 21, "smallint"},
        {"INTEGER", 23, "integer"},
        {"USMALLINT", 23, "integer"},
        {"BIGINT", 20, "bigint"},
        {"UINTEGER", 20, "bigint"},
        {"UBIGINT", 1700, "numeric"},
        {"HUGEINT", 1700, "numeric"},
        {"UHUGEINT", 1700, "numeric"},
        {"DECIMAL(18,3)", 1700, "numeric(18,3)"},
        {"FLOAT", 700, "real"},
        {"DOUBLE", 701, "double precision"},
        {"VARCHAR", 25, "text"},
        {"BLOB", 17, "bytea"},
        {"DATE", 1082, "date"},
        {"TIME", 1083, "time without time zone"},
        {"TIMESTAMP", 1114, "timestamp without time zone"},
        {"TIMESTAMP_S", 1114, "timestamp without time zone"},
        {"TIMESTAMP_MS", 1114, "timestamp without time zone"},
        {"TIMESTAMP_NS", 1114, "timestamp without time zone"},
        {"TIMESTAMP WITH TIME ZONE", 1184, "timestamp with time zone"},
        {"INTERVAL", 1186, "interval"},
        {"UUID", 2950, "uuid"},
        {"JSON", 114, "json"},
        {"BOOLEAN[]", 1000, "boolean[]"},
        {"SMALLINT[]", 1005, "smallint[]"},
        {"INTEGER[]", 1007, "integer[]"},
        {"INTEGER[][]", 1007, "integer[]"},
        {"BIGINT[]", 1016, "bigint[]"},
        {"FLOAT[]", 1021, "real[]"},
        {"DOUBLE[]", 1022, "double precision[]"},
        {"VARCHAR[]", 1009, "text[]"},
        {"DECIMAL(5,2)[]", 1231, "numeric(5,2)[]"},
        {"DATE[]", 1182, "date[]"},
        {"TIMESTAMP[]", 1115, "timestamp without time zone[]"},
        {"TIMESTAMP WITH TIME ZONE[]", 1185, "timestamp with time zone[]"},
        {"UUID[]", 2951, "uuid[]"},
        {"BLOB[]", 1001, "bytea[]"},
        {"STRUCT(a INTEGER)", 25, "text"},
        {"STRUCT(a INTEGER)[]", 25, "text"},
        {"MAP(VARCHAR, INTEGER)", 25, "text"},
        {"ENUM('a', 'b')", 25, "text"},
        {"ARRAY", 25, "text"},
        {"bigint", 20, "bigint"},
        {NULL, 25, "text"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const pg_type *t = pg_type_of(cases[i].duck);
        REQUIRE(t != NULL);
        char fmt[128];
        pg_type_format(cases[i].duck, fmt, sizeof fmt);
        if (t->oid != cases[i].oid || strcmp(fmt, cases[i].format) != 0)
            harness_fail(__FILE__, __LINE__, "%s: oid %u \"%s\", wanted %u \"%s\"",
                         cases[i].duck ? cases[i].duck : "(null)", t->oid, fmt, cases[i].oid,
                         cases[i].format);
        CHECK(pg_type_by_oid(t->oid) == t);
    }
    const pg_type *t = pg_type_by_oid(20);
    REQUIRE(t != NULL);
    CHECK_STR(t->name, "int8");
    CHECK_STR(t->sql, "bigint");
    CHECK_INT(t->len, ==, 8);
    CHECK_INT(t->array, ==, 1016);
    CHECK_INT(pg_type_by_oid(1007)->elem, ==, 23);
    CHECK_INT(pg_type_by_oid(25)->len, ==, -1);
    CHECK(pg_type_by_oid(0) == NULL);
    CHECK(pg_type_by_oid(99999) == NULL);
    CHECK_STR(pg_type_param_cast(20), "BIGINT");
    CHECK_STR(pg_type_param_cast(16), "BOOLEAN");
    CHECK_STR(pg_type_param_cast(17), "BLOB");
    CHECK_STR(pg_type_param_cast(2950), "UUID");
    CHECK(pg_type_param_cast(0) == NULL);
    CHECK(pg_type_param_cast(25) == NULL);
    CHECK(pg_type_param_cast(1700) == NULL);
    CHECK(pg_type_param_cast(12345) == NULL);
    /* a short buffer is cut, not overrun */
    char small[5];
    pg_type_format("TIMESTAMP WITH TIME ZONE", small, sizeof small);
    CHECK_STR(small, "time");
}

/* Each value of the query's one row, converted, against want (NULL: SQL NULL). */
static void check_values(udr_repo *r, const char *sql, const char *const *want, size_t n)
{
    udr_result *res = NULL;
    MUST(r, udr_query(r, sql, NULL, 0, &res));
    REQUIRE(udr_result_columns(res) == n);
    for (size_t c = 0; c < n; c++) {
        const char *type = udr_result_column_type(res, c);
        char *v = NULL;
        const char *val;
        size_t len;
        if (pg_type_of(type)->oid == 17) {
            val = udr_result_bytes(res, 0, c, &len);
        } else {
            v = udr_result_text(res, 0, c);
            val = v;
            len = v ? strlen(v) : 0;
        }
        size_t outlen = 0;
        char *out = val ? pg_type_text(type, val, len, &outlen) : NULL;
        if (want[c] == NULL ? out != NULL
                            : out == NULL || outlen != strlen(want[c]) || strcmp(out, want[c]) != 0)
            harness_fail(__FILE__, __LINE__, "column %zu (%s): DuckDB \"%s\" became \"%s\", wanted \"%s\"",
                         c, type, val ? val : "NULL", out ? out : "NULL",
                         want[c] ? want[c] : "NULL");
        free(out);
        udr_free(v);
    }
    udr_result_free(res);
}

static void test_type_text(void)
{
    udr_repo *r = new_repo();
    const char *scalars[] = {"t", "f", NULL, "Infinity", "-Infinity", "NaN", "2", "1e+06",
                             "0.1", "1e+16", "123456789012345", "1e-05", "-0", "1.5",
                             "123.450", "-0.50", "170141183460469231731687303715884105727",
                             "550e8400-e29b-41d4-a716-446655440000", "2026-01-02",
                             "03:04:05.5", "2026-01-02 03:04:05.123",
                             "2026-01-02 03:04:05+00", "2026-01-02 01:04:05.25+00",
                             "1 year 2 mons 3 days 04:05:06.5", "-1 mon", "01:30:00",
                             "0044-03-15 BC", "0044-03-15 12:00:00 BC", "255", "héllo"};
    check_values(r,
                 "SELECT true, false, NULL::BOOLEAN, 'inf'::DOUBLE, '-inf'::FLOAT, 'nan'::DOUBLE,"
                 " 2.0::DOUBLE, 1e6::FLOAT, 0.1::DOUBLE, 1e16::DOUBLE, 123456789012345::DOUBLE,"
                 " 1e-5::DOUBLE, -0.0::DOUBLE, 1.5::FLOAT, 123.450::DECIMAL(18,3),"
                 " -0.5::DECIMAL(4,2), 170141183460469231731687303715884105727::HUGEINT,"
                 " UUID '550e8400-e29b-41d4-a716-446655440000', DATE '2026-01-02',"
                 " TIME '03:04:05.5', TIMESTAMP '2026-01-02 03:04:05.123',"
                 " TIMESTAMPTZ '2026-01-02 03:04:05+00', TIMESTAMPTZ '2026-01-02 03:04:05.25+02',"
                 " INTERVAL '1 year 2 months 3 days 04:05:06.5', INTERVAL '-1 month',"
                 " INTERVAL '90 minutes', DATE '0044-03-15 (BC)', TIMESTAMP '0044-03-15 (BC) 12:00',"
                 " 255::UTINYINT, 'héllo'",
                 scalars, sizeof scalars / sizeof scalars[0]);
    /* bytes 0x00 and 0xff, and an empty blob */
    const char *blobs[] = {"\\x00ff61", "\\x"};
    check_values(r, "SELECT '\\x00\\xFFa'::BLOB, ''::BLOB", blobs, 2);
    const char *lists[] = {
        "{1,2,NULL}",
        "{\"a b\",\"c,d\",\"\\\"q\\\"\",\"{x}\",\"back\\\\s\",NULL,\"\",\"NULL\",plain,it's,é}",
        "{{1,2},{3,4}}",
        "{t,f,NULL}",
        "{Infinity,NaN,2,0.5}",
        "{}",
        "{NULL}",
        "{\"2026-01-02 03:04:05\"}",
        "{\"2026-01-02 03:04:05+00\"}",
        "{\"\\\\x00\",\"\\\\x5c27\",\"\\\\x612c62\"}",
        "{1.50,NULL}",
        "{550e8400-e29b-41d4-a716-446655440000}",
        "{\"1 mon\"}",
        "[{'a': 1}]",
        "{[x],\"x y \",\"it's, here\",a:b}",
    };
    check_values(r,
                 "SELECT [1, 2, NULL],"
                 " ['a b', 'c,d', '\"q\"', '{x}', 'back\\s', NULL, '', 'NULL', 'plain', 'it''s', 'é'],"
                 " [[1, 2], [3, 4]], [true, false, NULL], ['inf'::DOUBLE, 'nan', 2, 0.5],"
                 " []::INTEGER[], [NULL]::INTEGER[], [TIMESTAMP '2026-01-02 03:04:05'],"
                 " [TIMESTAMPTZ '2026-01-02 03:04:05+00'], ['\\x00'::BLOB, '\\x5C\\x27'::BLOB, 'a,b'::BLOB],"
                 " [1.50::DECIMAL(5,2), NULL], [UUID '550e8400-e29b-41d4-a716-446655440000'],"
                 " [INTERVAL '1 month'], [{'a': 1}], ['[x]', 'x y ', 'it''s, here', 'a:b']",
                 lists, sizeof lists / sizeof lists[0]);
    /* Text that is not DuckDB's list text goes as it came. */
    size_t n;
    char *t = pg_type_text("INTEGER[]", "[1, 2", 5, &n);
    CHECK_STR(t, "[1, 2");
    free(t);
    t = pg_type_text("VARCHAR", "", 0, &n);
    CHECK_STR(t, "");
    CHECK_INT(n, ==, 0);
    free(t);
    udr_close(r);
}

/* ---- pgcat: psql --------------------------------------------------------------- */

static void test_psql_list_relations(void)
{
    udr_repo *r = catalog_repo();
    const char *const lists[] = {DT, D};
    for (size_t i = 0; i < 2; i++) {
        udr_result *res = catalog(r, lists[i]);
        CHECK_STR(columns(res), "Schema|Name|Type|Owner");
        CHECK_INT(udr_result_rows(res), ==, 2);
        CHECK_STR(row(res, 0), "public|events|table|udr");
        CHECK_STR(row(res, 1), "public|users|table|udr");
        udr_result_free(res);
    }
    udr_result *res = catalog(r, DT_USERS);
    CHECK_INT(udr_result_rows(res), ==, 1);
    CHECK_STR(row(res, 0), "public|users|table|udr");
    udr_result_free(res);
    res = catalog(r, DT_PLUS);
    CHECK_STR(columns(res), "Schema|Name|Type|Owner|Persistence|Access method|Size|Description");
    CHECK_INT(udr_result_rows(res), ==, 2);
    CHECK_CONTAINS(row(res, 1), "public|users|table|udr|permanent|heap|");
    CHECK_CONTAINS(row(res, 1), " bytes|NULL");
    udr_result_free(res);
    /* \dv: no views */
    const char *dv = "SELECT n.nspname as \"Schema\", c.relname as \"Name\" FROM pg_catalog.pg_class c"
                     " LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                     " WHERE c.relkind IN ('v','') ORDER BY 1,2;";
    res = catalog(r, dv);
    CHECK_STR(columns(res), "Schema|Name");
    CHECK_INT(udr_result_rows(res), ==, 0);
    udr_result_free(res);
    /* a pattern that matches nothing; a schema other than public */
    char q[8192];
    snprintf(q, sizeof q, "%s", DT_USERS);
    char *at = strstr(q, "^(users)$");
    REQUIRE(at != NULL);
    memcpy(at, "^(nope.)$", 9);
    res = catalog(r, q);
    CHECK_INT(udr_result_rows(res), ==, 0);
    udr_result_free(res);
    udr_close(r);
}

static void test_psql_describe(void)
{
    udr_repo *r = catalog_repo();
    uint32_t oid = pgcat_table_oid("users");
    CHECK(oid >= 16384);
    CHECK_INT(oid, ==, pgcat_table_oid("users"));
    CHECK(oid != pgcat_table_oid("events"));

    udr_result *res = catalog(r, D_LOOKUP);
    CHECK_STR(columns(res), "oid|nspname|relname");
    REQUIRE(udr_result_rows(res) == 1);
    char want[64];
    snprintf(want, sizeof want, "%u|public|users", oid);
    CHECK_STR(row(res, 0), want);
    udr_result_free(res);

    const char *const tables[] = {D_TABLE, D_PLUS_TABLE};
    for (size_t i = 0; i < 2; i++) {
        res = catalog(r, with_oid(tables[i], oid));
        CHECK_INT(udr_result_columns(res), ==, 15);
        REQUIRE(udr_result_rows(res) == 1);
        CHECK_STR(row(res, 0), i == 0 ? "0|r|t|f|f|f|f|f|f||0||p|d|heap"
                                      : "0|r|t|f|f|f|f|f|f||0||p|d|heap");
        udr_result_free(res);
    }
    res = catalog(r, with_oid(D_COLUMNS, oid));
    CHECK_STR(columns(res),
              "attname|format_type|pg_get_expr|attnotnull|attcollation|attidentity|attgenerated");
    REQUIRE(udr_result_rows(res) == 5);
    CHECK_STR(row(res, 0), "id|bigint|NULL|t|NULL||");
    CHECK_STR(row(res, 1), "name|text|NULL|f|NULL||");
    CHECK_STR(row(res, 2), "score|numeric(18,3)|NULL|f|NULL||");
    CHECK_STR(row(res, 3), "tags|text[]|NULL|f|NULL||");
    CHECK_STR(row(res, 4), "created|timestamp with time zone|NULL|f|NULL||");
    udr_result_free(res);
    res = catalog(r, with_oid(D_PLUS_COLUMNS, oid));
    CHECK_INT(udr_result_columns(res), ==, 11);
    REQUIRE(udr_result_rows(res) == 5);
    CHECK_STR(row(res, 0), "id|bigint|NULL|t|NULL|||p||NULL|NULL");
    CHECK_STR(row(res, 1), "name|text|NULL|f|NULL|||x||NULL|NULL");
    CHECK_STR(row(res, 2), "score|numeric(18,3)|NULL|f|NULL|||m||NULL|NULL");
    udr_result_free(res);

    res = catalog(r, with_oid(D_INDEXES, oid));
    CHECK_INT(udr_result_columns(res), ==, 12);
    REQUIRE(udr_result_rows(res) == 1);
    CHECK_STR(row(res, 0), "users_pkey|t|t|f|t|CREATE UNIQUE INDEX users_pkey ON public.users USING "
                           "btree (id)|PRIMARY KEY (id)|p|f|f|f|0");
    udr_result_free(res);

    /* the follow-ups: no rows, the columns psql reads */
    static const struct {
        const char *q;
        const char *cols;
    } empty[] = {
        {D_POLICIES, "polname|polpermissive|array_to_string|pg_get_expr|pg_get_expr|cmd"},
        {D_STATISTICS, "oid|stxrelid|nsp|stxname|columns|ndist_enabled|deps_enabled|mcv_enabled|"
                       "stxstattarget"},
        {D_PUBLICATIONS, "pubname|?column?|?column?"},
        {D_INHERITS, "oid"},
        {D_PARTITIONS, "oid|relkind|inhdetachpending|pg_get_expr"},
    };
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        res = catalog(r, with_oid(empty[i].q, oid));
        CHECK_STR(columns(res), empty[i].cols);
        CHECK_INT(udr_result_rows(res), ==, 0);
        udr_result_free(res);
    }

    /* events: no key, so no index; an oid nobody has: no rows */
    uint32_t ev = pgcat_table_oid("events");
    res = catalog(r, with_oid(D_TABLE, ev));
    REQUIRE(udr_result_rows(res) == 1);
    CHECK_STR(row(res, 0), "0|r|f|f|f|f|f|f|f||0||p|d|heap");
    udr_result_free(res);
    res = catalog(r, with_oid(D_COLUMNS, ev));
    REQUIRE(udr_result_rows(res) == 2);
    CHECK_STR(row(res, 0), "id|integer|NULL|f|NULL||");
    CHECK_STR(row(res, 1), "payload|bytea|NULL|f|NULL||");
    udr_result_free(res);
    res = catalog(r, with_oid(D_INDEXES, ev));
    CHECK_INT(udr_result_columns(res), ==, 12);
    CHECK_INT(udr_result_rows(res), ==, 0);
    udr_result_free(res);
    res = catalog(r, with_oid(D_COLUMNS, 7));
    CHECK_INT(udr_result_columns(res), ==, 7);
    CHECK_INT(udr_result_rows(res), ==, 0);
    udr_result_free(res);
    res = catalog(r, with_oid(D_TABLE, 7));
    CHECK_INT(udr_result_rows(res), ==, 0);
    udr_result_free(res);
    udr_close(r);
}

static void test_psql_schemas_databases(void)
{
    udr_repo *r = catalog_repo();
    udr_result *res = catalog(r, DN);
    CHECK_STR(columns(res), "Name|Owner");
    REQUIRE(udr_result_rows(res) == 1);
    CHECK_STR(row(res, 0), "public|udr");
    udr_result_free(res);
    res = catalog(r, L);
    CHECK_STR(columns(res),
              "Name|Owner|Encoding|Collate|Ctype|ICU Locale|Locale Provider|Access privileges");
    REQUIRE(udr_result_rows(res) == 1);
    CHECK_STR(row(res, 0), "udr|udr|UTF8|C|C|NULL|libc|NULL");
    udr_result_free(res);
    /* the names a session gives */
    pgcat_names names = {"main", "alice"};
    int rc;
    char *q = pgcat_rewrite_names(r, L, &names, &rc);
    REQUIRE(q != NULL);
    MUST(r, udr_query(r, q, NULL, 0, &res));
    free(q);
    CHECK_STR(row(res, 0), "main|alice|UTF8|C|C|NULL|libc|NULL");
    udr_result_free(res);
    q = pgcat_rewrite_names(r, DT, &names, &rc);
    REQUIRE(q != NULL);
    MUST(r, udr_query(r, q, NULL, 0, &res));
    free(q);
    CHECK_STR(row(res, 0), "public|events|table|alice");
    udr_result_free(res);
    udr_close(r);
}

static void test_psql_others(void)
{
    udr_repo *r = catalog_repo();
    udr_result *res = catalog(r, DU);
    CHECK_STR(columns(res), "rolname|rolsuper|rolinherit|rolcreaterole|rolcreatedb|rolcanlogin|"
                            "rolconnlimit|rolvaliduntil|memberof|rolreplication|rolbypassrls");
    REQUIRE(udr_result_rows(res) == 1);
    CHECK_STR(row(res, 0), "udr|t|t|f|f|t|-1|NULL|{}|f|f");
    udr_result_free(res);
    res = catalog(r, DF);
    CHECK_STR(columns(res), "Schema|Name|Result data type|Argument data types|Type");
    CHECK_INT(udr_result_rows(res), ==, 0);
    udr_result_free(res);
    res = catalog(r, DX);
    CHECK_STR(columns(res), "Name|Version|Schema|Description");
    CHECK_INT(udr_result_rows(res), ==, 0);
    udr_result_free(res);
    res = catalog(r, DI);
    CHECK_STR(columns(res), "Schema|Name|Type|Owner|Table");
    CHECK_INT(udr_result_rows(res), ==, 0);
    udr_result_free(res);
    udr_close(r);
}

/* ---- pgcat: drivers, information_schema, the rest -------------------------- */

static void test_drivers(void)
{
    udr_repo *r = catalog_repo();
    /* pgjdbc's look-up of a type by oid */
    udr_result *res = catalog(r, "SELECT n.nspname = ANY(current_schemas(true)), n.nspname, t.typname"
                                 " FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n"
                                 " ON t.typnamespace = n.oid WHERE t.oid = 1007");
    REQUIRE(udr_result_rows(res) == 1);
    CHECK_STR(row(res, 0), "t|pg_catalog|_int4");
    udr_result_free(res);
    res = catalog(r, "select typname, typlen, typelem, typarray from pg_type where oid = 25");
    CHECK_STR(columns(res), "typname|typlen|typelem|typarray");
    REQUIRE(udr_result_rows(res) == 1);
    CHECK_STR(row(res, 0), "text|-1|0|1009");
    udr_result_free(res);
    res = catalog(r, "SELECT e.typdelim FROM pg_catalog.pg_type t, pg_catalog.pg_type e"
                     " WHERE t.oid = 1016 and t.typelem = e.oid");
    REQUIRE(udr_result_rows(res) == 1);
    CHECK_STR(row(res, 0), ",");
    udr_result_free(res);
    res = catalog(r, "SELECT version();");
    CHECK_STR(columns(res), "version");
    CHECK_CONTAINS(row(res, 0), "PostgreSQL 15.0 (UDR ");
    udr_result_free(res);
    res = catalog(r, "select table_schema, table_name, table_type from information_schema.tables"
                     " where table_schema = 'public' order by table_name");
    REQUIRE(udr_result_rows(res) == 2);
    CHECK_STR(row(res, 0), "public|events|BASE TABLE");
    CHECK_STR(row(res, 1), "public|users|BASE TABLE");
    udr_result_free(res);
    res = catalog(r, "SELECT column_name, data_type, is_nullable, numeric_precision, numeric_scale,"
                     " udt_name FROM information_schema.columns WHERE table_name = 'users'"
                     " ORDER BY ordinal_position");
    REQUIRE(udr_result_rows(res) == 5);
    CHECK_STR(row(res, 0), "id|bigint|NO|NULL|NULL|int8");
    CHECK_STR(row(res, 2), "score|numeric|YES|18|3|numeric");
    CHECK_STR(row(res, 3), "tags|ARRAY|YES|NULL|NULL|_text");
    CHECK_STR(row(res, 4), "created|timestamp with time zone|YES|NULL|NULL|timestamptz");
    udr_result_free(res);
    udr_close(r);
}

static void test_not_catalog(void)
{
    udr_repo *r = catalog_repo();
    static const char *const plain[] = {
        "SELECT 1",
        "select * from users where name = 'pg_catalog'",
        "INSERT INTO events VALUES (8, NULL)",
        "SELECT * FROM pg_catalog.pg_proc",
        "select count(*) from duckdb_tables()",
        "",
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        int rc = 99;
        char *q = pgcat_rewrite(r, plain[i], &rc);
        if (q != NULL)
            harness_fail(__FILE__, __LINE__, "\"%s\" rewritten to \"%s\"", plain[i], q);
        free(q);
        CHECK_INT(rc, ==, 0);
    }
    udr_close(r);
}

/* Names that need quoting stay data: a table name in capitals (table
 * names are letters, digits and _), column names with quotes and a
 * backslash; a client's pattern with a quote in it. */
static void test_hostile_names(void)
{
    udr_repo *r = new_repo();
    const char *name = "Odd_Name1";
    const char *key[] = {"it's", NULL};
    must_write(r, name, "SELECT 1 AS \"it's\", 'x' AS \"a\"\"b\\\"", key, NULL);
    udr_result *res = catalog(r, DT);
    REQUIRE(udr_result_rows(res) == 1);
    CHECK_STR(row(res, 0), "public|Odd_Name1|table|udr");
    udr_result_free(res);
    uint32_t oid = pgcat_table_oid(name);
    res = catalog(r, with_oid(D_COLUMNS, oid));
    REQUIRE(udr_result_rows(res) == 2);
    CHECK_STR(row(res, 0), "it's|integer|NULL|t|NULL||");
    CHECK_STR(row(res, 1), "a\"b\\|text|NULL|f|NULL||");
    udr_result_free(res);
    res = catalog(r, with_oid(D_INDEXES, oid));
    REQUIRE(udr_result_rows(res) == 1);
    CHECK_STR(row(res, 0), "Odd_Name1_pkey|t|t|f|t|CREATE UNIQUE INDEX \"Odd_Name1_pkey\""
                           " ON public.\"Odd_Name1\" USING btree (\"it's\")|PRIMARY KEY "
                           "(\"it's\")|p|f|f|f|0");
    udr_result_free(res);
    /* a client's literal with a quote in it is copied whole */
    static const char *const patterns[] = {"'^(Odd_Name1)$'", "'^(we''ird\\\\)$'", "'^(x'')'"};
    for (size_t i = 0; i < 3; i++) {
        char q[512];
        snprintf(q, sizeof q,
                 "SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c"
                 " LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                 " WHERE c.relname OPERATOR(pg_catalog.~) %s COLLATE pg_catalog.default"
                 " ORDER BY 2, 3;", patterns[i]);
        res = catalog(r, q);
        CHECK_INT(udr_result_rows(res), ==, i == 0 ? 1 : 0);
        udr_result_free(res);
    }
    res = catalog(r, "SELECT table_name FROM information_schema.tables");
    REQUIRE(udr_result_rows(res) == 1);
    CHECK_STR(row(res, 0), name);
    udr_result_free(res);
    res = catalog(r, "SELECT column_name FROM information_schema.columns ORDER BY ordinal_position");
    REQUIRE(udr_result_rows(res) == 2);
    CHECK_STR(row(res, 1), "a\"b\\");
    udr_result_free(res);
    udr_close(r);
}

static const test_case TESTS[] = {
    TEST_ENTRY(test_type_oids),
    TEST_ENTRY(test_type_text),
    TEST_ENTRY(test_psql_list_relations),
    TEST_ENTRY(test_psql_describe),
    TEST_ENTRY(test_psql_schemas_databases),
    TEST_ENTRY(test_psql_others),
    TEST_ENTRY(test_drivers),
    TEST_ENTRY(test_not_catalog),
    TEST_ENTRY(test_hostile_names),
};

HARNESS_MAIN("pgcat", TESTS)
