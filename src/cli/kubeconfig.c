#define _GNU_SOURCE 1
#include "kubeconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "../lib/doc.h"
#include "../lib/util.h"
#include "../lib/yaml_emit.h"

static char *file_b64(const char *path, char **err)
{
	char *data;
	size_t len;
	if (read_file(path, &data, &len) < 0) {
		*err = xasprintf("cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data, (int)len);
	free(data);
	return out;
}

json_t *kubeconfig_for(const char *cluster, const char *url, const char *pki_dir, char **err)
{
	char *ca_p = xasprintf("%s/ca.crt", pki_dir), *crt_p = xasprintf("%s/admin.crt", pki_dir);
	char *key_p = xasprintf("%s/admin.key", pki_dir);
	char *ca = file_b64(ca_p, err), *crt = ca ? file_b64(crt_p, err) : NULL, *key = crt ? file_b64(key_p, err) : NULL;
	json_t *cfg = NULL;
	if (key) {
		char *name = xasprintf("tulle-%s", cluster);
		cfg = json_pack("{s:s,s:s,s:[{s:s,s:{s:s,s:s}}],s:[{s:s,s:{s:s,s:s}}],s:[{s:s,s:{s:s,s:s}}],s:s,s:{}}",
				"apiVersion", "v1", "kind", "Config", "clusters", "name", name, "cluster",
				"certificate-authority-data", ca, "server", url, "users", "name", name, "user",
				"client-certificate-data", crt, "client-key-data", key, "contexts", "name", name,
				"context", "cluster", name, "user", name, "current-context", name, "preferences");
		free(name);
	}
	free(ca);
	free(crt);
	free(key);
	free(ca_p);
	free(crt_p);
	free(key_p);
	return cfg;
}

char *kubeconfig_path(void)
{
	const char *k = getenv("KUBECONFIG");
	if (k && *k)
		return xstrndup(k, strcspn(k, ":"));
	const char *h = getenv("HOME");
	return xasprintf("%s/.kube/config", h && *h ? h : "/root");
}

/* Replaces (or drops) the entry called name in a named list (clusters, users, contexts). */
static void upsert(json_t *cfg, const char *list, const char *name, const json_t *entry)
{
	json_t *arr = json_object_get(cfg, list);
	if (!json_is_array(arr))
		json_object_set_new(cfg, list, arr = json_array());
	for (size_t i = 0; i < json_array_size(arr);) {
		if (!strcmp(json_string_value(json_object_get(json_array_get(arr, i), "name")) ?: "", name))
			json_array_remove(arr, i);
		else
			i++;
	}
	if (entry)
		json_array_append(arr, (json_t *)entry);
}

int kubeconfig_merge(const char *path, const json_t *add_cfg, const char *cluster, int add, char **err)
{
	char *data = NULL, *name = xasprintf("tulle-%s", cluster);
	size_t len = 0;
	json_t *cfg = NULL;
	int rc = -1;
	if (read_file(path, &data, &len) == 0 && len) {
		struct doc **docs = NULL;
		size_t n = 0;
		struct ferrs errs;
		ferrs_init(&errs);
		if (doc_load_all(data, len, path, &docs, &n, &errs) < 0 || n != 1 || !json_is_object(docs[0]->root)) {
			*err = xasprintf("%s is not a kubeconfig this can merge into (fix or move it, or set KUBECONFIG)", path);
			docs_free(docs, n);
			ferrs_free(&errs);
			goto out;
		}
		cfg = json_incref(docs[0]->root);
		docs_free(docs, n);
		ferrs_free(&errs);
	} else if (!add) {
		rc = 0; /* nothing to remove from */
		goto out;
	} else {
		cfg = json_pack("{s:s,s:s,s:[],s:[],s:[],s:s,s:{}}", "apiVersion", "v1", "kind", "Config", "clusters",
				"users", "contexts", "current-context", "", "preferences");
	}
	const char *lists[] = { "clusters", "users", "contexts" };
	for (int i = 0; i < 3; i++)
		upsert(cfg, lists[i], name, add ? json_array_get(json_object_get(add_cfg, lists[i]), 0) : NULL);
	const char *cur = json_string_value(json_object_get(cfg, "current-context")) ?: "";
	if (add)
		json_object_set_new(cfg, "current-context", json_string(name));
	else if (!strcmp(cur, name))
		json_object_set_new(cfg, "current-context", json_string(""));
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		mkdir(dir, 0700);
	}
	free(dir);
	struct strbuf sb;
	sb_init(&sb);
	yaml_emit(&sb, cfg);
	if (write_file_atomic(path, sb.buf, sb.len, 0600) < 0)
		*err = xasprintf("cannot write %s: %s", path, strerror(errno));
	else
		rc = 0;
	sb_free(&sb);
out:
	json_decref(cfg);
	free(data);
	free(name);
	return rc;
}
