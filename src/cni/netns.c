#include "cni.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/proc.h"
#include "../lib/util.h"

bool netns_exists(const char *path)
{
	struct stat st;
	return path && *path && stat(path, &st) == 0;
}

/* ip(8) in the namespace: the child enters it, the plugin never leaves its own, so a
 * failure half-way cannot strand it in the pod's. */
int run_ip(const char *netns, char **out, const char *const *argv)
{
	const char *args[32];
	size_t n = 0;
	char *captured = NULL;

	args[n++] = "ip";
	for (; argv[n - 1] && n < 31; n++)
		args[n] = argv[n - 1];
	args[n] = NULL;
	struct proc_opts o = { .netns = netns, .out = &captured };
	int rc = proc_run(args, &o);
	if (out)
		*out = captured;
	else
		free(captured);
	return rc < 0 ? -1 : rc;
}
