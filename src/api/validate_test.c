/* Decoder + validator: the seed's manifests pass with defaults filled, and each kind of
 * bad input is rejected with the position and field path it concerns. */
#include "../lib/testhelp.h"

#include <dirent.h>

#include "../lib/doc.h"
#include "validate.h"

static const char *seed_dir(void)
{
	/* The chapter's manifests, kept in the project; tests run from its root. */
	const char *d = getenv("TULLE_MANIFESTS");
	return d ? d : "examples/manifests";
}

/* Validates a YAML text; returns the number of errors and their text in *out. */
static int check_text(const char *yaml, char **out)
{
	struct doc **docs;
	size_t n;
	struct ferrs errs;
	struct strbuf sb;
	int bad = 0;

	ferrs_init(&errs);
	sb_init(&sb);
	if (doc_load_all(yaml, strlen(yaml), "t.yaml", &docs, &n, &errs) < 0) {
		api_format_errors(&sb, "t.yaml", NULL, &errs);
		bad = (int)errs.n;
	} else {
		for (size_t i = 0; i < n; i++) {
			const struct skind *k;
			struct ferrs e;
			ferrs_init(&e);
			if (api_validate(docs[i]->root, docs[i], UNKNOWN_STRICT, &k, &e, NULL) < 0) {
				api_format_errors(&sb, "t.yaml", docs[i]->root, &e);
				bad += (int)e.n;
			}
			ferrs_free(&e);
		}
		docs_free(docs, n);
	}
	ferrs_free(&errs);
	*out = sb_detach(&sb);
	return bad;
}

static void seed_manifests_validate(void)
{
	DIR *d = opendir(seed_dir());
	struct dirent *e;
	int files = 0;

	CHECK(d != NULL); /* examples/manifests is part of the checkout */
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!str_has_suffix(e->d_name, ".yaml"))
			continue;
		char *path = xasprintf("%s/%s", seed_dir(), e->d_name);
		char *text, *msg;
		size_t len;
		CHECK(read_file(path, &text, &len) == 0);
		int bad = check_text(text, &msg);
		if (bad)
			fprintf(stderr, "  %s:\n%s", path, msg);
		CHECK(bad == 0);
		free(msg);
		free(text);
		free(path);
		files++;
	}
	closedir(d);
	CHECK(files == 24);
}

static void service_defaults_filled(void)
{
	const char *y = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"
			"spec:\n  selector: {app: a}\n  ports:\n  - port: 80\n";
	struct doc **docs;
	size_t n;
	struct ferrs errs;
	const struct skind *k;

	ferrs_init(&errs);
	CHECK(doc_load_all(y, strlen(y), "t", &docs, &n, &errs) == 0 && n == 1);
	CHECK(api_validate(docs[0]->root, docs[0], UNKNOWN_STRICT, &k, &errs, NULL) == 0);
	json_t *spec = json_object_get(docs[0]->root, "spec");
	json_t *port = json_array_get(json_object_get(spec, "ports"), 0);
	CHECK_STR(json_string_value(json_object_get(spec, "type")), "ClusterIP");
	CHECK_STR(json_string_value(json_object_get(port, "protocol")), "TCP");
	CHECK(json_integer_value(json_object_get(port, "targetPort")) == 80);
	CHECK_STR(json_string_value(json_object_get(spec, "sessionAffinity")), "None");
	docs_free(docs, n);
	ferrs_free(&errs);
}

static void networkpolicy_policytypes_default(void)
{
	const char *y = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
			"metadata: {name: p, namespace: x}\nspec:\n  podSelector: {}\n"
			"  egress:\n  - {}\n";
	struct doc **docs;
	size_t n;
	struct ferrs errs;
	const struct skind *k;

	ferrs_init(&errs);
	CHECK(doc_load_all(y, strlen(y), "t", &docs, &n, &errs) == 0);
	CHECK(api_validate(docs[0]->root, docs[0], UNKNOWN_STRICT, &k, &errs, NULL) == 0);
	char *t = json_dumps(json_object_get(json_object_get(docs[0]->root, "spec"), "policyTypes"),
			     JSON_COMPACT);
	CHECK_STR(t, "[\"Ingress\",\"Egress\"]");
	free(t);
	docs_free(docs, n);
	ferrs_free(&errs);
}

static void bad_port_names_line_and_path(void)
{
	char *msg;
	const char *y = "apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  ports:\n"
			"  - port: 70000\n";
	CHECK(check_text(y, &msg) == 1);
	CHECK(strstr(msg, "t.yaml:7:11: Service \"bad\" is invalid: spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive") != NULL);
	free(msg);
}

static void wrong_type_rejected(void)
{
	char *msg;
	const char *y = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n"
			"  replicas: three\n  selector: {matchLabels: {a: b}}\n"
			"  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers: [{name: c, image: nginx}]\n";
	CHECK(check_text(y, &msg) == 1);
	CHECK(strstr(msg, "t.yaml:5:13:") && strstr(msg, "spec.replicas: Invalid value: \"three\": must be of type integer"));
	free(msg);
}

static void bad_label_rejected(void)
{
	char *msg;
	const char *y = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    app: -bad-\n"
			"spec:\n  containers: [{name: c}]\n";
	CHECK(check_text(y, &msg) == 1);
	CHECK(strstr(msg, "t.yaml:6:10:") && strstr(msg, "metadata.labels[app]: Invalid value: \"-bad-\""));
	free(msg);
}

static void syntax_error_has_position(void)
{
	char *msg;
	const char *y = "apiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n";
	CHECK(check_text(y, &msg) == 1);
	CHECK(strstr(msg, "t.yaml:5:1:") != NULL || strstr(msg, "t.yaml:4:") != NULL);
	CHECK(strstr(msg, "YAML syntax error") != NULL);
	free(msg);
}

static void unknown_field_and_kind(void)
{
	char *msg;
	const char *y = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: [{port: 80}]\n  colour: blue\n";
	CHECK(check_text(y, &msg) == 1);
	CHECK(strstr(msg, "t.yaml:6:11:") && strstr(msg, "unknown field \"spec.colour\""));
	free(msg);
	y = "apiVersion: v1\nkind: Gadget\nmetadata: {name: s}\n";
	CHECK(check_text(y, &msg) == 1);
	CHECK(strstr(msg, "no matches for kind \"Gadget\" in version \"v1\""));
	free(msg);
}

static void required_and_enum(void)
{
	char *msg;
	const char *y = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  type: Magic\n  ports: [{name: a}]\n";
	CHECK(check_text(y, &msg) == 2);
	CHECK(strstr(msg, "spec.type: Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"NodePort\", \"LoadBalancer\", \"ExternalName\""));
	CHECK(strstr(msg, "spec.ports[0].port: Required value"));
	free(msg);
}

static void nodeport_range_and_type(void)
{
	char *msg;
	const char *y = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  type: NodePort\n  ports: [{port: 80, nodePort: 80}]\n";
	CHECK(check_text(y, &msg) == 1);
	CHECK(strstr(msg, "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"));
	free(msg);
	y = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: [{port: 80, nodePort: 30001}]\n";
	CHECK(check_text(y, &msg) == 1);
	CHECK(strstr(msg, "nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"));
	free(msg);
}

static void ipblock_except_must_be_subset(void)
{
	char *msg;
	const char *y = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n"
			"spec:\n  podSelector: {}\n  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16]}\n";
	CHECK(check_text(y, &msg) == 1);
	CHECK(strstr(msg, "spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: \"11.0.0.0/16\": must be a strict subset of `cidr`"));
	free(msg);
}

static void calico_selector_checked(void)
{
	char *msg;
	const char *y = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\n"
			"spec:\n  selector: tier == \n";
	CHECK(check_text(y, &msg) == 1);
	CHECK(strstr(msg, "spec.selector: Invalid value") != NULL);
	free(msg);
}

static void duplicate_keys_and_aliases(void)
{
	char *msg;
	const char *y = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  a: x\n  a: y\n";
	CHECK(check_text(y, &msg) == 1);
	CHECK(strstr(msg, "duplicate key \"a\""));
	free(msg);
	/* A billion-laughs document stops at the node budget instead of eating memory. */
	struct strbuf sb;
	sb_init(&sb);
	sb_adds(&sb, "a0: &a0 [x,x,x,x,x,x,x,x,x,x]\n");
	for (int i = 1; i < 12; i++)
		sb_printf(&sb, "a%d: &a%d [*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d]\n", i, i,
			  i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	CHECK(check_text(sb.buf, &msg) == 1);
	CHECK(strstr(msg, "too many nodes") != NULL);
	free(msg);
	sb_free(&sb);
}

static void json_input_accepted(void)
{
	char *msg;
	const char *j = "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"prod\"}}";
	CHECK(check_text(j, &msg) == 0);
	free(msg);
}

int main(void)
{
	RUN(seed_manifests_validate);
	RUN(service_defaults_filled);
	RUN(networkpolicy_policytypes_default);
	RUN(bad_port_names_line_and_path);
	RUN(wrong_type_rejected);
	RUN(bad_label_rejected);
	RUN(syntax_error_has_position);
	RUN(unknown_field_and_kind);
	RUN(required_and_enum);
	RUN(nodeport_range_and_type);
	RUN(ipblock_except_must_be_subset);
	RUN(calico_selector_checked);
	RUN(duplicate_keys_and_aliases);
	RUN(json_input_accepted);
	return testhelp_done();
}
