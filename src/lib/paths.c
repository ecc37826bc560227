#include "paths.h"

#include <stdlib.h>
#include <string.h>

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

char *paths_node(const char *cluster, const char *node)
{
	char *c = paths_cluster(cluster), *d = xasprintf("%s/nodes/%s", c, node);

	free(c);
	return d;
}

char *paths_current_cluster(void)
{
	char *h = paths_home(), *cur = xasprintf("%s/current", h), *data, *name = NULL;
	size_t len;

	if (read_file(cur, &data, &len) == 0) {
		data[strcspn(data, "\n")] = 0;
		char *slash = strrchr(data, '/');
		name = xstrdup(slash ? slash + 1 : data);
		free(data);
	}
	free(cur);
	free(h);
	return name;
}

char *paths_pod_record(const char *node_state, const char *uid)
{
	return xasprintf("%s/pods/%s", node_state, uid);
}

char *paths_pod_log(const char *node_state, const char *uid)
{
	return xasprintf("%s/pods/%s.log", node_state, uid);
}
