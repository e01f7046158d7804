/*
 * snapmig-rusage FILE COMMAND [ARG]...: runs COMMAND and writes its peak
 * resident set size (kB, ru_maxrss) to FILE; exits with its status.
 *
 * For scripts/bench: ru_maxrss of a child counts the memory its parent had
 * when it forked, so a child of the Python bench script never reports less
 * than the Python interpreter's own size.  Forked from this small program,
 * the baseline is about a megabyte.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct rusage ru;
	int status;
	pid_t pid;
	FILE *f;

	if (argc < 3) {
		fprintf(stderr, "usage: snapmig-rusage FILE COMMAND [ARG]...\n");
		return 2;
	}
	pid = fork();
	if (pid < 0) {
		perror("snapmig-rusage: fork");
		return 2;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		perror("snapmig-rusage: exec");
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("snapmig-rusage: wait4");
		return 2;
	}
	f = fopen(argv[1], "w");
	if (!f) {
		perror(argv[1]);
		return 2;
	}
	fprintf(f, "%ld\n", ru.ru_maxrss);
	fclose(f);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
