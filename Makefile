# UDR — the Unified Data Runtime.
#
#   make                 fetch what is missing, build libudr.a, libudr.so, udr, tests
#   make quickstart      build, then run the quick-start on a default repository
#   make test [T=store]  build and run every test (or one), normal and ASan+UBSan
#   make asan            build everything with AddressSanitizer + UBSan in build/asan
#   make bench           run the benchmarks, write bench/RESULTS.md
#   make python          the Python module in build/python (PYTHONPATH=build/python)
#   make fuzz            the libFuzzer targets (clang) in build/fuzz; see fuzz/README.md
#   make fuzz-run FUZZ_SECONDS=N   run each on a copy of its corpus, fail on a crash
#   make fuzz-bench      each target to 10 million runs; a section of bench/RESULTS.md
#   make install PREFIX=DIR   header, libraries (DuckDB's beside them), udr.pc, udr
#   make clean
#
# Dependencies are fetched by scripts/deps.sh into deps/ (ignored); it does no
# network work once they are present.

PREFIX  ?= /usr/local
BUILD   ?= build
SAN     ?=
CC      ?= cc

B3      := deps/blake3
DUCK    := deps/duckdb
VERSION := 0.1.0

# Fetch what is missing before any rule is read: make caches what it sees in
# a directory, so deps/ must be complete before it first looks. Quick (and
# offline) when everything is there.
ifeq ($(filter clean,$(MAKECMDGOALS)),)
DEPS_OK := $(shell sh scripts/deps.sh >&2 && echo ok)
ifneq ($(DEPS_OK),ok)
$(error scripts/deps.sh failed (see above))
endif
endif

ifeq ($(SAN),1)
OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
           -fno-sanitize-recover=undefined
LDSAN   := -fsanitize=address,undefined
else
OPT     := -O2 -g
LDSAN   :=
endif

CFLAGS_UDR := -std=c11 -D_GNU_SOURCE -fPIC $(OPT) -Wall -Wextra -Werror \
              -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
              -Iinclude -Isrc -isystem $(DUCK) -isystem $(B3) -DUDR_VERSION='"$(VERSION)"' \
              -MMD -MP
# BLAKE3's own sources are compiled as their authors intend, without -Werror.
CFLAGS_B3  := -std=c11 -fPIC $(OPT) -MMD -MP
LIBS       := -L$(DUCK) -lduckdb -lpthread -lm
RPATH_TREE := -Wl,-rpath,$(CURDIR)/$(DUCK)

# --- sources -----------------------------------------------------------------

LIB_SRC := src/hash.c src/store.c src/log.c src/catalog.c src/catsub.c src/catexp.c src/branch.c src/tx.c src/dml.c src/query.c src/qdiff.c src/delvec.c src/patch.c src/udfarg.c src/frame.c src/repo.c src/result.c src/refs.c src/txapi.c src/fsck.c src/gc.c src/expire.c \
           src/feed.c src/changes.c src/feedapi.c src/chunkapi.c src/stats.c src/progress.c \
           src/util/err.c src/util/fs.c src/util/grow.c src/util/crc32c.c src/util/buf.c \
           src/util/csv.c
CLI_SRC := cli/udr.c cli/cmd_object.c cli/cmd_repo.c cli/cmd_sql.c cli/cmd_table.c cli/cmd_branch.c cli/cmd_feed.c cli/cmd_gc.c cli/out.c cli/cmd_stats.c \
           cli/sqlsplit.c cli/cmd_serve.c
# udr serve: the PostgreSQL-wire front end (server/), linked into udr.
SERVER_SRC := server/pgwire.c server/session.c server/sqlrun.c server/serve.c server/scram.c \
              server/pgtypes.c server/pgcat.c

B3_SRC  := blake3.c blake3_dispatch.c blake3_portable.c
ifeq ($(shell uname -m),x86_64)
B3_ASM  := blake3_sse2_x86-64_unix.S blake3_sse41_x86-64_unix.S \
           blake3_avx2_x86-64_unix.S blake3_avx512_x86-64_unix.S
B3_DEFS :=
else ifeq ($(shell uname -m),aarch64)
B3_ASM  :=
B3_SRC  += blake3_neon.c
B3_DEFS := -DBLAKE3_USE_NEON=1
else
B3_ASM  :=
B3_DEFS := -DBLAKE3_NO_SSE2 -DBLAKE3_NO_SSE41 -DBLAKE3_NO_AVX2 -DBLAKE3_NO_AVX512
endif

TESTS   := hash store log catalog patch delvec tables branches tx feed repo frame gc stats fsck progress \
           serve scram pgcat
BENCHES := bench_hash bench_store bench_tables bench_branches bench_tx bench_feed bench_stats \
           bench_python_base bench_serve

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) \
           $(B3_SRC:%.c=$(BUILD)/obj/blake3/%.o) $(B3_ASM:%.S=$(BUILD)/obj/blake3/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o) $(SERVER_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN  := $(TESTS:%=$(BUILD)/tests/test_%)
BENCH_BIN := $(BENCHES:%=$(BUILD)/bench/%)

.PHONY: all quickstart test test-one asan bench install clean python
all: $(BUILD)/libudr.a $(BUILD)/libudr.so $(BUILD)/udr $(TEST_BIN) $(BENCH_BIN) \
     $(BUILD)/tests/peak_rss $(BUILD)/tests/serve_hostile python

# Keep the objects of test and bench programs (make would delete them as
# intermediate files, and rebuild them every time).
.SECONDARY:

# --- compiling ---------------------------------------------------------------

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_UDR) -c $< -o $@

$(BUILD)/obj/blake3/%.o: $(B3)/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_B3) $(B3_DEFS) -c $< -o $@

# The front ends see each other's small helpers (sqlsplit, the server's modules).
$(BUILD)/obj/server/%.o $(BUILD)/obj/cli/%.o: CFLAGS_UDR += -Iserver -Icli

$(BUILD)/obj/blake3/%.o: $(B3)/%.S
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_B3) -c $< -o $@

# The SIMD variants are built with their instruction sets; dispatch picks one
# at run time from what the CPU offers.
$(BUILD)/obj/blake3/blake3_neon.o: CFLAGS_B3 += -march=armv8-a+simd

# --- linking -----------------------------------------------------------------

$(BUILD)/libudr.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libudr.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libudr.so.0 $(LDSAN) -o $@ $^ $(LIBS) $(RPATH_TREE)

$(BUILD)/udr: $(CLI_OBJ) $(BUILD)/libudr.a
	$(CC) $(LDSAN) -o $@ $(CLI_OBJ) $(BUILD)/libudr.a $(LIBS) -ledit -lcrypto $(RPATH_TREE)

$(BUILD)/tests/test_%: $(BUILD)/obj/tests/test_%.o $(BUILD)/obj/tests/harness.o \
                       $(BUILD)/obj/tests/udrtest.o $(BUILD)/libudr.a
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $^ $(LIBS) $(RPATH_TREE)

# test_serve drives `udr serve` with libpq.
$(BUILD)/obj/tests/test_serve.o: CFLAGS_UDR += -isystem /usr/include/postgresql
$(BUILD)/tests/test_serve: LIBS += -lpq
$(BUILD)/tests/test_serve: | $(BUILD)/udr

# serve's SCRAM module stands alone: no libudr, OpenSSL's libcrypto.
$(BUILD)/obj/tests/test_scram.o: CFLAGS_UDR += -Iserver
$(BUILD)/tests/test_scram: $(BUILD)/obj/tests/test_scram.o $(BUILD)/obj/tests/harness.o \
                           $(BUILD)/obj/server/scram.o
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $^ -lcrypto

# The server's catalog modules are tested without the server around them.
PGCAT_OBJ := $(BUILD)/obj/server/pgtypes.o $(BUILD)/obj/server/pgcat.o
$(BUILD)/obj/tests/test_pgcat.o: CFLAGS_UDR += -Iserver
$(BUILD)/tests/test_pgcat: $(BUILD)/obj/tests/test_pgcat.o $(PGCAT_OBJ) $(BUILD)/obj/tests/harness.o \
                           $(BUILD)/obj/tests/udrtest.o $(BUILD)/libudr.a
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $^ $(LIBS) $(RPATH_TREE)

$(BUILD)/tests/peak_rss: $(BUILD)/obj/tests/peak_rss.o
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $^

# Hostile clients for tests/cli/test_serve_hostile.sh: sockets and libpq, no libudr.
$(BUILD)/obj/tests/serve_hostile.o: CFLAGS_UDR += -isystem /usr/include/postgresql
$(BUILD)/tests/serve_hostile: $(BUILD)/obj/tests/serve_hostile.o
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $^ -lpq -lpthread

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BUILD)/libudr.a
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $^ $(LIBS) $(RPATH_TREE)

# bench_serve drives `udr serve` through libpq (Debian's libpq-dev) as well
# as libudr.
PQ_INC := /usr/include/postgresql
$(BUILD)/obj/bench/bench_serve.o: CFLAGS_UDR += -isystem $(PQ_INC)
$(BUILD)/bench/bench_serve: $(BUILD)/obj/bench/bench_serve.o $(BUILD)/libudr.a
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $^ $(LIBS) -lpq $(RPATH_TREE)

# bench_python.py's baseline: DuckDB alone, without libudr.
$(BUILD)/bench/bench_python_base: $(BUILD)/obj/bench/bench_python_base.o
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $^ $(LIBS) $(RPATH_TREE)

# --- the Python module --------------------------------------------------------
#
# The extension _udr (python/*.c, libudr linked in) and a copy of the pure
# Python packages, in $(BUILD)/python: PYTHONPATH=$(BUILD)/python. Built for
# Debian's /usr/bin/python3 and its NumPy; see docs/python.md.

PYTHON  ?= /usr/bin/python3
PY_INC   = $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
PY_NP    = $(shell $(PYTHON) -c 'import numpy; print(numpy.get_include())')
PY_EXT   = $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
PY_SRC  := python/_udr.c python/pyresult.c
PY_PKG  := $(wildcard python/udr/*.py python/udr/*.pyi python/udr/py.typed python/udr_query/*.py \
                     python/udr_query/*.pyi python/udr_query/py.typed)

python: $(BUILD)/python/.stamp

$(BUILD)/python/.stamp: $(PY_SRC) python/pyudr.h $(PY_PKG) $(BUILD)/libudr.a
	@mkdir -p $(BUILD)/python/udr $(BUILD)/python/udr_query
	$(CC) -shared $(filter-out -MMD -MP,$(CFLAGS_UDR)) -isystem $(PY_INC) -isystem $(PY_NP) $(LDSAN) \
	    -o $(BUILD)/python/_udr$(PY_EXT) $(PY_SRC) $(BUILD)/libudr.a $(LIBS) $(RPATH_TREE)
	cp $(filter python/udr/%,$(PY_PKG)) $(BUILD)/python/udr/
	cp $(filter python/udr_query/%,$(PY_PKG)) $(BUILD)/python/udr_query/
	@touch $@

# --- running -----------------------------------------------------------------

quickstart: all
	@sh scripts/quickstart.sh $(BUILD)/udr

# T=name runs one test file (a C test binary or tests/cli/NAME.sh).
test:
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 all
	@sh tests/run.sh "$(T)" build build/asan

asan:
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 all

bench: all
	@sh bench/run.sh $(BUILD)

# --- fuzzing -----------------------------------------------------------------
#
# libFuzzer targets (fuzz/*.c), built with clang whatever CC is, against the
# library compiled anew with the same sanitizers in build/fuzz/obj (never
# mixed with the normal build's objects). No target starts DuckDB.

FUZZ_DIR     := build/fuzz
FUZZ_CC      := clang
FUZZ_TARGETS := fuzz_log fuzz_meta fuzz_names fuzz_sqlsplit fuzz_replay fuzz_pgwire
FUZZ_SAN     := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  := $(filter-out $(OPT),$(CFLAGS_UDR)) -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) -Icli -Iserver
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_DIR)/obj/%.o) $(FUZZ_DIR)/obj/cli/sqlsplit.o \
                $(B3_SRC:%.c=$(FUZZ_DIR)/obj/blake3/%.o) $(B3_ASM:%.S=$(FUZZ_DIR)/obj/blake3/%.o)
FUZZ_SECONDS ?= 10

.PHONY: fuzz fuzz-run fuzz-bench
fuzz: $(FUZZ_TARGETS:%=$(FUZZ_DIR)/%)

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_DIR)/obj/blake3/%.o: $(B3)/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(filter-out $(OPT),$(CFLAGS_B3)) -O1 -g $(FUZZ_SAN) $(B3_DEFS) -c $< -o $@

$(FUZZ_DIR)/obj/blake3/%.o: $(B3)/%.S
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(filter-out $(OPT),$(CFLAGS_B3)) -c $< -o $@

$(FUZZ_DIR)/libudr_fuzz.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/fuzz/fuzz_%.o $(FUZZ_DIR)/libudr_fuzz.a
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ -lpthread -lm

# The wire codec is the server's, not the library's: its object is linked in
# by this target alone.
$(FUZZ_DIR)/fuzz_pgwire: $(FUZZ_DIR)/obj/fuzz/fuzz_pgwire.o $(FUZZ_DIR)/obj/server/pgwire.o \
                         $(FUZZ_DIR)/libudr_fuzz.a
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ -lpthread -lm

fuzz-run: fuzz
	@sh fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_DIR)

fuzz-bench: fuzz
	@sh bench/fuzz.sh $(FUZZ_DIR)

# Its objects' header dependencies, whatever BUILD is.
-include $(shell find $(FUZZ_DIR)/obj -name '*.d' 2>/dev/null)

# --- installing --------------------------------------------------------------

install: all
	@mkdir -p $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/udr.h $(DESTDIR)$(PREFIX)/include/udr.h
	install -m 644 $(BUILD)/libudr.a $(DESTDIR)$(PREFIX)/lib/libudr.a
	install -m 755 $(DUCK)/libduckdb.so $(DESTDIR)$(PREFIX)/lib/libduckdb.so
	$(CC) -shared -Wl,-soname,libudr.so.0 -o $(DESTDIR)$(PREFIX)/lib/libudr.so.$(VERSION) \
	    $(LIB_OBJ) $(LIBS) -Wl,-rpath,'$$ORIGIN'
	ln -sf libudr.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libudr.so.0
	ln -sf libudr.so.0 $(DESTDIR)$(PREFIX)/lib/libudr.so
	$(CC) -o $(DESTDIR)$(PREFIX)/bin/udr $(CLI_OBJ) $(BUILD)/libudr.a $(LIBS) -ledit -lcrypto \
	    -Wl,-rpath,'$$ORIGIN/../lib'
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' udr.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/udr.pc

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
