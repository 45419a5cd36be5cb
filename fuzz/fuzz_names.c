/*
 * fuzz_names — the checkers of user-given names (src/catalog.c), which need
 * no repository: table names (catalog_check_name), branch and tag names
 * (catalog_check_ref_name) and instants (catalog_parse_time, what follows a
 * table's @ when it is not a version or a ref).
 *
 * The input, cut at its first NUL, is given to each. Besides ASan and UBSan
 * (a read past the name, an overflow in the calendar arithmetic), what an
 * accepted name must be is checked against catalog.h's rules, written out
 * again here independently: a finding aborts.
 *
 * Not covered: resolving a ref (branch_resolve: NAME~N, hash prefixes) and
 * table@ref references, which parse inline while they look names up in an
 * open catalog.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_alpha(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int is_digit(unsigned char ch)
{
    return ch >= '0' && ch <= '9';
}

static void finding(const char *what, const char *name)
{
    fprintf(stderr, "fuzz_names: %s: '%s'\n", what, name);
    abort();
}

static void check_table_name(const char *s, size_t n)
{
    udr_err err = {0};
    int rc = catalog_check_name(s, &err);
    if (rc != UDR_OK) {
        if (rc != UDR_EINVAL || err.msg[0] == '\0')
            finding("a table name refused without UDR_EINVAL and a message", s);
        return;
    }
    if (n == 0 || n > CATALOG_NAME_MAX || is_digit((unsigned char)s[0]))
        finding("accepted a table name of a bad length or starting with a digit", s);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!is_alpha(ch) && !is_digit(ch) && ch != '_')
            finding("accepted a table name with a character outside [A-Za-z0-9_]", s);
    }
}

static void check_ref_name(const char *s, size_t n)
{
    udr_err err = {0};
    int rc = catalog_check_ref_name(s, "branch", &err);
    if (rc != UDR_OK) {
        if (rc != UDR_EINVAL || err.msg[0] == '\0')
            finding("a ref name refused without UDR_EINVAL and a message", s);
        return;
    }
    if (n == 0 || n > CATALOG_REF_MAX)
        finding("accepted a ref name of a bad length", s);
    int digits = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        int part_start = i == 0 || s[i - 1] == '/';
        digits &= is_digit(ch);
        if (!is_alpha(ch) && !is_digit(ch) && ch != '_' && ch != '-' && ch != '.' && ch != '/')
            finding("accepted a ref name with a character outside [A-Za-z0-9._/-]", s);
        if (part_start && (ch == '/' || ch == '.' || ch == '-'))
            finding("accepted a ref name with an empty part or one starting with . or -", s);
        if (ch == '.' && s[i + 1] == '.')
            finding("accepted a ref name holding ..", s);
    }
    if (s[n - 1] == '/' || s[n - 1] == '.' || (n >= 5 && strcmp(s + n - 5, ".lock") == 0))
        finding("accepted a ref name ending in /, . or .lock", s);
    if (digits)
        finding("accepted an all-digit ref name (a version number)", s);
    int64_t us;
    if (catalog_parse_time(s, &us) == 0)
        finding("accepted a ref name that is a time", s);
    if (catalog_check_ref_name(s, "tag", NULL) != UDR_OK)
        finding("a branch name that is not a tag name", s);
}

static void check_time(const char *s)
{
    int64_t us = 0;
    if (catalog_parse_time(s, &us) != 0)
        return;
    /* An instant starts YYYY-MM-DD: ten bytes at least. */
    if (strlen(s) < 10)
        finding("accepted a time shorter than a date", s);
    int64_t again = 0;
    if (catalog_parse_time(s, &again) != 0 || again != us)
        finding("parsed one time two ways", s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    size_t n = strlen(s);
    check_table_name(s, n);
    check_ref_name(s, n);
    check_time(s);
    free(s);
    return 0;
}
