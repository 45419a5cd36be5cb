/*
 * Tests of creating and opening repositories: the layout, refusals with
 * clear messages, and handles that failed to open.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "udr.h"

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void test_init_layout(void)
{
    udr_repo *r;
    REQUIRE(udr_init(t_path("repo"), &r) == UDR_OK);
    CHECK_STR(udr_errmsg(r), "");
    CHECK_STR(udr_repo_path(r), t_path("repo"));
    udr_close(r);
    CHECK(is_dir(t_path("repo/objects")));
    CHECK(is_dir(t_path("repo/log")));
    CHECK(is_dir(t_path("repo/tmp")));
    FILE *f = fopen(t_path("repo/FORMAT"), "r");
    REQUIRE(f != NULL);
    char buf[128] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    CHECK_STR(buf, "udr repository\nformat 1\n");
    CHECK_INT(t_count_files(t_path("repo/tmp")), ==, 0);
    REQUIRE(udr_open(t_path("repo"), &r) == UDR_OK);
    udr_close(r);
}

static void test_init_into_empty_existing_dir(void)
{
    REQUIRE(mkdir(t_path("empty"), 0755) == 0);
    udr_repo *r;
    CHECK_INT(udr_init(t_path("empty"), &r), ==, UDR_OK);
    udr_close(r);
}

static void test_init_refuses_existing(void)
{
    udr_repo *r;
    REQUIRE(udr_init(t_path("repo"), &r) == UDR_OK);
    udr_close(r);
    CHECK_INT(udr_init(t_path("repo"), &r), ==, UDR_EEXIST);
    CHECK_CONTAINS(udr_errmsg(r), "already a UDR repository");
    udr_close(r);

    REQUIRE(mkdir(t_path("full"), 0755) == 0);
    t_write_file(t_path("full/data.csv"), "a,b\n", 4);
    CHECK_INT(udr_init(t_path("full"), &r), ==, UDR_EEXIST);
    CHECK_CONTAINS(udr_errmsg(r), "not empty");
    udr_close(r);
    CHECK(access(t_path("full/FORMAT"), F_OK) != 0);     /* nothing written */

    CHECK_INT(udr_init(t_path("no/such/parent"), &r), ==, UDR_ENOTFOUND);
    CHECK_CONTAINS(udr_errmsg(r), "no/such/parent");
    udr_close(r);
}

static void test_open_refusals(void)
{
    udr_repo *r;
    CHECK_INT(udr_open(t_path("absent"), &r), ==, UDR_ENOTFOUND);
    CHECK_CONTAINS(udr_errmsg(r), "absent");
    CHECK_CONTAINS(udr_errmsg(r), "udr init");
    CHECK_INT(udr_errcode(r), ==, UDR_ENOTFOUND);
    udr_close(r);

    REQUIRE(mkdir(t_path("plain"), 0755) == 0);
    CHECK_INT(udr_open(t_path("plain"), &r), ==, UDR_EFORMAT);
    CHECK_CONTAINS(udr_errmsg(r), "not a UDR repository");
    udr_close(r);

    t_write_file(t_path("file"), "x", 1);
    CHECK_INT(udr_open(t_path("file"), &r), ==, UDR_EFORMAT);
    CHECK_CONTAINS(udr_errmsg(r), "not a directory");
    udr_close(r);

    CHECK_INT(udr_open("", &r), ==, UDR_EINVAL);
    udr_close(r);

    char longpath[5000];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    CHECK_INT(udr_open(longpath, &r), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "too long");
    udr_close(r);
}

static void make_repo_with_format(const char *format)
{
    udr_repo *r;
    REQUIRE(udr_init(t_path("repo"), &r) == UDR_OK);
    udr_close(r);
    t_write_file(t_path("repo/FORMAT"), format, strlen(format));
}

static void test_open_newer_or_foreign_format(void)
{
    udr_repo *r;
    make_repo_with_format("udr repository\nformat 2\n");
    CHECK_INT(udr_open(t_path("repo"), &r), ==, UDR_EFORMAT);
    CHECK_CONTAINS(udr_errmsg(r), "format 2");
    CHECK_CONTAINS(udr_errmsg(r), "upgrade udr");
    udr_close(r);

    t_write_file(t_path("repo/FORMAT"), "git repository\nformat 1\n", 24);
    CHECK_INT(udr_open(t_path("repo"), &r), ==, UDR_EFORMAT);
    CHECK_CONTAINS(udr_errmsg(r), "not a UDR repository");
    udr_close(r);

    t_write_file(t_path("repo/FORMAT"), "udr repository\nformat one\n", 26);
    CHECK_INT(udr_open(t_path("repo"), &r), ==, UDR_EFORMAT);
    CHECK_CONTAINS(udr_errmsg(r), "version");
    udr_close(r);

    t_write_file(t_path("repo/FORMAT"), "", 0);
    CHECK_INT(udr_open(t_path("repo"), &r), ==, UDR_EFORMAT);
    udr_close(r);
}

static void test_open_damaged_layout(void)
{
    udr_repo *r;
    REQUIRE(udr_init(t_path("repo"), &r) == UDR_OK);
    udr_close(r);
    REQUIRE(rmdir(t_path("repo/tmp")) == 0);
    CHECK_INT(udr_open(t_path("repo"), &r), ==, UDR_EFORMAT);
    CHECK_CONTAINS(udr_errmsg(r), "tmp/");
    udr_close(r);
    REQUIRE(mkdir(t_path("repo/tmp"), 0755) == 0);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t_path("repo/log"));
    REQUIRE(system(cmd) == 0);
    CHECK_INT(udr_open(t_path("repo"), &r), ==, UDR_EFORMAT);
    CHECK_CONTAINS(udr_errmsg(r), "log/");
    udr_close(r);
}

static void test_failed_handle_refuses_work(void)
{
    udr_repo *r;
    CHECK_INT(udr_open(t_path("absent"), &r), ==, UDR_ENOTFOUND);
    udr_hash h;
    CHECK_INT(udr_object_put(r, "x", 1, &h), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "not open");
    CHECK_INT(udr_fsck(r, NULL, NULL, NULL, NULL), ==, UDR_EINVAL);
    udr_close(r);
    udr_close(NULL);
}

static void test_default_dir(void)
{
    const char *saved = getenv("UDR_DIR");
    char keep[4096] = "";
    if (saved)
        snprintf(keep, sizeof keep, "%s", saved);
    unsetenv("UDR_DIR");
    CHECK_STR(udr_default_dir(), ".udr");
    setenv("UDR_DIR", "/somewhere/else", 1);
    CHECK_STR(udr_default_dir(), "/somewhere/else");
    setenv("UDR_DIR", "", 1);
    CHECK_STR(udr_default_dir(), ".udr");
    if (saved)
        setenv("UDR_DIR", keep, 1);
    else
        unsetenv("UDR_DIR");
}

static void test_strerror_names_codes(void)
{
    CHECK_STR(udr_strerror(UDR_OK), "UDR_OK");
    CHECK_STR(udr_strerror(UDR_ECORRUPT), "UDR_ECORRUPT");
    CHECK_STR(udr_strerror(UDR_EFULL), "UDR_EFULL");
    CHECK_STR(udr_strerror(12345), "UDR_E(unknown)");
    CHECK_STR(udr_version(), UDR_VERSION);
}

static const test_case TESTS[] = {
    TEST_ENTRY(test_init_layout),
    TEST_ENTRY(test_init_into_empty_existing_dir),
    TEST_ENTRY(test_init_refuses_existing),
    TEST_ENTRY(test_open_refusals),
    TEST_ENTRY(test_open_newer_or_foreign_format),
    TEST_ENTRY(test_open_damaged_layout),
    TEST_ENTRY(test_failed_handle_refuses_work),
    TEST_ENTRY(test_default_dir),
    TEST_ENTRY(test_strerror_names_codes),
};
HARNESS_MAIN("repo", TESTS)
