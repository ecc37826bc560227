#include "cni.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/util.h"

bool netns_exists(const char *path)
{
	struct stat st;
	return path && *path && stat(path, &st) == 0;
}

/* fork, enter the namespace, exec ip: the parent never leaves its own namespace, so
 * a failure half-way cannot strand the plugin in the pod's. */
int run_ip(const char *netns, char **out, const char *const *argv)
{
	int pipefd[2];
	struct strbuf sb;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		if (netns) {
			int fd = open(netns, O_RDONLY | O_CLOEXEC);
			if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
				_exit(127);
		}
		const char *args[32];
		size_t n = 0;
		args[n++] = "ip";
		for (; argv[n - 1] && n < 31; n++)
			args[n] = argv[n - 1];
		args[n] = NULL;
		execvp("ip", (char *const *)args);
		_exit(127);
	}
	close(pipefd[1]);
	sb_init(&sb);
	char buf[4096];
	ssize_t r;
	while ((r = read(pipefd[0], buf, sizeof(buf))) > 0 || (r < 0 && errno == EINTR))
		if (r > 0)
			sb_add(&sb, buf, (size_t)r);
	close(pipefd[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (out)
		*out = sb_detach(&sb);
	sb_free(&sb);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}
