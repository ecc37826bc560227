#define _GNU_SOURCE 1
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

int proc_enter_netns(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	int rc = setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

void proc_self(char out[4096])
{
	ssize_t n = readlink("/proc/self/exe", out, 4095);

	out[n > 0 ? n : 0] = 0;
}

void proc_child_reset(void)
{
	sigset_t none;

	/* A parent that takes signals through a signalfd blocks them; its children must
	 * not inherit that (a pod's process would ignore SIGTERM) ... */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* ... nor what the parent ignores: SIGPIPE here, and SIGINT and SIGQUIT when it was
	 * itself started in the background by a shell. A container starts with defaults. */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
}

static int wait_for(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

int proc_run(const char *const *argv, const struct proc_opts *o)
{
	static const struct proc_opts none = { 0 };
	int outp[2] = { -1, -1 }, inp[2] = { -1, -1 };

	if (!o)
		o = &none;
	if ((o->out && pipe2(outp, O_CLOEXEC) < 0) || (o->input && pipe2(inp, O_CLOEXEC) < 0))
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		proc_child_reset();
		if (o->out) {
			dup2(outp[1], 1);
			dup2(outp[1], 2);
		} else if (o->quiet) {
			int nul = open("/dev/null", O_WRONLY);
			dup2(nul, 1);
			dup2(nul, 2);
		}
		if (o->input)
			dup2(inp[0], 0);
		for (const char *const *e = o->env; e && *e; e++)
			putenv((char *)*e);
		if (o->netns && proc_enter_netns(o->netns) < 0)
			_exit(127);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (o->input) {
		close(inp[0]);
		size_t n = strlen(o->input), off = 0;
		while (off < n) {
			ssize_t w = write(inp[1], o->input + off, n - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		close(inp[1]);
	}
	if (o->out) {
		close(outp[1]);
		struct strbuf sb;
		sb_init(&sb);
		char buf[4096];
		ssize_t r;
		while ((r = read(outp[0], buf, sizeof(buf))) > 0 || (r < 0 && errno == EINTR))
			if (r > 0)
				sb_add(&sb, buf, (size_t)r);
		close(outp[0]);
		*o->out = sb_detach(&sb);
		if (!*o->out)
			*o->out = xstrdup("");
	}
	return wait_for(pid);
}

pid_t proc_daemon(const char *const *argv, const char *log, const char *pidfile)
{
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		proc_child_reset();
		setsid();
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		int nul = open("/dev/null", O_RDONLY);
		dup2(nul, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (pidfile) {
		char buf[24];
		snprintf(buf, sizeof(buf), "%d\n", (int)pid);
		write_file_atomic(pidfile, buf, strlen(buf), 0644);
	}
	return pid;
}
