/* Running programs: exit codes, captured output, stdin, environment, a daemon that
 * outlives its parent, and the signal mask a child starts with. */
#include "testhelp.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "util.h"

#define PROC_RUN(...) proc_run((const char *const[]){ __VA_ARGS__, NULL }, NULL)

static void exit_codes_and_output(void)
{
	char *out = NULL;
	struct proc_opts o = { .out = &out };

	CHECK(proc_run((const char *const[]){ "sh", "-c", "echo out; echo err >&2; exit 3", NULL }, &o) == 3);
	CHECK(out && strstr(out, "out\n") && strstr(out, "err\n"));
	free(out);
	CHECK(PROC_RUN("true") == 0);
	CHECK(PROC_RUN("sh", "-c", "kill -TERM $$") == 128 + SIGTERM);
	/* A program that does not exist: 127, as a shell says. */
	CHECK(PROC_RUN("/nonexistent/tulle-no-such-program") == 127);
	/* A namespace that cannot be entered: 127 before anything runs. */
	struct proc_opts bad = { .netns = "/nonexistent/netns", .quiet = true };
	CHECK(proc_run((const char *const[]){ "true", NULL }, &bad) == 127);
}

static void input_and_environment(void)
{
	char *out = NULL;
	const char *env[] = { "TULLE_PROC_TEST=forty-two", NULL };
	/* More input than a pipe holds, so the writer must not deadlock against the reader. */
	char *big = xmalloc(200001);
	memset(big, 'x', 200000);
	big[200000] = 0;
	struct proc_opts o = { .env = env, .input = big, .out = &out };
	CHECK(proc_run((const char *const[]){ "sh", "-c", "wc -c; echo $TULLE_PROC_TEST", NULL }, &o) == 0);
	CHECK(out && strstr(out, "200000") && strstr(out, "forty-two"));
	free(out);
	free(big);
}

static void children_start_with_no_blocked_signals(void)
{
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, &old);
	char *out = NULL;
	struct proc_opts o = { .out = &out };
	/* SigBlk of the child's shell: all zero when nothing is blocked. */
	CHECK(proc_run((const char *const[]){ "sh", "-c", "grep SigBlk /proc/self/status", NULL }, &o) == 0);
	CHECK(out && strstr(out, "0000000000000000"));
	free(out);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

static void daemon_outlives_its_parent(void)
{
	char pidfile[] = "/tmp/tulle-proc-test.XXXXXX";
	int tmp = mkstemp(pidfile);
	CHECK(tmp >= 0);
	close(tmp);
	pid_t mid = fork();
	if (mid == 0) {
		/* The middle process starts a daemon and exits at once. */
		proc_daemon((const char *const[]){ "sleep", "30", NULL }, "/dev/null", pidfile);
		_exit(0);
	}
	waitpid(mid, NULL, 0);
	char *data = NULL;
	size_t len;
	CHECK(read_file(pidfile, &data, &len) == 0);
	pid_t d = data ? (pid_t)atoi(data) : 0;
	free(data);
	CHECK(d > 1 && kill(d, 0) == 0); /* still running: a session of its own */
	if (d > 1)
		kill(d, SIGKILL);
	unlink(pidfile);
}

int main(void)
{
	RUN(exit_codes_and_output);
	RUN(input_and_environment);
	RUN(children_start_with_no_blocked_signals);
	RUN(daemon_outlives_its_parent);
	return testhelp_done();
}
