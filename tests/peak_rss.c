/*
 * peak_rss — runs a command and prints its peak resident set in KiB.
 *
 *   peak_rss CMD [ARGS...]   prints "peak_rss_kib N" on stderr when CMD ends
 *
 * A process's ru_maxrss includes the memory of the process it was forked
 * from, so a large test process cannot measure a child directly; this small
 * program forks the command itself. Exit status: the command's.
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: peak_rss CMD [ARGS...]\n");
        return 2;
    }
    pid_t pid = fork();
    if (pid < 0)
        return 2;
    if (pid == 0) {
        execvp(argv[1], argv + 1);
        _exit(127);
    }
    int st;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) != pid)
        return 2;
    fprintf(stderr, "peak_rss_kib %ld\n", ru.ru_maxrss);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}
