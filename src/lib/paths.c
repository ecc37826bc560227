#include "paths.h"

#include <stdlib.h>

#include "util.h"

char *paths_home(void)
{
	const char *h = getenv("TULLE_HOME"), *u = getenv("HOME");

	return h && *h ? xstrdup(h) : xasprintf("%s/.tulle", u && *u ? u : "/root");
}

char *paths_cluster(const char *cluster)
{
	char *h = paths_home(), *d = xasprintf("%s/clusters/%s", h, cluster);

	free(h);
	return d;
}

char *paths_pod_record(const char *node_state, const char *uid)
{
	return xasprintf("%s/pods/%s", node_state, uid);
}

char *paths_pod_log(const char *node_state, const char *uid)
{
	return xasprintf("%s/pods/%s.log", node_state, uid);
}
