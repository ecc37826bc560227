/* ClusterIP and NodePort allocation, as the Kubernetes allocators do it: static requests
 * must be free and in range; dynamic ClusterIPs come from the upper part of the range
 * first so that the lower band stays free for well-known static addresses (.1, .10). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../api/kinds.h"
#include "server.h"

void alloc_init(struct bitmap_alloc *a, uint64_t size)
{
	a->size = size;
	a->bits = xcalloc((size + 7) / 8, 1);
	a->cursor = 0;
	a->used = 0;
}

void alloc_free(struct bitmap_alloc *a)
{
	free(a->bits);
	memset(a, 0, sizeof(*a));
}

bool alloc_test(const struct bitmap_alloc *a, uint64_t off)
{
	return off < a->size && (a->bits[off / 8] >> (off % 8)) & 1;
}

static void set_bit(struct bitmap_alloc *a, uint64_t off, bool on)
{
	if (on) {
		a->bits[off / 8] |= (uint8_t)(1u << (off % 8));
		a->used++;
	} else {
		a->bits[off / 8] &= (uint8_t)~(1u << (off % 8));
		a->used--;
	}
}

static void log_undo(struct apiserver *s, struct bitmap_alloc *a, uint64_t off, bool was)
{
	if (!s || !s->in_txn)
		return;
	s->undo = xrealloc(s->undo, (s->nundo + 1) * sizeof(*s->undo));
	s->undo[s->nundo++] = (struct alloc_undo){ a, off, was };
}

int alloc_take(struct apiserver *s, struct bitmap_alloc *a, uint64_t off)
{
	if (off >= a->size)
		return -ERANGE;
	if (alloc_test(a, off))
		return -EEXIST;
	log_undo(s, a, off, false);
	set_bit(a, off, true);
	return 0;
}

int alloc_next(struct apiserver *s, struct bitmap_alloc *a, uint64_t from, uint64_t *off)
{
	uint64_t span = a->size - from;

	if (from >= a->size)
		return -ENOSPC;
	if (a->cursor < from || a->cursor >= a->size)
		a->cursor = from;
	for (uint64_t i = 0; i < span; i++) {
		uint64_t o = from + (a->cursor - from + i) % span;
		if (!alloc_test(a, o)) {
			alloc_take(s, a, o);
			a->cursor = o + 1;
			*off = o;
			return 0;
		}
	}
	return -ENOSPC;
}

void alloc_release(struct apiserver *s, struct bitmap_alloc *a, uint64_t off)
{
	if (!alloc_test(a, off))
		return;
	log_undo(s, a, off, true);
	set_bit(a, off, false);
}

/* Offsets that are never handed out: the network address and the last one. */
static uint64_t ip_range_size(const struct cidr *c)
{
	uint64_t n = cidr_size(c);

	return n > (1u << 20) ? (1u << 20) : n; /* Kubernetes caps ranges at 2^20 too */
}

static uint64_t static_band(uint64_t size)
{
	uint64_t b = size / 16;

	return b < 16 ? 16 : b > 256 ? 256 : b;
}

static json_t *alloc_error(const char *field, const json_t *value, const char *msg)
{
	json_t *st = status_new(422, "Invalid", NULL);
	char *v = json_dumps(value, JSON_ENCODE_ANY);
	char *text = xasprintf("%s: Invalid value: %s: %s", field, v ? v : "", msg);

	json_object_set_new(st, "message", json_string(text));
	json_object_set_new(st, "details", json_pack("{s:[{s:s,s:s,s:s}]}", "causes", "reason",
						     "FieldValueInvalid", "message", text, "field", field));
	free(text);
	free(v);
	return st;
}

static int take_cluster_ip(struct apiserver *s, json_t *spec, const json_t *old_spec,
			   json_t **status)
{
	const char *want = json_string_value(json_object_get(spec, "clusterIP"));
	const char *had = json_string_value(json_object_get(old_spec, "clusterIP"));
	const struct cidr *c = &s->cfg.service_cidr;
	struct ipaddr ip;
	char buf[64];

	if (had && *had) {
		/* ClusterIP is immutable; omitting it on update keeps the allocated one. */
		if (want && *want && strcmp(want, had) != 0) {
			*status = alloc_error("spec.clusterIP", json_object_get(spec, "clusterIP"),
					      "field is immutable");
			return -EINVAL;
		}
		json_object_set_new(spec, "clusterIP", json_string(had));
		json_object_set(spec, "clusterIPs", json_object_get(old_spec, "clusterIPs"));
		return 0;
	}
	if (want && !strcmp(want, "None")) {
		json_object_set_new(spec, "clusterIPs", json_pack("[s]", "None"));
		return 0;
	}
	uint64_t size = ip_range_size(c), off;
	if (want && *want) {
		int64_t o = ip_parse(want, &ip) == 0 ? cidr_offset(c, &ip) : -1;
		cidr_format(c, buf, sizeof(buf));
		if (o <= 0 || (uint64_t)o >= size - 1) {
			char *msg = xasprintf("provided IP is not in the valid range. The range of valid IPs is %s", buf);
			*status = alloc_error("spec.clusterIP", json_object_get(spec, "clusterIP"), msg);
			free(msg);
			return -EINVAL;
		}
		if (alloc_take(s, &s->cluster_ips, (uint64_t)o) < 0) {
			*status = alloc_error("spec.clusterIP", json_object_get(spec, "clusterIP"),
					      "provided IP is already allocated");
			return -EINVAL;
		}
		off = (uint64_t)o;
	} else {
		/* Dynamic: the upper band first, then anything free. */
		if (alloc_next(s, &s->cluster_ips, static_band(size), &off) < 0 &&
		    alloc_next(s, &s->cluster_ips, 1, &off) < 0) {
			*status = status_new(500, "InternalError", "no ClusterIP addresses are left in the service range");
			return -ENOSPC;
		}
	}
	cidr_nth(c, off, &ip);
	ip_format(&ip, buf, sizeof(buf));
	json_object_set_new(spec, "clusterIP", json_string(buf));
	json_object_set_new(spec, "clusterIPs", json_pack("[s]", buf));
	return 0;
}

static json_t *old_port(const json_t *old_spec, const json_t *port)
{
	size_t i;
	json_t *p;

	json_array_foreach(json_object_get(old_spec, "ports"), i, p)
		if (json_equal(json_object_get(p, "port"), json_object_get(port, "port")) &&
		    json_equal(json_object_get(p, "protocol"), json_object_get(port, "protocol")))
			return p;
	return NULL;
}

/* Whether the service already holds this NodePort on any of its ports (a port whose
 * number or protocol changed keeps its NodePort). */
static bool held(const json_t *old_spec, json_int_t np)
{
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(old_spec, "ports"), i, p)
		if (json_integer_value(json_object_get(p, "nodePort")) == np)
			return true;
	return false;
}

static int take_node_ports(struct apiserver *s, json_t *spec, const json_t *old_spec,
			   json_t **status)
{
	const char *type = json_string_value(json_object_get(spec, "type"));
	bool wants = type && (!strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer"));
	size_t i;
	json_t *port;

	json_array_foreach(json_object_get(spec, "ports"), i, port) {
		json_t *np = json_object_get(port, "nodePort");
		json_t *op = old_port(old_spec, port);
		json_int_t had = op ? json_integer_value(json_object_get(op, "nodePort")) : 0;
		json_int_t want = np ? json_integer_value(np) : 0;
		char field[64];

		snprintf(field, sizeof(field), "spec.ports[%zu].nodePort", i);
		if (!wants)
			continue;
		if (!want && had) {
			json_object_set_new(port, "nodePort", json_integer(had));
			continue;
		}
		if (want && (want == had || held(old_spec, want)))
			continue;
		if (want) {
			int rc = alloc_take(s, &s->node_ports, (uint64_t)(want - NODEPORT_MIN));
			if (rc < 0) {
				*status = alloc_error(field, np, rc == -EEXIST ? "provided port is already allocated"
						      : "provided port is not in the valid range. The range of valid ports is 30000-32767");
				return -EINVAL;
			}
			continue;
		}
		uint64_t off;
		if (alloc_next(s, &s->node_ports, 0, &off) < 0) {
			*status = status_new(500, "InternalError", "no NodePorts are left in 30000-32767");
			return -ENOSPC;
		}
		json_object_set_new(port, "nodePort", json_integer((json_int_t)(NODEPORT_MIN + off)));
	}
	return 0;
}

static void release_ip(struct apiserver *s, const char *ipstr)
{
	struct ipaddr ip;
	int64_t o;

	if (ipstr && ip_parse(ipstr, &ip) == 0 && (o = cidr_offset(&s->cfg.service_cidr, &ip)) > 0)
		alloc_release(s, &s->cluster_ips, (uint64_t)o);
}

static void release_ports(struct apiserver *s, const json_t *spec, const json_t *keep_spec)
{
	size_t i;
	json_t *port;

	json_array_foreach(json_object_get(spec, "ports"), i, port) {
		json_int_t np = json_integer_value(json_object_get(port, "nodePort"));
		bool kept = false;
		size_t j;
		json_t *k;
		json_array_foreach(json_object_get(keep_spec, "ports"), j, k)
			if (json_integer_value(json_object_get(k, "nodePort")) == np)
				kept = true;
		if (np >= NODEPORT_MIN && np <= NODEPORT_MAX && !kept)
			alloc_release(s, &s->node_ports, (uint64_t)(np - NODEPORT_MIN));
	}
}

int alloc_service(struct apiserver *s, json_t *svc, const json_t *old, json_t **status)
{
	json_t *spec = json_object_get(svc, "spec");
	const json_t *old_spec = old ? json_object_get(old, "spec") : NULL;
	const char *type = json_string_value(json_object_get(spec, "type"));
	int rc;

	*status = NULL;
	if (type && !strcmp(type, "ExternalName")) {
		if (old_spec) {
			release_ip(s, json_string_value(json_object_get(old_spec, "clusterIP")));
			release_ports(s, old_spec, NULL);
		}
		return 0;
	}
	if ((rc = take_cluster_ip(s, spec, old_spec, status)) < 0)
		return rc;
	if ((rc = take_node_ports(s, spec, old_spec, status)) < 0)
		return rc;
	if (old_spec)
		release_ports(s, old_spec, spec);
	if (!json_object_get(spec, "ipFamilies"))
		json_object_set_new(spec, "ipFamilies", json_pack("[s]", "IPv4"));
	if (!json_object_get(spec, "ipFamilyPolicy"))
		json_object_set_new(spec, "ipFamilyPolicy", json_string("SingleStack"));
	return 0;
}

void alloc_service_release(struct apiserver *s, const json_t *svc)
{
	const json_t *spec = json_object_get(svc, "spec");

	release_ip(s, json_string_value(json_object_get(spec, "clusterIP")));
	release_ports(s, spec, NULL);
}

static int rebuild_one(void *ctx, const char *ns, const char *name, int64_t rev, const char *data)
{
	struct apiserver *s = ctx;
	json_t *svc = json_loads(data, 0, NULL);
	const json_t *spec = json_object_get(svc, "spec");
	size_t i;
	json_t *port;
	struct ipaddr ip;
	int64_t o;
	const char *cip = json_string_value(json_object_get(spec, "clusterIP"));

	(void)ns; (void)name; (void)rev;
	if (cip && ip_parse(cip, &ip) == 0 && (o = cidr_offset(&s->cfg.service_cidr, &ip)) > 0)
		alloc_take(NULL, &s->cluster_ips, (uint64_t)o);
	json_array_foreach(json_object_get(spec, "ports"), i, port) {
		json_int_t np = json_integer_value(json_object_get(port, "nodePort"));
		if (np >= NODEPORT_MIN && np <= NODEPORT_MAX)
			alloc_take(NULL, &s->node_ports, (uint64_t)(np - NODEPORT_MIN));
	}
	json_decref(svc);
	return 0;
}

int alloc_rebuild(struct apiserver *s)
{
	uint64_t size = ip_range_size(&s->cfg.service_cidr);

	alloc_free(&s->cluster_ips);
	alloc_free(&s->node_ports);
	alloc_init(&s->cluster_ips, size);
	alloc_init(&s->node_ports, NODEPORT_MAX - NODEPORT_MIN + 1);
	/* The network and broadcast addresses are never service addresses. */
	alloc_take(NULL, &s->cluster_ips, 0);
	alloc_take(NULL, &s->cluster_ips, size - 1);
	return store_list(s->store, "services", NULL, NULL, NULL, 0, rebuild_one, s);
}
