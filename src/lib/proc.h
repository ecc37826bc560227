/* Running other programs: the one place tulle forks and execs (the agent, the CNI
 * plugin, the CLI's cluster commands). */
#ifndef TULLE_PROC_H
#define TULLE_PROC_H

#include <stdbool.h>
#include <sys/types.h>

struct proc_opts {
	const char *netns;        /* a network namespace file to enter first, or NULL */
	const char *const *env;   /* NAME=VALUE pairs added to the environment, NULL-ended */
	const char *input;        /* written to its stdin (then closed), or NULL */
	char **out;               /* stdout+stderr collected here (caller frees), or NULL */
	bool quiet;               /* without out: stdout and stderr to /dev/null */
};

/* Runs argv (PATH looked up) and waits: returns its exit code, 128+signal, or -1 when
 * it could not start; 127 when exec failed or the namespace could not be entered. */
int proc_run(const char *const *argv, const struct proc_opts *o);
/* Starts argv as a daemon in a session of its own, stdin from /dev/null and output
 * appended to log; writes its pid to pidfile when given. Returns the pid or -1. */
pid_t proc_daemon(const char *const *argv, const char *log, const char *pidfile);
/* Moves the calling process (all of it: call before threads) into a network
 * namespace; returns 0 or -errno. */
int proc_enter_netns(const char *path);
/* In a forked child before exec: no blocked signals, default SIGPIPE. */
void proc_child_reset(void);
/* The path of the running executable (for re-executing tulle's subcommands). */
void proc_self(char out[4096]);

#endif
