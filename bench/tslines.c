// SPDX-License-Identifier: Apache-2.0
/*
 * tslines COMMAND...: run COMMAND with its stdout on a pipe and print every
 * line it writes prefixed by the milliseconds since COMMAND was started, then
 * "exit STATUS after MS ms". Guest clocks are unreliable under nested
 * emulation, so boot times are measured here, on the host side.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	char line[4096];
	int pipefd[2], status;
	double start;
	pid_t pid;
	FILE *in;

	if (argc < 2) {
		fprintf(stderr, "usage: tslines COMMAND [ARGS...]\n");
		return 2;
	}
	if (pipe(pipefd) < 0)
		return 2;
	start = now_ms();
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		close(pipefd[0]);
		close(pipefd[1]);
		execvp(argv[1], argv + 1);
		perror("tslines: exec");
		_exit(127);
	}
	close(pipefd[1]);
	in = fdopen(pipefd[0], "r");
	while (in && fgets(line, sizeof(line), in)) {
		line[strcspn(line, "\r\n")] = 0;
		printf("%.1f %s\n", now_ms() - start, line);
		fflush(stdout);
	}
	waitpid(pid, &status, 0);
	printf("exit %d after %.1f ms\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128,
	       now_ms() - start);
	return 0;
}
