/* Shared pieces of the CLI's subcommands. */
#ifndef TULLE_CLI_H
#define TULLE_CLI_H

#include <jansson.h>
#include <stdbool.h>

#include "../api/schema.h"
#include "../lib/doc.h"
#include "../client/client.h"

/* Options every API subcommand takes (kubectl's names). */
struct common_opts {
	const char *server, *token, *ns;
	bool all_ns;
};

/* The option-table entries every API subcommand shares; end a table with them. */
#define COMMON_OPTIONS                                          \
	{ "namespace", required_argument, NULL, 'n' },          \
	{ "server", required_argument, NULL, 's' },             \
	{ "token", required_argument, NULL, 't' },              \
	{ "help", no_argument, NULL, 'h' },                     \
	{ NULL, 0, NULL, 0 }

/* Takes a shared option (n, s, t); false when c is not one of them. */
bool common_option(int c, const char *arg, struct common_opts *o);

/* One object read from a manifest, with where it came from. */
struct manifest_obj {
	json_t *obj;  /* as written (before defaulting) */
	const struct skind *kind;
	const char *file;
	int line, col;
};

struct manifest {
	struct manifest_obj *v;
	size_t n;
	struct doc **docs; /* kept for positions */
	size_t ndocs;
};

/* Reads FILE, DIR (its .yaml/.yml/.json files, sorted; recursive with -R) or "-",
 * validates every object strictly and fills m. Errors are printed as
 * FILE:LINE:COL: ...; returns the number of errors (0 = all good). */
int manifest_load(struct manifest *m, char **paths, size_t npaths, bool recursive,
		  const char *ns);
/* The same with a choice for unknown fields (kubectl's --validate): 0 strict,
 * 1 warn (reported, dropped), 2 ignore (dropped). */
int manifest_load_mode(struct manifest *m, char **paths, size_t npaths, bool recursive,
		       const char *ns, int unknown);
void manifest_free(struct manifest *m);

/* "service", "networkpolicy.networking.k8s.io": how kubectl names a kind in messages. */
char *kind_ref(const struct skind *k);
/* GET path: the body when the server answers 200; otherwise prints the server's
 * Status (or the connection error) and returns NULL. */
json_t *cli_get(struct client *cl, const char *path);
/* Percent-encodes a query parameter's value. Caller frees. */
char *cli_query_escape(const char *s);
/* Connects with the common options; prints the error and returns -1 on failure. */
int cli_connect(struct client *c, const struct common_opts *o);
/* Runs argv inside the named network namespace (`ip netns exec`). With replace the
 * process becomes it; otherwise returns its exit status. */
int netns_exec(const char *ns, char *const *argv, bool replace);
/* Prints a server error (a Status body) as kubectl does. */
void cli_print_status(const json_t *body, int code, const char *prefix);

int cmd_apply(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_describe(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_api_resources(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_observe(int argc, char **argv);
int cmd_cluster(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_expose(int argc, char **argv);
int cmd_label(int argc, char **argv);
int cmd_annotate(int argc, char **argv);
int cmd_scale(int argc, char **argv);
int cmd_set(int argc, char **argv);
int cmd_rollout(int argc, char **argv);
int cmd_patch(int argc, char **argv);

#endif
