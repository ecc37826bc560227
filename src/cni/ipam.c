#include "cni.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/util.h"

static char *net_dir(const struct cni_conf *c)
{
	return xasprintf("%s/%s", c->data_dir, c->name);
}

static int mkdirs(const char *path)
{
	char *p = xstrdup(path);

	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			if (mkdir(p, 0700) < 0 && errno != EEXIST) {
				free(p);
				return -errno;
			}
			*s = '/';
		}
	int rc = mkdir(p, 0700) < 0 && errno != EEXIST ? -errno : 0;
	free(p);
	return rc;
}

/* Holds the network's lock until unlock(fd). */
static int lock(const struct cni_conf *c)
{
	char *dir = net_dir(c);
	if (mkdirs(dir) < 0) {
		free(dir);
		return -1;
	}
	char *path = xasprintf("%s/lock", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(path);
	free(dir);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	return fd;
}

static void unlock(int fd)
{
	flock(fd, LOCK_UN);
	close(fd);
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

/* Reads a record: "CONTAINER\nIFNAME\nHOSTIF\n". */
static int read_record(const char *path, char **id, char **ifname, char **host)
{
	char *data;
	size_t len;

	if (read_file(path, &data, &len) < 0)
		return -1;
	char *save = NULL;
	char *a = strtok_r(data, "\n", &save), *b = strtok_r(NULL, "\n", &save), *h = strtok_r(NULL, "\n", &save);
	*id = xstrdup(a ? a : "");
	*ifname = xstrdup(b ? b : "");
	*host = xstrdup(h ? h : "");
	free(data);
	return 0;
}

static bool is_addr_file(const char *n)
{
	struct ipaddr ip;
	return ip_parse(n, &ip) == 0;
}

int ipam_find(const struct cni_conf *c, const char *container_id, const char *ifname, struct ipaddr *out)
{
	char *dir = net_dir(c);
	DIR *d = opendir(dir);
	struct dirent *de;
	int found = -1;

	while (d && (de = readdir(d))) {
		if (!is_addr_file(de->d_name))
			continue;
		char *path = xasprintf("%s/%s", dir, de->d_name), *id, *ifn, *host;
		if (read_record(path, &id, &ifn, &host) == 0) {
			if (!strcmp(id, container_id) && !strcmp(ifn, ifname)) {
				ip_parse(de->d_name, out);
				found = 0;
			}
			free(id);
			free(ifn);
			free(host);
		}
		free(path);
	}
	if (d)
		closedir(d);
	free(dir);
	return found;
}

int ipam_allocate(const struct cni_conf *c, const char *container_id, const char *ifname,
		  const char *host_if, struct ipaddr *out, struct cni_err *e)
{
	int fd = lock(c);
	char *dir = net_dir(c);
	int rc = -1;

	if (fd < 0) {
		cni_fail(e, CNI_IO_FAILURE, "IPAM store unavailable", "cannot lock %s: %s", dir, strerror(errno));
		goto out;
	}
	/* Round robin from the last address handed out, so a released address is not
	 * reused at once (stale conntrack and ARP entries age out first). */
	int64_t first = cidr_offset(&c->subnet, &c->range_start), last = cidr_offset(&c->subnet, &c->range_end);
	int64_t span = last - first + 1, start = 0;
	char *lastp = xasprintf("%s/last_reserved_ip", dir), *lastv;
	size_t len;
	struct ipaddr lip;
	if (read_file(lastp, &lastv, &len) == 0) {
		lastv[strcspn(lastv, "\n")] = 0;
		if (ip_parse(lastv, &lip) == 0 && cidr_contains_ip(&c->subnet, &lip))
			start = cidr_offset(&c->subnet, &lip) - first + 1;
		free(lastv);
	}
	char *rec = xasprintf("%s\n%s\n%s\n", container_id, ifname, host_if);
	for (int64_t i = 0; i < span; i++) {
		int64_t off = first + ((start + i) % span + span) % span;
		struct ipaddr ip;
		char ipt[64];
		cidr_nth(&c->subnet, (uint64_t)off, &ip);
		ip_format(&ip, ipt, sizeof(ipt));
		char *path = xasprintf("%s/%s", dir, ipt);
		int f = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (f < 0) {
			free(path);
			if (errno == EEXIST)
				continue;
			cni_fail(e, CNI_IO_FAILURE, "IPAM store unavailable", "cannot create %s/%s: %s", dir, ipt, strerror(errno));
			goto done;
		}
		bool ok = write(f, rec, strlen(rec)) == (ssize_t)strlen(rec) && fsync(f) == 0;
		close(f);
		if (!ok || sync_dir(dir) < 0) {
			unlink(path);
			free(path);
			cni_fail(e, CNI_IO_FAILURE, "IPAM store unavailable", "cannot write %s/%s", dir, ipt);
			goto done;
		}
		free(path);
		write_file_atomic(lastp, ipt, strlen(ipt), 0600);
		*out = ip;
		rc = 0;
		goto done;
	}
	cni_fail(e, CNI_NO_ADDRESSES, "no free addresses", "every address of %s from %s is allocated",
		 json_string_value(json_object_get(json_object_get(c->raw, "ipam"), "subnet")), dir);
done:
	free(rec);
	free(lastp);
out:
	if (fd >= 0)
		unlock(fd);
	free(dir);
	return rc;
}

/* Walks the records under the lock, releasing those keep() refuses. */
static int sweep(const struct cni_conf *c, bool (*keep)(void *ctx, const char *id, const char *ifn),
		 void *ctx, void (*drop)(void *ctx, const char *host))
{
	int fd = lock(c);
	char *dir = net_dir(c);
	DIR *d = fd >= 0 ? opendir(dir) : NULL;
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d))) {
		if (!is_addr_file(de->d_name))
			continue;
		char *path = xasprintf("%s/%s", dir, de->d_name), *id, *ifn, *host;
		if (read_record(path, &id, &ifn, &host) == 0) {
			if (!keep(ctx, id, ifn) && unlink(path) == 0) {
				n++;
				if (drop)
					drop(ctx, host);
			}
			free(id);
			free(ifn);
			free(host);
		}
		free(path);
	}
	if (d)
		closedir(d);
	if (n)
		sync_dir(dir);
	if (fd >= 0)
		unlock(fd);
	free(dir);
	return n;
}

struct one {
	const char *id, *ifname;
	char **host;
};

static bool keep_others(void *ctx, const char *id, const char *ifn)
{
	struct one *o = ctx;
	return strcmp(id, o->id) || strcmp(ifn, o->ifname);
}

static void remember_host(void *ctx, const char *host)
{
	struct one *o = ctx;
	if (o->host && !*o->host)
		*o->host = xstrdup(host);
}

int ipam_release(const struct cni_conf *c, const char *container_id, const char *ifname, char **host_if)
{
	struct one o = { container_id, ifname, host_if };

	if (host_if)
		*host_if = NULL;
	return sweep(c, keep_others, &o, remember_host);
}

struct gc_ctx {
	const json_t *valid;
	void (*drop)(const char *host);
};

static bool keep_valid(void *ctx, const char *id, const char *ifn)
{
	struct gc_ctx *g = ctx;
	size_t i;
	json_t *a;

	json_array_foreach(g->valid, i, a)
		if (!strcmp(json_string_value(json_object_get(a, "containerID")) ?: "", id) &&
		    !strcmp(json_string_value(json_object_get(a, "ifname")) ?: "", ifn))
			return true;
	return false;
}

static void gc_drop(void *ctx, const char *host)
{
	struct gc_ctx *g = ctx;
	if (g->drop && host && *host)
		g->drop(host);
}

int ipam_gc(const struct cni_conf *c, const json_t *valid, void (*drop)(const char *host_if))
{
	struct gc_ctx g = { valid, drop };
	return sweep(c, keep_valid, &g, gc_drop);
}

long ipam_free_count(const struct cni_conf *c)
{
	char *dir = net_dir(c);
	DIR *d = opendir(dir);
	struct dirent *de;
	long used = 0;
	int64_t span = cidr_offset(&c->subnet, &c->range_end) - cidr_offset(&c->subnet, &c->range_start) + 1;

	while (d && (de = readdir(d))) {
		struct ipaddr ip;
		if (ip_parse(de->d_name, &ip) == 0 && cidr_contains_ip(&c->subnet, &ip))
			used++;
	}
	if (d)
		closedir(d);
	free(dir);
	return (long)span - used;
}
