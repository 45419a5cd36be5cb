"""udr serve through psycopg2: parameterized queries and a round trip of every
type (Python value -> parameter -> UDR table -> result -> Python value).
Usage: serve_psycopg2.py PORT. Prints "psycopg2: ok" when every check holds."""
import datetime
import decimal
import sys
import uuid

import psycopg2

port = int(sys.argv[1])
conn = psycopg2.connect(host="127.0.0.1", port=port, user="py", dbname="main")
cur = conn.cursor()

# Parameterized queries (psycopg2 quotes them client-side; the server sees literals).
cur.execute("SELECT name FROM users WHERE id = %s AND name <> %s", (2, "o'hara"))
assert cur.fetchall() == [("Bob",)], "parameterized select"
cur.execute("SELECT count(*) FROM users WHERE name = %(n)s", {"n": "x'); DROP TABLE users; --"})
assert cur.fetchone() == (0,), "hostile parameter"
conn.commit()

# Every type: written into a UDR table, read back.
values = {
    "b": True,
    "i2": 32000,
    "i4": -2000000000,
    "i8": 9000000000000000000,
    "f4": 1.5,
    "f8": 2.718281828459045,
    "num": decimal.Decimal("12345.6789"),
    "txt": "tab\there, quote ' and \"double\", unicode é ✓",
    "d": datetime.date(2026, 11, 26),
    "t": datetime.time(10, 11, 12, 345678),
    "ts": datetime.datetime(2026, 11, 26, 10, 11, 12, 345678),
    "tstz": datetime.datetime(2026, 11, 26, 10, 11, 12, tzinfo=datetime.timezone.utc),
    "iv": datetime.timedelta(days=3, hours=4, minutes=5),
    "u": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "byt": bytes([0, 1, 2, 255, 39, 92]),
    "arr_i": [1, 2, None, 4],
    "arr_t": ["a b", "c,d", 'e"f', None],
}
cast = {
    "b": "BOOLEAN", "i2": "SMALLINT", "i4": "INTEGER", "i8": "BIGINT", "f4": "FLOAT",
    "f8": "DOUBLE", "num": "DECIMAL(18,4)", "txt": "VARCHAR", "d": "DATE", "t": "TIME",
    "ts": "TIMESTAMP", "tstz": "TIMESTAMPTZ", "iv": "INTERVAL", "u": "UUID", "byt": "BLOB",
    "arr_i": "INTEGER[]", "arr_t": "VARCHAR[]",
}
cols = list(values)
psycopg2.extras = __import__("psycopg2.extras").extras
psycopg2.extras.register_uuid()
select = ", ".join("CAST(%%(%s)s AS %s) AS %s" % (c, cast[c], c) for c in cols)
cur.execute("CREATE TABLE everything AS SELECT " + select, values)
conn.commit()
cur.execute("SELECT " + ", ".join(cols) + " FROM everything")
row = cur.fetchone()
conn.commit()
bad = []
for c, got in zip(cols, row):
    want = values[c]
    if c == "byt":
        got = bytes(got)
    if c == "f4":
        ok = abs(got - want) < 1e-6
    elif c == "arr_i" or c == "arr_t":
        ok = list(got) == want
    else:
        ok = got == want
    if not ok:
        bad.append("%s: sent %r, got %r" % (c, want, got))
# The type each column comes back as (psycopg2's OIDs).
want_oids = {"b": 16, "i2": 21, "i4": 23, "i8": 20, "f4": 700, "f8": 701, "num": 1700,
             "txt": 25, "d": 1082, "t": 1083, "ts": 1114, "tstz": 1184, "iv": 1186,
             "u": 2950, "byt": 17, "arr_i": 1007, "arr_t": 1009}
for d in cur.description:
    if want_oids.get(d.name) != d.type_code:
        bad.append("%s: type oid %s, expected %s" % (d.name, d.type_code, want_oids.get(d.name)))
# NULLs of every type
cur.execute("SELECT " + ", ".join("NULL::%s" % cast[c] for c in cols))
assert all(v is None for v in cur.fetchone()), "NULLs"
conn.commit()

# Errors carry SQLSTATEs; a conflict is 40001.
try:
    cur.execute("SELECT * FROM no_such_table")
    bad.append("no error for a missing table")
except psycopg2.Error as e:
    if e.pgcode != "42P01":
        bad.append("missing table: %s" % e.pgcode)
conn.rollback()
other = psycopg2.connect(host="127.0.0.1", port=port, user="py2", dbname="main")
oc = other.cursor()
cur.execute("UPDATE users SET score = 1 WHERE id = 3")
oc.execute("UPDATE users SET score = 2 WHERE id = 3")
conn.commit()
try:
    other.commit()
    bad.append("no conflict")
except psycopg2.Error as e:
    if e.pgcode != "40001":
        bad.append("conflict: %s" % e.pgcode)
other.close()
# executemany and rowcount
cur.executemany("INSERT INTO users VALUES (%s, %s, %s)", [(100 + i, "n%d" % i, i) for i in range(5)])
conn.commit()
cur.execute("UPDATE users SET score = score + 1 WHERE id >= 100")
if cur.rowcount != 5:
    bad.append("rowcount %s" % cur.rowcount)
conn.commit()
conn.close()
if bad:
    print("\n".join(bad))
    sys.exit(1)
print("psycopg2: ok")
