#!/usr/bin/env python3
"""Writes fuzz/corpus/pgwire/: client byte streams for fuzz_pgwire, each the
mode byte (bit 0: starts with a startup packet; bit 1: the server's length
limits) followed by messages as libpq would send them.
Usage: python3 fuzz/pgwire_seeds.py [DIR]   (default fuzz/corpus/pgwire)"""
import os
import struct
import sys

STARTUP, LIMITS = 1, 2


def startup(pairs, code=196608):
    body = struct.pack('>I', code)
    for k, v in pairs:
        body += k.encode() + b'\0' + v.encode() + b'\0'
    body += b'\0'
    return struct.pack('>I', len(body) + 4) + body


def special(code, *words):
    body = struct.pack('>I', code) + b''.join(struct.pack('>I', w) for w in words)
    return struct.pack('>I', len(body) + 4) + body


def msg(t, body=b''):
    return t.encode() + struct.pack('>I', len(body) + 4) + body


def cstr(s):
    return s.encode() + b'\0'


def parse(name, query, oids):
    return msg('P', cstr(name) + cstr(query) + struct.pack('>H', len(oids)) +
               b''.join(struct.pack('>I', o) for o in oids))


def bind(portal, stmt, formats, values, result_formats):
    body = cstr(portal) + cstr(stmt) + struct.pack('>H', len(formats))
    body += b''.join(struct.pack('>H', f) for f in formats)
    body += struct.pack('>H', len(values))
    for v in values:
        body += struct.pack('>i', -1) if v is None else struct.pack('>i', len(v)) + v
    body += struct.pack('>H', len(result_formats))
    body += b''.join(struct.pack('>H', f) for f in result_formats)
    return msg('B', body)


def sasl(mech, data):
    d = struct.pack('>i', -1) if data is None else struct.pack('>i', len(data)) + data
    return msg('p', cstr(mech) + d)


USER = startup([('user', 'alice'), ('database', 'main'), ('application_name', 'psql'),
                ('client_encoding', 'UTF8')])
SEEDS = {
    'startup-query-terminate': (STARTUP | LIMITS, USER + msg('Q', cstr('SELECT 1')) + msg('X')),
    'ssl-request-then-startup': (STARTUP | LIMITS, special(80877103) + USER),
    'gss-request-then-startup': (STARTUP | LIMITS, special(80877104) + USER),
    'cancel-request': (STARTUP | LIMITS, special(80877102, 4242, 0x5eed1234)),
    'startup-options': (STARTUP | LIMITS, startup(
        [('user', 'bob'), ('database', 'sales'), ('options', '-c search_path=x'),
         ('DateStyle', 'ISO'), ('extra_float_digits', '3')])),
    'startup-protocol-2': (STARTUP | LIMITS, startup([('user', 'old')], code=131072)),
    'query-only': (LIMITS, msg('Q', cstr('SELECT 42; SELECT \'a\';'))),
    'extended-two-params': (LIMITS,
        parse('s1', 'SELECT $1::int + $2::int', [23, 23]) +
        bind('', 's1', [0, 1], [b'1', struct.pack('>i', 2)], [1]) +
        msg('D', b'P' + cstr('')) + msg('E', cstr('') + struct.pack('>i', 0)) + msg('S')),
    'extended-null-close': (LIMITS,
        parse('', 'SELECT $1', []) + msg('D', b'S' + cstr('')) +
        bind('p1', '', [], [None], []) + msg('E', cstr('p1') + struct.pack('>i', 10)) +
        msg('C', b'P' + cstr('p1')) + msg('C', b'S' + cstr('')) + msg('H') + msg('S')),
    'sasl-initial': (STARTUP | LIMITS, USER + sasl('SCRAM-SHA-256', b'n,,n=,r=rOprNGfwEbeRWgbNEkqO')),
    'sasl-initial-no-data': (LIMITS, sasl('SCRAM-SHA-256', None)),
    'copy-fail-terminate': (LIMITS, msg('f', cstr('client gave up')) + msg('X')),
    'truncated-query': (STARTUP | LIMITS, USER + msg('Q', cstr('SELECT 1'))[:7]),
    'small-limit-refused': (0x40, msg('Q', cstr('SELECT ' + 'x' * 600))),
}

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'corpus', 'pgwire')
os.makedirs(out, exist_ok=True)
for name, (mode, data) in SEEDS.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(bytes([mode]) + data)
