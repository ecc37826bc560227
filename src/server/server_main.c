/* `tulle server`: opens the store, binds the listeners and runs the event loop. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn.h"
#include "controllers.h"
#include "table.h"
#include "objects.h"
#include "watch.h"
#include "server_main.h"

/* Static so that memory reachable from it at exit is not reported as a leak. */
static struct apiserver srv;

static void on_signal(struct loop *l, int fd, uint32_t events, void *ctx)
{
	struct signalfd_siginfo si;

	(void)events;
	(void)ctx;
	if (read(fd, &si, sizeof(si)) > 0)
		loop_stop(l);
}

static void on_tick(struct loop *l, void *ctx)
{
	struct apiserver *s = ctx;
	int64_t n = 0;

	(void)l;
	watch_tick(s);
	/* Keep a bounded event history; watches older than that get 410 and re-list. */
	if (s->store->be->count_events(s->store, &n) == 0 && n > s->cfg.history)
		store_compact(s->store, store_rev(s->store) - s->cfg.history);
}

static void on_controllers(struct loop *l, void *ctx)
{
	(void)l;
	controllers_tick(ctx);
}

static char *random_token(void)
{
	uint8_t b[24];
	char *t = xmalloc(sizeof(b) * 2 + 1);

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		return NULL;
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(t + i * 2, 3, "%02x", b[i]);
	return t;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tulle server --state DIR [--listen URL]... [--token-file FILE]\n"
		"                    [--service-cidr CIDR] [--history N] [--no-fsync]\n"
		"  --state DIR         where the store (state.db), token and socket live\n"
		"  --listen URL        unix:///PATH, tcp://127.0.0.1:PORT or https://127.0.0.1:PORT\n"
		"                      (repeatable); default unix://DIR/api.sock\n"
		"  --token-file FILE   bearer token TCP clients must send (default: DIR/token,\n"
		"                      generated on first start)\n"
		"  --service-cidr CIDR range for ClusterIPs (default 10.96.0.0/12)\n"
		"  --lb-pool CIDR      addresses for LoadBalancer Services (none by default: pending)\n"
		"  --pki-dir DIR       certificates for https:// listeners (default DIR/pki; made\n"
		"                      when missing; clients with a certificate it signed need no token)\n"
		"  --history N         watch events kept for resumption (default 100000)\n"
		"  --no-fsync          do not fsync every commit (faster; a power cut may lose\n"
		"                      the last commits)\n"
		"  --node-api          serve a node's pods (exec, attach, log) from the agent's\n"
		"                      records in DIR, as the kubelet does; the agent starts it\n");
}

static int load_or_make_token(struct apiserver *s, const char *file)
{
	char *path = file ? xstrdup(file) : xasprintf("%s/token", s->cfg.state_dir);
	char *data;
	size_t len;

	if (read_file(path, &data, &len) == 0) {
		while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
			data[--len] = 0;
		s->cfg.token = data;
	} else if (!file) {
		s->cfg.token = random_token();
		if (!s->cfg.token || write_file_atomic(path, s->cfg.token, strlen(s->cfg.token), 0600) < 0) {
			fprintf(stderr, "tulle server: cannot write the token to %s: %s\n", path, strerror(errno));
			free(path);
			return -1;
		}
	} else {
		fprintf(stderr, "tulle server: cannot read the token file %s: %s\n", path, strerror(errno));
		free(path);
		return -1;
	}
	free(path);
	return 0;
}

int server_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "listen", required_argument, NULL, 'l' },
		{ "token-file", required_argument, NULL, 't' },
		{ "service-cidr", required_argument, NULL, 'c' },
		{ "history", required_argument, NULL, 'H' },
		{ "lb-pool", required_argument, NULL, 'L' },
		{ "pki-dir", required_argument, NULL, 'P' },
		{ "no-fsync", no_argument, NULL, 'F' },
		{ "node-api", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *token_file = NULL, *cidr = "10.96.0.0/12";
	struct apiserver *s = &srv;
	char *err = NULL;
	int c, rc = 1;

	s->cfg.durable = true;
	s->cfg.history = 100000;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': s->cfg.state_dir = xstrdup(optarg); break;
		case 'l':
			s->cfg.listen = xrealloc(s->cfg.listen, (s->cfg.nlisten + 1) * sizeof(char *));
			s->cfg.listen[s->cfg.nlisten++] = xstrdup(optarg);
			break;
		case 't': token_file = optarg; break;
		case 'c': cidr = optarg; break;
		case 'H': s->cfg.history = atoll(optarg); break;
		case 'P': s->cfg.pki_dir = xstrdup(optarg); break;
		case 'L':
			if (cidr_parse(optarg, &s->cfg.lb_pool, false) < 0 || s->cfg.lb_pool.ip.family != 4 ||
			    s->cfg.lb_pool.prefix > 30) {
				fprintf(stderr, "tulle server: --lb-pool %s: expected an IPv4 CIDR of /30 or larger "
					"(e.g. 172.31.0.128/26)\n", optarg);
				return 2;
			}
			s->cfg.has_lb_pool = true;
			break;
		case 'F': s->cfg.durable = false; break;
		case 'N': s->cfg.node_api = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!s->cfg.state_dir) {
		fprintf(stderr, "tulle server: --state DIR is required\n");
		usage(stderr);
		return 2;
	}
	if (cidr_parse(cidr, &s->cfg.service_cidr, false) < 0 || s->cfg.service_cidr.ip.family != 4 ||
	    s->cfg.service_cidr.prefix > 28) {
		fprintf(stderr, "tulle server: --service-cidr %s: expected an IPv4 CIDR of /28 or larger (e.g. 10.96.0.0/12)\n", cidr);
		return 2;
	}
	if (s->cfg.history < 1)
		s->cfg.history = 1;
	if (mkdir(s->cfg.state_dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "tulle server: cannot create %s: %s\n", s->cfg.state_dir, strerror(errno));
		return 1;
	}
	if (!s->cfg.nlisten) {
		s->cfg.listen = xmalloc(sizeof(char *));
		s->cfg.listen[s->cfg.nlisten++] = xasprintf("unix://%s/api.sock", s->cfg.state_dir);
	}
	s->schema = schema_get();
	s->loop = loop_new();
	if (s->cfg.node_api)
		goto listen;
	char *db = xasprintf("%s/state.db", s->cfg.state_dir);
	if (store_open_sqlite(db, s->cfg.durable, &s->store, &err) < 0) {
		fprintf(stderr, "tulle server: %s\n", err);
		free(err);
		free(db);
		return 1;
	}
	free(db);
	if (alloc_rebuild(s) < 0 || objects_bootstrap(s) < 0) {
		fprintf(stderr, "tulle server: cannot initialise the store in %s\n", s->cfg.state_dir);
		goto out;
	}
listen:;
	bool any_tcp = false, any_tls = false;
	for (size_t i = 0; i < s->cfg.nlisten; i++) {
		any_tcp |= str_has_prefix(s->cfg.listen[i], "tcp://") || str_has_prefix(s->cfg.listen[i], "https://");
		any_tls |= str_has_prefix(s->cfg.listen[i], "https://");
	}
	if (any_tls && server_tls_setup(s, &err) < 0) {
		fprintf(stderr, "tulle server: %s\n", err);
		free(err);
		goto out;
	}
	if ((any_tcp || token_file) && load_or_make_token(s, token_file) < 0)
		goto out;
	struct strbuf urls;
	sb_init(&urls);
	for (size_t i = 0; i < s->cfg.nlisten; i++) {
		char *bound;
		if (conn_listen(s, s->cfg.listen[i], &bound, &err) < 0) {
			fprintf(stderr, "tulle server: %s\n", err);
			free(err);
			sb_free(&urls);
			goto out;
		}
		sb_printf(&urls, "%s\n", bound);
		free(bound);
	}
	/* Clients find the server through these files (first line = preferred URL); a
	 * node API is found through its Node's annotation instead. */
	char *url_path = xasprintf("%s/server.url", s->cfg.state_dir);
	char *pid_path = xasprintf("%s/server.pid", s->cfg.state_dir);
	if (!s->cfg.node_api) {
		write_file_atomic(url_path, urls.buf, urls.len, 0644);
		char pid[24];
		snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
		write_file_atomic(pid_path, pid, strlen(pid), 0644);
	}
	free(url_path);
	sb_free(&urls);

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	loop_add(s->loop, sfd, EPOLLIN, on_signal, NULL);
	if (!s->cfg.node_api) {
		loop_every(s->loop, 1000, on_tick, s);
		loop_every(s->loop, 300, on_controllers, s);
	}
	if (s->cfg.node_api)
		fprintf(stderr, "tulle server: node API on %s for the pods of %s\n", s->cfg.listen[0], s->cfg.state_dir);
	else
		fprintf(stderr, "tulle server: serving %s (revision %lld)\n", s->cfg.listen[0],
			(long long)store_rev(s->store));
	rc = loop_run(s->loop) < 0 ? 1 : 0;
	watch_close_all(s);
	json_decref(s->ctl_dirty);
	json_decref(s->ctl_dirty_svcs);
	table_cache_free(s->rows);
	for (size_t i = 0; i < s->cfg.nlisten; i++)
		if (str_has_prefix(s->cfg.listen[i], "unix://"))
			unlink(s->cfg.listen[i] + 7);
	if (!s->cfg.node_api)
		unlink(pid_path);
	free(pid_path);
	close(sfd);
out:
	if (s->store)
		store_close(s->store);
	alloc_free(&s->cluster_ips);
	alloc_free(&s->node_ports);
	return rc;
}
