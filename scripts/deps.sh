#!/bin/sh
# Installs or fetches what the build needs and is missing; does nothing when
# everything is present, so a second `make` does no network work.
#
#   Debian packages: the BLAKE3 C sources (librust-blake3-dev), the b3sum test
#                    oracle, the tools the tests drive, and Debian's Python
#                    with NumPy, pandas and pytest for the Python module,
#                    OpenSSL's libcrypto (libssl-dev) for serve's SCRAM, and the
#                    PostgreSQL clients the serve tests drive (psql, libpq,
#                    psycopg2).
#   DuckDB 1.4.4:    duckdb.h and libduckdb.so, packed from the npm registry
#                    into deps/duckdb/ (never committed).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
deps="$top/deps"
DUCKDB_VERSION=1.4.4
DUCKDB_BINDINGS=1.4.4-r.1
case "$(uname -m)" in
    x86_64) NODE_ARCH=x64 ;;
    aarch64|arm64) NODE_ARCH=arm64 ;;
    *) echo "deps: no DuckDB build for $(uname -m)" >&2; exit 1 ;;
esac
PACKAGES="librust-blake3-dev b3sum npm pkgconf libedit-dev python3-dev python3-numpy python3-pandas python3-pytest libssl-dev \
          libpq-dev postgresql-client python3-psycopg2"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
        missing="$missing $p"
done
# npm may come from elsewhere than Debian (e.g. nodesource); accept any npm.
case "$missing" in *npm*) command -v npm >/dev/null 2>&1 &&
    missing=$(echo "$missing" | sed 's/ npm//') ;; esac

if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "deps: missing Debian packages:$missing" >&2
        echo "deps: run as root, or: sudo apt-get install$missing" >&2
        exit 1
    fi
    echo "deps: installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    if ! apt-get install -y -q --no-install-recommends $missing </dev/null; then
        apt-get update -q </dev/null
        apt-get install -y -q --no-install-recommends $missing </dev/null
    fi
fi

stamp="$deps/duckdb/.stamp-$DUCKDB_VERSION"
if [ ! -f "$stamp" ]; then
    echo "deps: fetching DuckDB $DUCKDB_VERSION (npm pack)"
    rm -rf "$deps/duckdb" "$deps/npm-pack"
    mkdir -p "$deps/duckdb" "$deps/npm-pack"
    (cd "$deps/npm-pack" &&
        npm pack --silent "duckdb@$DUCKDB_VERSION" \
            "@duckdb/node-bindings-linux-$NODE_ARCH@$DUCKDB_BINDINGS" </dev/null >/dev/null)
    tar -xzf "$deps/npm-pack/duckdb-$DUCKDB_VERSION.tgz" -C "$deps/npm-pack" \
        package/src/duckdb/src/include/duckdb.h
    mv "$deps/npm-pack/package/src/duckdb/src/include/duckdb.h" "$deps/duckdb/"
    rm -rf "$deps/npm-pack/package"
    tar -xzf "$deps/npm-pack/duckdb-node-bindings-linux-$NODE_ARCH-$DUCKDB_BINDINGS.tgz" \
        -C "$deps/npm-pack" package/libduckdb.so package/LICENSE
    mv "$deps/npm-pack/package/libduckdb.so" "$deps/duckdb/"
    mv "$deps/npm-pack/package/LICENSE" "$deps/duckdb/LICENSE"
    rm -rf "$deps/npm-pack"
    touch "$stamp"
fi

# The BLAKE3 sources: link the newest packaged copy to a stable path.
b3=$(ls -d /usr/share/cargo/registry/blake3-*/c 2>/dev/null | sort -V | tail -n 1)
[ -n "$b3" ] || { echo "deps: BLAKE3 C sources not found" >&2; exit 1; }
if [ "$(readlink "$deps/blake3" 2>/dev/null)" != "$b3" ]; then
    ln -sfn "$b3" "$deps/blake3"
fi
