#define _GNU_SOURCE 1
#include "k8sproto.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "../lib/util.h"

enum pt {
	P_STR,     /* string */
	P_INT,     /* varint */
	P_BOOL,
	P_MSG,     /* nested message */
	P_MAP_SS,  /* map<string,string> */
	P_MAP_SB,  /* map<string,bytes>, base64 in JSON (Secret.data) */
	P_MAP_SQ,  /* map<string,Quantity> (resources) */
	P_INTSTR,  /* IntOrString {type=1, intVal=2, strVal=3} */
	P_TIME,    /* Time {seconds=1, nanos=2}: zero is unset */
	P_ANYMSG,  /* a message tulle does not model: kept out */
};

struct pmsg;

struct pfield {
	int num;
	const char *json;
	enum pt type;
	bool repeated;
	const struct pmsg *msg;
	bool keep_zero; /* a pointer field in Go: zero is a value, not "unset" */
};

struct pmsg {
	const char *name;
	const struct pfield *f; /* terminated by num 0 */
};

#define END { 0, NULL, P_STR, false, NULL, false }

static const struct pfield quantity_f[] = { { 1, "string", P_STR, false, NULL, false }, END };
static const struct pmsg quantity = { "Quantity", quantity_f };

static const struct pfield owner_ref_f[] = {
	{ 5, "apiVersion", P_STR, false, NULL, false }, { 1, "kind", P_STR, false, NULL, false },
	{ 3, "name", P_STR, false, NULL, false }, { 4, "uid", P_STR, false, NULL, false },
	{ 6, "controller", P_BOOL, false, NULL, true }, { 7, "blockOwnerDeletion", P_BOOL, false, NULL, true }, END,
};
static const struct pmsg owner_ref = { "OwnerReference", owner_ref_f };

static const struct pfield meta_f[] = {
	{ 1, "name", P_STR, false, NULL, false }, { 2, "generateName", P_STR, false, NULL, false },
	{ 3, "namespace", P_STR, false, NULL, false }, { 5, "uid", P_STR, false, NULL, false },
	{ 6, "resourceVersion", P_STR, false, NULL, false }, { 8, "creationTimestamp", P_TIME, false, NULL, false },
	{ 11, "labels", P_MAP_SS, false, NULL, false }, { 12, "annotations", P_MAP_SS, false, NULL, false },
	{ 13, "ownerReferences", P_MSG, true, &owner_ref, false }, { 14, "finalizers", P_STR, true, NULL, false }, END,
};
static const struct pmsg meta = { "ObjectMeta", meta_f };

static const struct pfield req_f[] = {
	{ 1, "key", P_STR, false, NULL, false }, { 2, "operator", P_STR, false, NULL, false },
	{ 3, "values", P_STR, true, NULL, false }, END,
};
static const struct pmsg label_req = { "LabelSelectorRequirement", req_f };
static const struct pfield selector_f[] = {
	{ 1, "matchLabels", P_MAP_SS, false, NULL, false }, { 2, "matchExpressions", P_MSG, true, &label_req, false }, END,
};
static const struct pmsg selector = { "LabelSelector", selector_f };

static const struct pfield port_f[] = {
	{ 1, "name", P_STR, false, NULL, false }, { 2, "hostPort", P_INT, false, NULL, false },
	{ 3, "containerPort", P_INT, false, NULL, false }, { 4, "protocol", P_STR, false, NULL, false },
	{ 5, "hostIP", P_STR, false, NULL, false }, END,
};
static const struct pmsg container_port = { "ContainerPort", port_f };

static const struct pfield env_f[] = {
	{ 1, "name", P_STR, false, NULL, false }, { 2, "value", P_STR, false, NULL, false }, END,
};
static const struct pmsg env_var = { "EnvVar", env_f };

static const struct pfield resources_f[] = {
	{ 1, "limits", P_MAP_SQ, false, NULL, false }, { 2, "requests", P_MAP_SQ, false, NULL, false }, END,
};
static const struct pmsg resources = { "ResourceRequirements", resources_f };

static const struct pfield container_f[] = {
	{ 1, "name", P_STR, false, NULL, false }, { 2, "image", P_STR, false, NULL, false },
	{ 3, "command", P_STR, true, NULL, false }, { 4, "args", P_STR, true, NULL, false },
	{ 5, "workingDir", P_STR, false, NULL, false }, { 6, "ports", P_MSG, true, &container_port, false },
	{ 7, "env", P_MSG, true, &env_var, false }, { 8, "resources", P_MSG, false, &resources, false },
	{ 13, "terminationMessagePath", P_STR, false, NULL, false }, { 14, "imagePullPolicy", P_STR, false, NULL, false },
	{ 16, "stdin", P_BOOL, false, NULL, false }, { 17, "stdinOnce", P_BOOL, false, NULL, false },
	{ 18, "tty", P_BOOL, false, NULL, false }, { 20, "terminationMessagePolicy", P_STR, false, NULL, false }, END,
};
static const struct pmsg container = { "Container", container_f };

static const struct pfield pod_spec_f[] = {
	{ 2, "containers", P_MSG, true, &container, false }, { 3, "restartPolicy", P_STR, false, NULL, false },
	{ 4, "terminationGracePeriodSeconds", P_INT, false, NULL, true }, { 6, "dnsPolicy", P_STR, false, NULL, false },
	{ 7, "nodeSelector", P_MAP_SS, false, NULL, false }, { 8, "serviceAccountName", P_STR, false, NULL, false },
	{ 10, "nodeName", P_STR, false, NULL, false }, { 11, "hostNetwork", P_BOOL, false, NULL, false },
	{ 16, "hostname", P_STR, false, NULL, false }, { 17, "subdomain", P_STR, false, NULL, false },
	{ 19, "schedulerName", P_STR, false, NULL, false }, { 20, "initContainers", P_MSG, true, &container, false }, END,
};
static const struct pmsg pod_spec = { "PodSpec", pod_spec_f };

static const struct pfield template_f[] = {
	{ 1, "metadata", P_MSG, false, &meta, false }, { 2, "spec", P_MSG, false, &pod_spec, false }, END,
};
static const struct pmsg pod_template = { "PodTemplateSpec", template_f };

static const struct pfield strategy_f[] = { { 1, "type", P_STR, false, NULL, false }, END };
static const struct pmsg strategy = { "DeploymentStrategy", strategy_f };

static const struct pfield deploy_spec_f[] = {
	{ 1, "replicas", P_INT, false, NULL, true }, { 2, "selector", P_MSG, false, &selector, false },
	{ 3, "template", P_MSG, false, &pod_template, false }, { 4, "strategy", P_MSG, false, &strategy, false },
	{ 5, "minReadySeconds", P_INT, false, NULL, false }, { 6, "revisionHistoryLimit", P_INT, false, NULL, true },
	{ 7, "paused", P_BOOL, false, NULL, false }, { 9, "progressDeadlineSeconds", P_INT, false, NULL, true }, END,
};
static const struct pmsg deploy_spec = { "DeploymentSpec", deploy_spec_f };

static const struct pfield svc_port_f[] = {
	{ 1, "name", P_STR, false, NULL, false }, { 2, "protocol", P_STR, false, NULL, false },
	{ 3, "port", P_INT, false, NULL, false }, { 4, "targetPort", P_INTSTR, false, NULL, false },
	{ 5, "nodePort", P_INT, false, NULL, false }, { 6, "appProtocol", P_STR, false, NULL, false }, END,
};
static const struct pmsg svc_port = { "ServicePort", svc_port_f };

static const struct pfield svc_spec_f[] = {
	{ 1, "ports", P_MSG, true, &svc_port, false }, { 2, "selector", P_MAP_SS, false, NULL, false },
	{ 3, "clusterIP", P_STR, false, NULL, false }, { 4, "type", P_STR, false, NULL, false },
	{ 5, "externalIPs", P_STR, true, NULL, false }, { 7, "sessionAffinity", P_STR, false, NULL, false },
	{ 8, "loadBalancerIP", P_STR, false, NULL, false }, { 10, "externalName", P_STR, false, NULL, false },
	{ 11, "externalTrafficPolicy", P_STR, false, NULL, false }, { 18, "clusterIPs", P_STR, true, NULL, false }, END,
};
static const struct pmsg svc_spec = { "ServiceSpec", svc_spec_f };

static const struct pfield ns_spec_f[] = { { 1, "finalizers", P_STR, true, NULL, false }, END };
static const struct pmsg ns_spec = { "NamespaceSpec", ns_spec_f };

/* The kinds: metadata=1, spec=2 (status=3 is the server's: ignored). */
#define KIND(var, specmsg)                                                                                         \
	static const struct pfield var##_f[] = { { 1, "metadata", P_MSG, false, &meta, false },                     \
						 { 2, "spec", P_MSG, false, specmsg, false }, END };               \
	static const struct pmsg var = { #var, var##_f };
KIND(k_namespace, &ns_spec)
KIND(k_deployment, &deploy_spec)
KIND(k_service, &svc_spec)
KIND(k_pod, &pod_spec)

static const struct pfield k_configmap_f[] = {
	{ 1, "metadata", P_MSG, false, &meta, false }, { 2, "data", P_MAP_SS, false, NULL, false },
	{ 3, "binaryData", P_MAP_SB, false, NULL, false }, { 4, "immutable", P_BOOL, false, NULL, true }, END,
};
static const struct pmsg k_configmap = { "ConfigMap", k_configmap_f };
static const struct pfield k_secret_f[] = {
	{ 1, "metadata", P_MSG, false, &meta, false }, { 2, "data", P_MAP_SB, false, NULL, false },
	{ 3, "type", P_STR, false, NULL, false }, { 4, "stringData", P_MAP_SS, false, NULL, false },
	{ 5, "immutable", P_BOOL, false, NULL, true }, END,
};
static const struct pmsg k_secret = { "Secret", k_secret_f };
static const struct pfield k_sa_f[] = { { 1, "metadata", P_MSG, false, &meta, false }, END };
static const struct pmsg k_serviceaccount = { "ServiceAccount", k_sa_f };

static const struct {
	const char *api_version, *kind;
	const struct pmsg *msg;
} kinds[] = {
	{ "v1", "Namespace", &k_namespace }, { "v1", "Service", &k_service }, { "v1", "Pod", &k_pod },
	{ "v1", "ConfigMap", &k_configmap }, { "v1", "Secret", &k_secret }, { "v1", "ServiceAccount", &k_serviceaccount },
	{ "apps/v1", "Deployment", &k_deployment },
};

/* ---- wire format ---- */

struct rd {
	const unsigned char *p, *end;
};

static int varint(struct rd *r, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end)
			return -1;
		unsigned char b = *r->p++;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

static int bytes(struct rd *r, struct rd *out)
{
	uint64_t n;
	if (varint(r, &n) < 0 || n > (uint64_t)(r->end - r->p))
		return -1;
	out->p = r->p;
	out->end = r->p + n;
	r->p += n;
	return 0;
}

static int skip(struct rd *r, int wt)
{
	uint64_t v;
	struct rd b;
	switch (wt) {
	case 0: return varint(r, &v);
	case 1: if (r->end - r->p < 8) return -1; r->p += 8; return 0;
	case 2: return bytes(r, &b);
	case 5: if (r->end - r->p < 4) return -1; r->p += 4; return 0;
	}
	return -1;
}

static json_t *str_of(struct rd *b)
{
	return json_stringn((const char *)b->p, (size_t)(b->end - b->p));
}

static json_t *b64_of(struct rd *b)
{
	size_t n = (size_t)(b->end - b->p);
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, b->p, (int)n);
	json_t *j = json_string(out);
	free(out);
	return j;
}

static json_t *message(struct rd *r, const struct pmsg *m, int depth, char **err);

/* A map entry {key=1, value=2}; the value by the map's type. */
static int map_entry(struct rd *b, enum pt type, json_t *obj, int depth, char **err)
{
	json_t *key = NULL, *val = NULL;
	while (b->p < b->end) {
		uint64_t tag;
		if (varint(b, &tag) < 0)
			goto bad;
		int num = (int)(tag >> 3), wt = (int)(tag & 7);
		struct rd s;
		if ((num == 1 || num == 2) && wt == 2) {
			if (bytes(b, &s) < 0)
				goto bad;
			if (num == 1) {
				json_decref(key);
				key = str_of(&s);
			} else {
				json_decref(val);
				val = type == P_MAP_SB ? b64_of(&s) : type == P_MAP_SQ ? message(&s, &quantity, depth + 1, err) : str_of(&s);
				if (type == P_MAP_SQ && val) {
					json_t *q = json_incref(json_object_get(val, "string"));
					json_decref(val);
					val = q ? q : json_string("0");
				}
			}
		} else if (skip(b, wt) < 0) {
			goto bad;
		}
	}
	if (!key || !json_string_value(key) || !val)
		goto bad;
	json_object_set_new(obj, json_string_value(key), val);
	json_decref(key);
	return 0;
bad:
	json_decref(key);
	json_decref(val);
	if (!*err)
		*err = xstrdup("malformed map entry");
	return -1;
}

static json_t *intstr(struct rd *b)
{
	uint64_t type = 0, iv = 0;
	json_t *sv = NULL;
	while (b->p < b->end) {
		uint64_t tag;
		if (varint(b, &tag) < 0)
			goto bad;
		int num = (int)(tag >> 3), wt = (int)(tag & 7);
		struct rd s;
		if (num == 1 && wt == 0) {
			if (varint(b, &type) < 0)
				goto bad;
		} else if (num == 2 && wt == 0) {
			if (varint(b, &iv) < 0)
				goto bad;
		} else if (num == 3 && wt == 2) {
			if (bytes(b, &s) < 0)
				goto bad;
			json_decref(sv);
			sv = str_of(&s);
		} else if (skip(b, wt) < 0) {
			goto bad;
		}
	}
	if (type == 1)
		return sv ? sv : json_string("");
	json_decref(sv);
	return json_integer((json_int_t)(int32_t)iv);
bad:
	json_decref(sv);
	return NULL;
}

static json_t *message(struct rd *r, const struct pmsg *m, int depth, char **err)
{
	if (depth > 32) {
		*err = xstrdup("nested too deeply");
		return NULL;
	}
	json_t *obj = json_object();
	while (r->p < r->end) {
		uint64_t tag;
		if (varint(r, &tag) < 0)
			goto bad;
		int num = (int)(tag >> 3), wt = (int)(tag & 7);
		const struct pfield *f = NULL;
		for (const struct pfield *x = m->f; x->num; x++)
			if (x->num == num)
				f = x;
		if (!f || f->type == P_ANYMSG) {
			if (skip(r, wt) < 0)
				goto bad;
			continue;
		}
		json_t *v = NULL;
		struct rd b;
		if (f->type == P_INT || f->type == P_BOOL) {
			uint64_t u;
			if (wt != 0 || varint(r, &u) < 0)
				goto bad;
			if (!u && !f->keep_zero)
				continue; /* Go writes unset scalars as zero */
			v = f->type == P_BOOL ? json_boolean(u != 0) : json_integer((json_int_t)(int64_t)u);
		} else {
			if (wt != 2 || bytes(r, &b) < 0)
				goto bad;
			switch (f->type) {
			case P_STR:
				if (b.p == b.end && !f->repeated)
					continue; /* "" is unset */
				v = str_of(&b);
				break;
			case P_MSG:
				v = message(&b, f->msg, depth + 1, err);
				if (v && !json_object_size(v) && !f->repeated) {
					json_decref(v);
					continue; /* an empty struct is an absent one */
				}
				break;
			case P_INTSTR: v = intstr(&b); break;
			case P_TIME: continue; /* the server sets timestamps */
			case P_MAP_SS:
			case P_MAP_SB:
			case P_MAP_SQ: {
				json_t *mo = json_object_get(obj, f->json);
				if (!mo)
					json_object_set_new(obj, f->json, mo = json_object());
				if (map_entry(&b, f->type, mo, depth, err) < 0)
					goto bad;
				continue;
			}
			default: continue;
			}
		}
		if (!v)
			goto bad;
		if (f->repeated) {
			json_t *arr = json_object_get(obj, f->json);
			if (!arr)
				json_object_set_new(obj, f->json, arr = json_array());
			json_array_append_new(arr, v);
		} else {
			json_object_set_new(obj, f->json, v);
		}
	}
	return obj;
bad:
	json_decref(obj);
	if (!*err)
		*err = xasprintf("malformed protobuf in %s", m->name);
	return NULL;
}

json_t *k8sproto_decode(const unsigned char *buf, size_t len, char **err)
{
	*err = NULL;
	if (len < 4 || memcmp(buf, "k8s\0", 4)) {
		*err = xstrdup("not Kubernetes protobuf (no k8s\\0 prefix)");
		return NULL;
	}
	struct rd r = { buf + 4, buf + len }, raw = { NULL, NULL };
	char *api_version = NULL, *kind = NULL;
	json_t *out = NULL;
	while (r.p < r.end) {
		uint64_t tag;
		if (varint(&r, &tag) < 0)
			goto bad;
		int num = (int)(tag >> 3), wt = (int)(tag & 7);
		struct rd b;
		if (num == 1 && wt == 2) { /* TypeMeta {apiVersion=1, kind=2} */
			if (bytes(&r, &b) < 0)
				goto bad;
			while (b.p < b.end) {
				uint64_t t2;
				struct rd s;
				if (varint(&b, &t2) < 0)
					goto bad;
				if ((t2 & 7) != 2) {
					if (skip(&b, (int)(t2 & 7)) < 0)
						goto bad;
					continue;
				}
				if (bytes(&b, &s) < 0)
					goto bad;
				char **dst = (t2 >> 3) == 1 ? &api_version : (t2 >> 3) == 2 ? &kind : NULL;
				if (dst) {
					free(*dst);
					*dst = xstrndup((const char *)s.p, (size_t)(s.end - s.p));
				}
			}
		} else if (num == 2 && wt == 2) {
			if (bytes(&r, &raw) < 0)
				goto bad;
		} else if (skip(&r, wt) < 0) {
			goto bad;
		}
	}
	if (!api_version || !kind) {
		*err = xstrdup("the protobuf envelope names no apiVersion and kind");
		goto out;
	}
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(kinds[i].api_version, api_version) || strcmp(kinds[i].kind, kind))
			continue;
		struct rd body = raw;
		out = raw.p ? message(&body, kinds[i].msg, 0, err) : json_object();
		if (out) {
			json_object_set_new(out, "apiVersion", json_string(api_version));
			json_object_set_new(out, "kind", json_string(kind));
		}
		goto out;
	}
	*err = xasprintf("%s %s in protobuf is not supported; send it as application/json", api_version, kind);
	goto out;
bad:
	if (!*err)
		*err = xstrdup("malformed protobuf envelope");
out:
	free(api_version);
	free(kind);
	return out;
}
