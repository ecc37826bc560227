/* The informer against a real API server (server_main in a child process): the first
 * list, events as they happen, a stream broken by a server restart resumed, and a
 * re-list when the history it would resume from was compacted away (410). */
#include "../lib/testhelp.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/util.h"
#include "../server/server_main.h"
#include "informer.h"

static char dir[64], url[128];

static pid_t start_server(const char *history)
{
	pid_t pid = fork();

	if (pid == 0) {
		char *argv[] = { "server", "--state", dir, "--history", (char *)history, "--no-fsync", NULL };
		if (!freopen("/dev/null", "w", stderr))
			_exit(1);
		_exit(server_main(6, argv));
	}
	char *sock = xasprintf("%s/api.sock", dir);
	struct stat st;
	for (int i = 0; i < 200 && stat(sock, &st) < 0; i++)
		usleep(20000);
	free(sock);
	usleep(50000);
	return pid;
}

static void stop_server(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	char *sock = xasprintf("%s/api.sock", dir);
	unlink(sock);
	free(sock);
}

static int put_cm(struct client *cl, const char *name, const char *value)
{
	int code = 0;
	char *err = NULL;
	json_t *cm = json_pack("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name",
			       name, "data", "v", value);
	json_t *r = client_json(cl, "POST", "/api/v1/namespaces/default/configmaps", cm, NULL, &code, &err);
	json_decref(cm);
	json_decref(r);
	free(err);
	return code;
}

static void del_cm(struct client *cl, const char *name)
{
	int code = 0;
	char *err = NULL, *path = xasprintf("/api/v1/namespaces/default/configmaps/%s", name);
	json_decref(client_json(cl, "DELETE", path, NULL, NULL, &code, &err));
	free(err);
	free(path);
}

struct seen {
	struct loop *l;
	unsigned calls;
};

static void on_change(struct informer *inf, void *ctx)
{
	struct seen *s = ctx;
	(void)inf;
	s->calls++;
}

static void stop_cb(struct loop *l, void *ctx)
{
	(void)ctx;
	loop_stop(l);
}

/* Runs the loop until cond holds or ms pass. */
static bool until(struct loop *l, struct informer *inf, bool (*cond)(struct informer *), int ms)
{
	for (int t = 0; t < ms / 20; t++) {
		if (cond(inf))
			return true;
		loop_every(l, 20, stop_cb, NULL);
		loop_run(l);
		loop_cancel(l, stop_cb, NULL);
	}
	return cond(inf);
}

static bool has_a_b(struct informer *inf)
{
	const json_t *it = informer_items(inf);
	return json_object_get(it, "default/a") && json_object_get(it, "default/b");
}

static bool b_gone_c_here(struct informer *inf)
{
	const json_t *it = informer_items(inf);
	return !json_object_get(it, "default/b") && json_object_get(it, "default/c");
}

static bool d_here(struct informer *inf)
{
	return json_object_get(informer_items(inf), "default/d") != NULL;
}

static bool many_here(struct informer *inf)
{
	const json_t *it = informer_items(inf);
	return json_object_get(it, "default/m19") && !json_object_get(it, "default/c");
}

static void list_watch_resume_relist(void)
{
	snprintf(dir, sizeof(dir), "/tmp/tulle-inf-test.XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(url, sizeof(url), "unix://%s/api.sock", dir);
	pid_t srv = start_server("5");
	struct client cl;
	char *err = NULL;
	CHECK(client_init(&cl, url, NULL, &err) == 0);
	CHECK(put_cm(&cl, "a", "1") == 201);

	struct loop *l = loop_new();
	struct seen s = { l, 0 };
	struct informer *inf = informer_new(&cl, "/api/v1/configmaps", NULL);
	CHECK(informer_start(inf, l, on_change, &s) == 0);
	CHECK(informer_synced(inf) && json_object_get(informer_items(inf), "default/a"));
	/* Events: an add arrives without a list. */
	CHECK(put_cm(&cl, "b", "2") == 201);
	CHECK(until(l, inf, has_a_b, 3000));
	del_cm(&cl, "b");
	CHECK(put_cm(&cl, "c", "3") == 201);
	CHECK(until(l, inf, b_gone_c_here, 3000));
	unsigned long gen = informer_generation(inf);
	CHECK(gen >= 3);

	/* The server dies and comes back (same store): the informer reconnects and sees
	 * what was written in between. */
	stop_server(srv);
	srv = start_server("5");
	client_free(&cl);
	CHECK(client_init(&cl, url, NULL, &err) == 0);
	CHECK(put_cm(&cl, "d", "4") == 201);
	CHECK(until(l, inf, d_here, 5000));

	/* Down again while many writes compact the history past the informer's place
	 * (--history 5): resuming gets 410, and a re-list brings the cache up to date. */
	stop_server(srv);
	srv = start_server("5");
	client_free(&cl);
	CHECK(client_init(&cl, url, NULL, &err) == 0);
	del_cm(&cl, "c");
	for (int i = 0; i < 20; i++) {
		char n[8];
		snprintf(n, sizeof(n), "m%d", i);
		put_cm(&cl, n, "x");
	}
	unsigned long lists = informer_lists(inf);
	sleep(2); /* the server compacts once a second */
	CHECK(until(l, inf, many_here, 5000));
	CHECK(informer_lists(inf) > lists); /* 410 on resume, then a list */
	CHECK(json_object_size(informer_items(inf)) == 22); /* a, d, m0..m19 */
	CHECK(s.calls >= 4);

	informer_free(inf);
	loop_free(l);
	client_free(&cl);
	stop_server(srv);
	char *rm = xasprintf("rm -rf %s", dir);
	CHECK(system(rm) == 0);
	free(rm);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	RUN(list_watch_resume_relist);
	return testhelp_done();
}
