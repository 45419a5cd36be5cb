/*
 * sqlsplit — see sqlsplit.h. A small state machine over the bytes; it does
 * not parse SQL, it only knows where strings and comments begin and end.
 */
#include "sqlsplit.h"

#include <ctype.h>
#include <string.h>

/* Skips a dollar quote's opening tag at p ("$" [ident] "$"); returns the tag
 * length including both dollars, or 0 if p does not open one. */
static size_t dollar_tag(const char *p)
{
    if (p[0] != '$')
        return 0;
    size_t i = 1;
    while (isalnum((unsigned char)p[i]) || p[i] == '_')
        i++;
    if (p[i] != '$' || (i > 1 && isdigit((unsigned char)p[1])))
        return 0;
    return i + 1;
}

static int is_blank_or_comment_only(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (isspace((unsigned char)s[i])) {
            i++;
        } else if (s[i] == '-' && i + 1 < len && s[i + 1] == '-') {
            while (i < len && s[i] != '\n')
                i++;
        } else if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
            int depth = 1;
            i += 2;
            while (i < len && depth > 0) {
                if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
                    depth++;
                    i += 2;
                } else if (s[i] == '*' && i + 1 < len && s[i + 1] == '/') {
                    depth--;
                    i += 2;
                } else {
                    i++;
                }
            }
        } else {
            return 0;
        }
    }
    return 1;
}

int sql_next(const char **p, const char **start, size_t *len, int *complete)
{
    for (;;) {
        const char *s = *p;
        if (*s == '\0') {
            *complete = 1;
            return 0;
        }
        const char *i = s;
        int done = 0;
        *complete = 1;
        while (*i && !done) {
            if (*i == '\'' || *i == '"') {
                char q = *i;
                int backslash = q == '\'' && i > s && (i[-1] == 'E' || i[-1] == 'e') &&
                                (i - 1 == s || !isalnum((unsigned char)i[-2]));
                i++;
                for (;;) {
                    if (*i == '\0') {
                        *complete = 0;
                        break;
                    }
                    if (backslash && *i == '\\' && i[1] != '\0') {
                        i += 2;
                        continue;
                    }
                    if (*i == q) {
                        if (i[1] == q) {
                            i += 2;    /* a doubled quote stands for itself */
                            continue;
                        }
                        i++;
                        break;
                    }
                    i++;
                }
            } else if (*i == '-' && i[1] == '-') {
                while (*i && *i != '\n')
                    i++;
            } else if (*i == '/' && i[1] == '*') {
                int depth = 1;
                i += 2;
                while (*i && depth > 0) {
                    if (*i == '/' && i[1] == '*') {
                        depth++;
                        i += 2;
                    } else if (*i == '*' && i[1] == '/') {
                        depth--;
                        i += 2;
                    } else {
                        i++;
                    }
                }
                if (depth > 0)
                    *complete = 0;
            } else if (*i == '$' && (i == s || !(isalnum((unsigned char)i[-1]) || i[-1] == '_')) &&
                       dollar_tag(i) > 0) {
                size_t t = dollar_tag(i);
                const char *close = NULL;
                for (const char *k = i + t; *k; k++)
                    if (strncmp(k, i, t) == 0) {
                        close = k;
                        break;
                    }
                if (close == NULL) {
                    i += strlen(i);
                    *complete = 0;
                } else {
                    i = close + t;
                }
            } else if (*i == ';') {
                done = 1;
            } else {
                i++;
            }
        }
        size_t n = (size_t)(i - s);
        *p = done ? i + 1 : i;
        /* Trim. */
        while (n > 0 && isspace((unsigned char)*s)) {
            s++;
            n--;
        }
        while (n > 0 && isspace((unsigned char)s[n - 1]))
            n--;
        if (n == 0 || is_blank_or_comment_only(s, n)) {
            if (!done)
                return 0;              /* only space or comments were left */
            continue;                  /* an empty statement: ";;" */
        }
        if (!done)
            *complete = 0;             /* a statement without its semicolon */
        *start = s;
        *len = n;
        return 1;
    }
}

int sql_is_complete(const char *text)
{
    const char *p = text, *st;
    size_t len;
    int complete = 1, last = 1, any = 0;
    while (sql_next(&p, &st, &len, &complete)) {
        any = 1;
        last = complete;
    }
    return any && last && complete;
}
