#include "model.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/util.h"

static json_t *get(const json_t *o, const char *k)
{
	return json_object_get(o, k);
}

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

const char *pm_kind_name(enum pm_kind k)
{
	switch (k) {
	case PM_K8S: return "NetworkPolicy";
	case PM_CNP: return "CiliumNetworkPolicy";
	case PM_CCNP: return "CiliumClusterwideNetworkPolicy";
	case PM_GNP: return "GlobalNetworkPolicy";
	}
	return "?";
}

const char *pm_proto_name(uint8_t p)
{
	switch (p) {
	case PROTO_TCP: return "TCP";
	case PROTO_UDP: return "UDP";
	case PROTO_SCTP: return "SCTP";
	case PROTO_ICMP: return "ICMP";
	case PROTO_ANY: return "ANY";
	}
	return "?";
}

int pm_proto_parse(const char *s, uint8_t *out)
{
	if (!strcasecmp(s, "TCP"))
		*out = PROTO_TCP;
	else if (!strcasecmp(s, "UDP"))
		*out = PROTO_UDP;
	else if (!strcasecmp(s, "SCTP"))
		*out = PROTO_SCTP;
	else if (!strcasecmp(s, "ICMP"))
		*out = PROTO_ICMP;
	else if (!strcasecmp(s, "ANY"))
		*out = PROTO_ANY;
	else
		return -EINVAL;
	return 0;
}

/* ---- label views ---- */

/* Cilium's view of a pod: its labels plus the namespace pseudo-labels. */
struct view {
	const struct pm_ep *ep;
	int flavour; /* 0 Kubernetes, 1 Cilium, 2 Calico */
};

static const char *view_get(const void *ctx, const char *key)
{
	const struct view *v = ctx;
	const struct pm_ep *ep = v->ep;

	if (!ep->pod)
		return NULL;
	if (v->flavour == 1) {
		if (!strcmp(key, "io.kubernetes.pod.namespace"))
			return ep->pod->ns;
		if (str_has_prefix(key, "io.cilium.k8s.namespace.labels."))
			return ep->ns ? str(ep->ns->labels, key + strlen("io.cilium.k8s.namespace.labels.")) : NULL;
	} else if (v->flavour == 2) {
		if (!strcmp(key, "projectcalico.org/namespace"))
			return ep->pod->ns;
		if (!strcmp(key, "projectcalico.org/orchestrator"))
			return "k8s";
	}
	return str(ep->pod->labels, key);
}

static const char *sa_label_get(const void *ctx, const char *key)
{
	const struct pm_pod *pod = ctx;

	if (!strcmp(key, "projectcalico.org/name"))
		return pod->sa;
	return str(pod->sa_labels, key);
}

static bool sa_matches(const struct pm_peer *peer, const struct pm_pod *pod)
{
	bool named = peer->nsa_names == 0;

	for (size_t i = 0; !named && i < peer->nsa_names; i++)
		named = !strcmp(peer->sa_names[i], pod->sa);
	return named && (!peer->sa_sel || csel_matches(peer->sa_sel, sa_label_get, pod));
}

static const char *ns_label_get(const void *ctx, const char *key)
{
	const struct pm_ns *ns = ctx;

	if (!strcmp(key, "projectcalico.org/name"))
		return ns->name;
	return str(ns->labels, key);
}

/* Cilium writes label keys with a source prefix ("k8s:app"); the prefix is not part
 * of the label. */
static void strip_sources(struct selector *s)
{
	for (size_t i = 0; i < s->n; i++) {
		char *k = s->reqs[i].key;
		const char *colon = strchr(k, ':');
		if (colon && (str_has_prefix(k, "k8s:") || str_has_prefix(k, "any:") ||
			      str_has_prefix(k, "reserved:")))
			memmove(k, colon + 1, strlen(colon + 1) + 1);
	}
}

static bool names_namespace(const struct selector *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->reqs[i].key, "io.kubernetes.pod.namespace"))
			return true;
	return false;
}

static bool in_cidr(const struct cidr *c, const struct cidr *except, size_t nexcept,
		    const struct ipaddr *ip)
{
	if (!cidr_contains_ip(c, ip))
		return false;
	for (size_t i = 0; i < nexcept; i++)
		if (cidr_contains_ip(&except[i], ip))
			return false;
	return true;
}

static bool sig_bit(const struct pm_ep *ep, const struct cidr *c)
{
	int id = ep->prefix_id(ep->prefix_ctx, c);
	return id >= 0 && ((ep->sig[id / 64] >> (id % 64)) & 1);
}

static bool sig_any(const struct pm_ep *ep, const struct cidr *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (sig_bit(ep, &v[i]))
			return true;
	return false;
}

static bool in_any(const struct cidr *v, size_t n, const struct ipaddr *ip)
{
	for (size_t i = 0; i < n; i++)
		if (cidr_contains_ip(&v[i], ip))
			return true;
	return false;
}

bool pm_peer_matches(const struct pm_policy *p, const struct pm_peer *peer, const struct pm_ep *ep)
{
	struct view v = { ep, 0 };

	switch (peer->type) {
	case PP_K8S:
		if (!ep->pod)
			return false;
		if (peer->has_ns_sel) {
			if (!selector_matches(&peer->ns_sel, ns_label_get, ep->ns))
				return false;
		} else if (strcmp(ep->pod->ns, p->ns) != 0) {
			return false;
		}
		return !peer->has_pod_sel || selector_matches(&peer->pod_sel, view_get, &v);
	case PP_CILIUM:
		if (!ep->pod)
			return false;
		if (peer->ns_scope && strcmp(ep->pod->ns, peer->ns_scope) != 0)
			return false;
		v.flavour = 1;
		return selector_matches(&peer->pod_sel, view_get, &v);
	case PP_CIDR:
		if (peer->outside_only && ep->pod)
			return false;
		if (ep->sig)
			return sig_bit(ep, &peer->cidr) && !sig_any(ep, peer->except, peer->nexcept);
		return ep->has_ip && in_cidr(&peer->cidr, peer->except, peer->nexcept, &ep->ip);
	case PP_ENTITY:
		if (peer->entities & ENT_ALL)
			return true;
		if (ep->pod)
			return (peer->entities & ENT_CLUSTER) != 0;
		return (peer->entities & ENT_WORLD) != 0;
	case PP_CALICO:
		v.flavour = 2;
		if (peer->csel && (!ep->pod || !csel_matches(peer->csel, view_get, &v)))
			return false;
		if (peer->ns_csel && (!ep->pod || !ep->ns || !csel_matches(peer->ns_csel, ns_label_get, ep->ns)))
			return false;
		if (peer->not_csel && ep->pod && csel_matches(peer->not_csel, view_get, &v))
			return false;
		if (peer->has_sa && (!ep->pod || !sa_matches(peer, ep->pod)))
			return false;
		if (peer->has_family && !(ep->sig ? sig_bit(ep, &peer->family)
						  : ep->has_ip && cidr_contains_ip(&peer->family, &ep->ip)))
			return false;
		if (ep->sig) {
			if (peer->has_nets && !sig_any(ep, peer->nets, peer->nnets))
				return false;
			if (peer->has_not_nets && sig_any(ep, peer->not_nets, peer->nnot_nets))
				return false;
			return true;
		}
		if (peer->has_nets && (!ep->has_ip || !in_any(peer->nets, peer->nnets, &ep->ip)))
			return false;
		if (peer->has_not_nets && ep->has_ip && in_any(peer->not_nets, peer->nnot_nets, &ep->ip))
			return false;
		return true;
	}
	return false;
}

bool pm_selects_local(const struct pm_policy *p, const struct pm_ep *ep)
{
	struct view v = { ep, 0 };

	if (!ep->pod)
		return false;
	switch (p->kind) {
	case PM_K8S:
		return !strcmp(ep->pod->ns, p->ns) && selector_matches(&p->pod_sel, view_get, &v);
	case PM_CNP:
	case PM_CCNP:
		if (p->kind == PM_CNP && strcmp(ep->pod->ns, p->ns) != 0)
			return false;
		v.flavour = 1;
		return selector_matches(&p->pod_sel, view_get, &v);
	case PM_GNP:
		v.flavour = 2;
		if (p->ns_sel && (!ep->ns || !csel_matches(p->ns_sel, ns_label_get, ep->ns)))
			return false;
		if (p->sa_sel && !csel_matches(p->sa_sel, sa_label_get, ep->pod))
			return false;
		return !p->sel || csel_matches(p->sel, view_get, &v);
	}
	return false;
}

bool pm_rule_peer_matches(const struct pm_policy *p, const struct pm_rule *r, const struct pm_ep *ep)
{
	if (r->any_peer)
		return true;
	for (size_t i = 0; i < r->npeers; i++)
		if (pm_peer_matches(p, &r->peers[i], ep))
			return true;
	return false;
}

static bool spec_matches(const struct pm_portspec *s, const struct pm_ep *dst, uint8_t proto,
			 uint16_t port)
{
	if (s->proto != PROTO_ANY && s->proto != proto)
		return false;
	/* "Any protocol" with a port range means the port-carrying protocols; only the
	 * whole range takes ICMP in too. */
	if (s->proto == PROTO_ANY && proto == PROTO_ICMP && (s->name || s->lo != 0 || s->hi != 65535))
		return false;
	if (!s->name)
		return port >= s->lo && port <= s->hi;
	/* A named port matches when the destination pod declares that name for this
	 * protocol and port; a pod without the name matches nothing. */
	if (!dst->pod)
		return false;
	for (size_t i = 0; i < dst->pod->nports; i++) {
		const struct pm_port *pp = &dst->pod->ports[i];
		if (pp->name && !strcmp(pp->name, s->name) && pp->port == port && pp->proto == proto)
			return true;
	}
	return false;
}

bool pm_rule_port_matches(const struct pm_rule *r, const struct pm_ep *dst, uint8_t proto, uint16_t port)
{
	bool ok = r->any_port;

	if (r->not_proto && r->not_proto == proto)
		return false;
	for (size_t i = 0; !ok && i < r->nports; i++)
		ok = spec_matches(&r->ports[i], dst, proto, port);
	for (size_t i = 0; ok && i < r->nnot_ports; i++)
		if (spec_matches(&r->not_ports[i], dst, proto, port))
			ok = false;
	return ok;
}

static bool full_match(const regex_t *re, const char *s)
{
	regmatch_t m;

	return regexec(re, s, 1, &m, 0) == 0 && m.rm_so == 0 && (size_t)m.rm_eo == strlen(s);
}

bool pm_http_matches(const struct pm_http *h, const char *method, const char *path,
		     const char **headers, size_t nheaders)
{
	if (h->has_method && !full_match(&h->method, method))
		return false;
	if (h->has_path && !full_match(&h->path, path))
		return false;
	for (size_t i = 0; i < h->nheaders; i++) {
		const char *want = h->headers[i];
		const char *colon = strchr(want, ':');
		size_t nl = colon ? (size_t)(colon - want) : strlen(want);
		const char *wv = colon ? colon + 1 : NULL;
		while (wv && *wv == ' ')
			wv++;
		bool found = false;
		for (size_t j = 0; j < nheaders && !found; j++) {
			const char *hc = strchr(headers[j], ':');
			if (!hc || (size_t)(hc - headers[j]) != nl || strncasecmp(headers[j], want, nl))
				continue;
			const char *hv = hc + 1;
			while (*hv == ' ')
				hv++;
			found = !wv || !strcmp(hv, wv);
		}
		if (!found)
			return false;
	}
	return true;
}

/* ---- decoding ---- */

static int add_cidr(struct cidr **v, size_t *n, const char *s, char **err)
{
	struct cidr c;

	if (!s || cidr_parse(s, &c, true) < 0) {
		*err = xasprintf("invalid CIDR \"%s\"", s ? s : "");
		return -EINVAL;
	}
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = c;
	return 0;
}

static struct pm_peer *new_peer(struct pm_rule *r, enum pm_peer_type t)
{
	r->peers = xrealloc(r->peers, (r->npeers + 1) * sizeof(*r->peers));
	struct pm_peer *p = &r->peers[r->npeers++];
	memset(p, 0, sizeof(*p));
	p->type = t;
	return p;
}

static void add_port(struct pm_portspec **v, size_t *n, uint8_t proto, uint16_t lo, uint16_t hi,
		     const char *name)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = (struct pm_portspec){ proto, lo, hi, name ? xstrdup(name) : NULL };
}

static struct pm_rule *new_rule(struct pm_policy *p, int dir, int index, const char *list)
{
	p->rules[dir] = xrealloc(p->rules[dir], (p->nrules[dir] + 1) * sizeof(struct pm_rule));
	struct pm_rule *r = &p->rules[dir][p->nrules[dir]++];
	memset(r, 0, sizeof(*r));
	r->index = index;
	r->list = list;
	return r;
}

static int decode_k8s(struct pm_policy *p, const json_t *spec, bool ipblock_outside_only, char **err)
{
	static const char *const lists[2] = { "ingress", "egress" };
	static const char *const peers[2] = { "from", "to" };
	size_t i, j;
	json_t *rule, *peer, *port;

	p->kind = PM_K8S;
	selector_from_json(get(spec, "podSelector"), &p->pod_sel);
	json_array_foreach(get(spec, "policyTypes"), i, rule) {
		if (!strcmp(json_string_value(rule), "Ingress"))
			p->applies[DIR_INGRESS] = true;
		if (!strcmp(json_string_value(rule), "Egress"))
			p->applies[DIR_EGRESS] = true;
	}
	for (int d = 0; d < 2; d++) {
		json_array_foreach(get(spec, lists[d]), i, rule) {
			struct pm_rule *r = new_rule(p, d, (int)i, lists[d]);
			json_t *ps = get(rule, peers[d]);
			r->action = PA_ALLOW;
			/* Missing or empty from/to: every peer; missing or empty ports: every port. */
			r->any_peer = json_array_size(ps) == 0;
			json_array_foreach(ps, j, peer) {
				json_t *ipb = get(peer, "ipBlock");
				if (ipb) {
					struct pm_peer *pp = new_peer(r, PP_CIDR);
					pp->outside_only = ipblock_outside_only;
					if (cidr_parse(str(ipb, "cidr"), &pp->cidr, false) < 0) {
						*err = xasprintf("invalid ipBlock.cidr \"%s\"", str(ipb, "cidr"));
						return -EINVAL;
					}
					size_t k;
					json_t *ex;
					json_array_foreach(get(ipb, "except"), k, ex)
						if (add_cidr(&pp->except, &pp->nexcept, json_string_value(ex), err) < 0)
							return -EINVAL;
					continue;
				}
				struct pm_peer *pp = new_peer(r, PP_K8S);
				if ((pp->has_pod_sel = get(peer, "podSelector") != NULL))
					selector_from_json(get(peer, "podSelector"), &pp->pod_sel);
				if ((pp->has_ns_sel = get(peer, "namespaceSelector") != NULL))
					selector_from_json(get(peer, "namespaceSelector"), &pp->ns_sel);
			}
			json_t *ports = get(rule, "ports");
			r->any_port = json_array_size(ports) == 0;
			json_array_foreach(ports, j, port) {
				uint8_t proto = PROTO_TCP;
				if (str(port, "protocol"))
					pm_proto_parse(str(port, "protocol"), &proto);
				json_t *pv = get(port, "port");
				if (!pv)
					add_port(&r->ports, &r->nports, proto, 0, 65535, NULL);
				else if (json_is_string(pv))
					add_port(&r->ports, &r->nports, proto, 0, 0, json_string_value(pv));
				else {
					json_int_t lo = json_integer_value(pv);
					json_int_t hi = get(port, "endPort") ? json_integer_value(get(port, "endPort")) : lo;
					add_port(&r->ports, &r->nports, proto, (uint16_t)lo, (uint16_t)hi, NULL);
				}
			}
		}
	}
	return 0;
}

static unsigned entity_bit(const char *e)
{
	if (!strcmp(e, "world"))
		return ENT_WORLD;
	if (!strcmp(e, "cluster"))
		return ENT_CLUSTER;
	if (!strcmp(e, "host"))
		return ENT_HOST;
	if (!strcmp(e, "remote-node"))
		return ENT_REMOTE_NODE;
	if (!strcmp(e, "all"))
		return ENT_ALL;
	return 0;
}

static int compile_regex(regex_t *re, const char *s, char **err)
{
	int rc = regcomp(re, s, REG_EXTENDED);
	if (rc) {
		char buf[128];
		regerror(rc, re, buf, sizeof(buf));
		*err = xasprintf("invalid regular expression \"%s\": %s", s, buf);
		return -EINVAL;
	}
	return 0;
}

static int decode_http(struct pm_rule *r, const json_t *http, char **err)
{
	size_t i, j;
	json_t *h, *hd;

	json_array_foreach(http, i, h) {
		r->http = xrealloc(r->http, (r->nhttp + 1) * sizeof(*r->http));
		struct pm_http *x = &r->http[r->nhttp++];
		memset(x, 0, sizeof(*x));
		if (str(h, "method") && compile_regex(&x->method, str(h, "method"), err) < 0)
			return -EINVAL;
		x->has_method = str(h, "method") != NULL;
		if (str(h, "path") && compile_regex(&x->path, str(h, "path"), err) < 0)
			return -EINVAL;
		x->has_path = str(h, "path") != NULL;
		json_array_foreach(get(h, "headers"), j, hd) {
			x->headers = xrealloc(x->headers, (x->nheaders + 1) * sizeof(char *));
			x->headers[x->nheaders++] = xstrdup(json_string_value(hd));
		}
		x->text = xasprintf("%s %s", str(h, "method") ? str(h, "method") : "*",
				    str(h, "path") ? str(h, "path") : "*");
	}
	return 0;
}

/* Fields whose meaning tulle's engine does not carry out yet. Refusing them is safe;
 * ignoring them would widen a rule (no peer named = every peer). */
static int refuse(const json_t *o, const char *const *fields, const char *where, char **err)
{
	for (; *fields; fields++) {
		const json_t *v = get(o, *fields);
		if (v && !json_is_false(v) && !(json_is_array(v) && !json_array_size(v))) {
			*err = xasprintf("%s.%s is not supported by tulle's policy engine yet", where, *fields);
			return -EINVAL;
		}
	}
	return 0;
}

static int decode_cilium_rule(struct pm_policy *p, int d, const json_t *rule, size_t idx,
			      const char *list, bool deny, char **err)
{
	static const char *const unsupported[] = { "fromRequires", "toRequires", "fromNodes", "toNodes",
		"fromGroups", "toGroups", "toServices", "toFQDNs", "icmps", "authentication", NULL };
	if (refuse(rule, unsupported, list, err) < 0)
		return -EINVAL;
	size_t tp;
	json_t *tpv;
	json_array_foreach(get(rule, "toPorts"), tp, tpv) {
		static const char *const tp_unsupported[] = { "terminatingTLS", "originatingTLS", "serverNames", "listener", NULL };
		if (refuse(tpv, tp_unsupported, "toPorts", err) < 0)
			return -EINVAL;
		json_t *l7 = get(tpv, "rules");
		static const char *const l7_unsupported[] = { "kafka", "dns", "l7proto", "l7", NULL };
		if (l7 && refuse(l7, l7_unsupported, "toPorts.rules", err) < 0)
			return -EINVAL;
		size_t h;
		json_t *hv;
		json_array_foreach(get(l7, "http"), h, hv) {
			static const char *const http_unsupported[] = { "host", "headerMatches", NULL };
			if (refuse(hv, http_unsupported, "rules.http", err) < 0)
				return -EINVAL;
		}
	}
	const char *const *fields = d == DIR_INGRESS
		? (const char *const[]){ "fromEndpoints", "fromCIDR", "fromCIDRSet", "fromEntities" }
		: (const char *const[]){ "toEndpoints", "toCIDR", "toCIDRSet", "toEntities" };
	json_t *toports = get(rule, "toPorts");
	size_t nparts = json_array_size(toports) ? json_array_size(toports) : 1;

	/* One pm_rule per toPorts entry: each has its own ports and L7 rules. */
	for (size_t part = 0; part < nparts; part++) {
		struct pm_rule *r = new_rule(p, d, (int)idx, list);
		size_t i;
		json_t *v;
		r->action = deny ? PA_DENY : PA_ALLOW;
		r->deny = deny;
		json_array_foreach(get(rule, fields[0]), i, v) {
			struct pm_peer *pp = new_peer(r, PP_CILIUM);
			selector_from_json(v, &pp->pod_sel);
			strip_sources(&pp->pod_sel);
			pp->ns_scope = p->kind == PM_CNP && !names_namespace(&pp->pod_sel) ? p->ns : NULL;
		}
		json_array_foreach(get(rule, fields[1]), i, v) {
			struct pm_peer *pp = new_peer(r, PP_CIDR);
			pp->outside_only = true;
			if (cidr_parse(json_string_value(v), &pp->cidr, true) < 0) {
				*err = xasprintf("invalid CIDR \"%s\"", json_string_value(v));
				return -EINVAL;
			}
		}
		json_array_foreach(get(rule, fields[2]), i, v) {
			struct pm_peer *pp = new_peer(r, PP_CIDR);
			pp->outside_only = true;
			if (cidr_parse(str(v, "cidr"), &pp->cidr, true) < 0) {
				*err = xasprintf("invalid CIDR \"%s\"", str(v, "cidr") ? str(v, "cidr") : "");
				return -EINVAL;
			}
			size_t k;
			json_t *ex;
			json_array_foreach(get(v, "except"), k, ex)
				if (add_cidr(&pp->except, &pp->nexcept, json_string_value(ex), err) < 0)
					return -EINVAL;
		}
		unsigned ents = 0;
		json_array_foreach(get(rule, fields[3]), i, v)
			ents |= entity_bit(json_string_value(v));
		if (json_array_size(get(rule, fields[3])))
			new_peer(r, PP_ENTITY)->entities = ents;
		/* A rule that names no peer at all applies to every peer. */
		r->any_peer = !json_array_size(get(rule, fields[0])) && !json_array_size(get(rule, fields[1])) &&
			      !json_array_size(get(rule, fields[2])) && !json_array_size(get(rule, fields[3]));
		json_t *pr = json_array_get(toports, part);
		json_t *ports = get(pr, "ports");
		r->any_port = json_array_size(ports) == 0;
		json_array_foreach(ports, i, v) {
			uint8_t proto = PROTO_ANY;
			if (str(v, "protocol"))
				pm_proto_parse(str(v, "protocol"), &proto);
			const char *ps = str(v, "port");
			char *end;
			long n = strtol(ps, &end, 10);
			if (*end)
				add_port(&r->ports, &r->nports, proto, 0, 0, ps);
			else if (n == 0)
				add_port(&r->ports, &r->nports, proto, 0, 65535, NULL);
			else {
				json_int_t hi = get(v, "endPort") ? json_integer_value(get(v, "endPort")) : n;
				add_port(&r->ports, &r->nports, proto, (uint16_t)n, (uint16_t)hi, NULL);
			}
		}
		if (get(get(pr, "rules"), "http") && decode_http(r, get(get(pr, "rules"), "http"), err) < 0)
			return -EINVAL;
	}
	return 0;
}

static int decode_cilium(struct pm_policy *p, const json_t *spec, char **err)
{
	static const char *const lists[4] = { "ingress", "egress", "ingressDeny", "egressDeny" };
	size_t i;
	json_t *rule;

	static const char *const unsupported[] = { "nodeSelector", "enableDefaultDeny", NULL };
	if (refuse(spec, unsupported, "spec", err) < 0)
		return -EINVAL;
	selector_from_json(get(spec, "endpointSelector"), &p->pod_sel);
	strip_sources(&p->pod_sel);
	for (int l = 0; l < 4; l++) {
		int d = l % 2;
		if (get(spec, lists[l]))
			p->applies[d] = true;
		json_array_foreach(get(spec, lists[l]), i, rule)
			if (decode_cilium_rule(p, d, rule, i, lists[l], l >= 2, err) < 0)
				return -EINVAL;
	}
	return 0;
}

static int decode_calico_entity(struct pm_peer *pp, const json_t *e, char **err)
{
	size_t i;
	json_t *v;
	const char *s;

	pp->type = PP_CALICO;
	if ((s = str(e, "selector")) && csel_parse(s, &pp->csel, err) < 0)
		return -EINVAL;
	if ((s = str(e, "notSelector")) && csel_parse(s, &pp->not_csel, err) < 0)
		return -EINVAL;
	if ((s = str(e, "namespaceSelector")) && csel_parse(s, &pp->ns_csel, err) < 0)
		return -EINVAL;
	pp->has_nets = get(e, "nets") != NULL;
	json_array_foreach(get(e, "nets"), i, v)
		if (add_cidr(&pp->nets, &pp->nnets, json_string_value(v), err) < 0)
			return -EINVAL;
	pp->has_not_nets = get(e, "notNets") != NULL;
	json_array_foreach(get(e, "notNets"), i, v)
		if (add_cidr(&pp->not_nets, &pp->nnot_nets, json_string_value(v), err) < 0)
			return -EINVAL;
	const json_t *sa = get(e, "serviceAccounts");
	if (sa) {
		pp->has_sa = true;
		json_array_foreach(get(sa, "names"), i, v) {
			pp->sa_names = xrealloc(pp->sa_names, (pp->nsa_names + 1) * sizeof(char *));
			pp->sa_names[pp->nsa_names++] = xstrdup(json_string_value(v) ?: "");
		}
		if ((s = str(sa, "selector")) && csel_parse(s, &pp->sa_sel, err) < 0)
			return -EINVAL;
	}
	return 0;
}

/* Calico's icmp / notICMP {type, code}: one type (every code when code is absent). */
static int calico_icmp(struct pm_portspec **v, size_t *n, const json_t *icmp, char **err)
{
	const json_t *t = get(icmp, "type"), *c = get(icmp, "code");

	if (!json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) > 255 ||
	    (c && (!json_is_integer(c) || json_integer_value(c) < 0 || json_integer_value(c) > 255))) {
		*err = xstrdup("icmp: type (0-255) is required, code (0-255) is optional");
		return -EINVAL;
	}
	int type = (int)json_integer_value(t);
	if (c)
		add_port(v, n, PROTO_ICMP, PM_ICMP_PORT(type, json_integer_value(c)), PM_ICMP_PORT(type, json_integer_value(c)), NULL);
	else
		add_port(v, n, PROTO_ICMP, PM_ICMP_PORT(type, 0), PM_ICMP_PORT(type, 255), NULL);
	return 0;
}

static int calico_ports(struct pm_portspec **v, size_t *n, const json_t *ports, uint8_t proto,
			char **err)
{
	size_t i;
	json_t *p;

	json_array_foreach(ports, i, p) {
		if (json_is_integer(p)) {
			add_port(v, n, proto, (uint16_t)json_integer_value(p), (uint16_t)json_integer_value(p), NULL);
			continue;
		}
		const char *s = json_string_value(p);
		unsigned lo, hi;
		char tail;
		if (sscanf(s, "%u:%u%c", &lo, &hi, &tail) == 2 && lo <= hi && hi <= 65535)
			add_port(v, n, proto, (uint16_t)lo, (uint16_t)hi, NULL);
		else if (sscanf(s, "%u%c", &lo, &tail) == 1 && lo <= 65535)
			add_port(v, n, proto, (uint16_t)lo, (uint16_t)lo, NULL);
		else if (*s)
			add_port(v, n, proto, 0, 0, s);
		else {
			*err = xasprintf("invalid port \"%s\"", s);
			return -EINVAL;
		}
	}
	return 0;
}

static int decode_gnp(struct pm_policy *p, const json_t *spec, char **err)
{
	static const char *const lists[2] = { "ingress", "egress" };
	size_t i;
	json_t *rule, *t;
	const char *s;

	p->kind = PM_GNP;
	static const char *const unsupported[] = { "doNotTrack", "preDNAT", "applyOnForward", NULL };
	if (refuse(spec, unsupported, "spec", err) < 0)
		return -EINVAL;
	if ((s = str(spec, "selector")) && csel_parse(s, &p->sel, err) < 0)
		return -EINVAL;
	if ((s = str(spec, "namespaceSelector")) && csel_parse(s, &p->ns_sel, err) < 0)
		return -EINVAL;
	if ((s = str(spec, "serviceAccountSelector")) && csel_parse(s, &p->sa_sel, err) < 0)
		return -EINVAL;
	json_array_foreach(get(spec, "types"), i, t) {
		if (!strcmp(json_string_value(t), "Ingress"))
			p->applies[DIR_INGRESS] = true;
		if (!strcmp(json_string_value(t), "Egress"))
			p->applies[DIR_EGRESS] = true;
	}
	if (get(spec, "order")) {
		p->has_order = true;
		p->order = json_number_value(get(spec, "order"));
	}
	p->tier = xstrdup(str(spec, "tier") ? str(spec, "tier") : "default");
	for (int d = 0; d < 2; d++) {
		json_array_foreach(get(spec, lists[d]), i, rule) {
			static const char *const rule_unsupported[] = { "http", NULL };
			static const char *const ent_unsupported[] = { "services", NULL };
			if (refuse(rule, rule_unsupported, lists[d], err) < 0 ||
			    refuse(get(rule, "source"), ent_unsupported, "source", err) < 0 ||
			    refuse(get(rule, "destination"), ent_unsupported, "destination", err) < 0)
				return -EINVAL;
			struct pm_rule *r = new_rule(p, d, (int)i, lists[d]);
			const char *a = str(rule, "action");
			r->action = !strcmp(a, "Allow") ? PA_ALLOW : !strcmp(a, "Deny") ? PA_DENY
				  : !strcmp(a, "Pass") ? PA_PASS : PA_LOG;
			uint8_t proto = PROTO_ANY;
			json_t *pv = get(rule, "protocol");
			if (json_is_string(pv) && pm_proto_parse(json_string_value(pv), &proto) < 0) {
				*err = xasprintf("unsupported protocol \"%s\"", json_string_value(pv));
				return -EINVAL;
			}
			if (json_is_integer(pv))
				proto = (uint8_t)json_integer_value(pv);
			json_t *npv = get(rule, "notProtocol");
			if (json_is_string(npv) && pm_proto_parse(json_string_value(npv), &r->not_proto) < 0) {
				*err = xasprintf("unsupported notProtocol \"%s\"", json_string_value(npv));
				return -EINVAL;
			}
			if (json_is_integer(npv))
				r->not_proto = (uint8_t)json_integer_value(npv);
			json_int_t ipv = json_integer_value(get(rule, "ipVersion"));
			if (get(rule, "ipVersion") && ipv != 4 && ipv != 6) {
				*err = xasprintf("ipVersion %lld: give 4 or 6", (long long)ipv);
				return -EINVAL;
			}
			/* The peer is the source of ingress and the destination of egress; the
			 * other side constrains the local endpoint. Ports are destination ports. */
			const json_t *peer = get(rule, d == DIR_INGRESS ? "source" : "destination");
			const json_t *local = get(rule, d == DIR_INGRESS ? "destination" : "source");
			const json_t *dst = get(rule, "destination");
			struct pm_peer pp;
			memset(&pp, 0, sizeof(pp));
			if (decode_calico_entity(&pp, peer, err) < 0)
				return -EINVAL;
			if (ipv) {
				pp.has_family = true;
				cidr_parse(ipv == 4 ? "0.0.0.0/0" : "::/0", &pp.family, false);
			}
			r->any_peer = !pp.csel && !pp.not_csel && !pp.ns_csel && !pp.has_nets && !pp.has_not_nets &&
				      !pp.has_sa && !pp.has_family;
			if (!r->any_peer)
				*new_peer(r, PP_CALICO) = pp;
			if (local && (get(local, "selector") || get(local, "notSelector") || get(local, "nets") ||
				      get(local, "notNets") || get(local, "namespaceSelector") ||
				      get(local, "serviceAccounts"))) {
				r->local = xcalloc(1, sizeof(*r->local));
				if (decode_calico_entity(r->local, local, err) < 0)
					return -EINVAL;
			}
			if (get(get(rule, "source"), "ports") || get(get(rule, "source"), "notPorts")) {
				*err = xstrdup("source ports are not supported (tulle matches destination ports)");
				return -EINVAL;
			}
			r->any_port = !get(dst, "ports");
			if (calico_ports(&r->ports, &r->nports, get(dst, "ports"), proto, err) < 0 ||
			    calico_ports(&r->not_ports, &r->nnot_ports, get(dst, "notPorts"), proto, err) < 0)
				return -EINVAL;
			const json_t *icmp = get(rule, "icmp"), *not_icmp = get(rule, "notICMP");
			if ((icmp || not_icmp) && proto != PROTO_ICMP) {
				*err = xstrdup("icmp and notICMP need protocol: ICMP");
				return -EINVAL;
			}
			if (icmp) {
				r->any_port = false;
				if (calico_icmp(&r->ports, &r->nports, icmp, err) < 0)
					return -EINVAL;
			}
			if (not_icmp && calico_icmp(&r->not_ports, &r->nnot_ports, not_icmp, err) < 0)
				return -EINVAL;
			if (r->any_port && proto != PROTO_ANY)
				r->any_port = false, add_port(&r->ports, &r->nports, proto, 0, 65535, NULL);
		}
	}
	return 0;
}

static struct pm_port *decode_ports(const json_t *spec, size_t *n)
{
	struct pm_port *v = NULL;
	size_t i, j;
	json_t *c, *p;

	*n = 0;
	json_array_foreach(get(spec, "containers"), i, c)
		json_array_foreach(get(c, "ports"), j, p) {
			uint8_t proto = PROTO_TCP;
			if (str(p, "protocol"))
				pm_proto_parse(str(p, "protocol"), &proto);
			v = xrealloc(v, (*n + 1) * sizeof(*v));
			v[(*n)++] = (struct pm_port){ str(p, "name") ? xstrdup(str(p, "name")) : NULL,
						      (uint16_t)json_integer_value(get(p, "containerPort")), proto };
		}
	return v;
}

int pm_add(struct pm_cluster *c, const json_t *obj, char **err)
{
	const char *kind = str(obj, "kind");
	const json_t *md = get(obj, "metadata");
	const char *name = str(md, "name");
	const char *ns = str(md, "namespace") ? str(md, "namespace") : "default";
	const json_t *spec = get(obj, "spec");

	*err = NULL;
	if (!kind || !name)
		return 0;
	if (!strcmp(kind, "Namespace")) {
		c->ns = xrealloc(c->ns, (c->nns + 1) * sizeof(*c->ns));
		json_t *labels = json_deep_copy(get(md, "labels"));
		if (!labels)
			labels = json_object();
		json_object_set_new(labels, "kubernetes.io/metadata.name", json_string(name));
		c->ns[c->nns++] = (struct pm_ns){ xstrdup(name), labels };
		return 0;
	}
	if (!strcmp(kind, "ServiceAccount")) {
		c->sas = xrealloc(c->sas, (c->nsas + 1) * sizeof(*c->sas));
		json_t *labels = json_deep_copy(get(md, "labels"));
		c->sas[c->nsas++] = (struct pm_sa){ xstrdup(ns), xstrdup(name), labels ? labels : json_object() };
		return 0;
	}
	if (!strcmp(kind, "Tier") && str_has_prefix(str(obj, "apiVersion") ?: "", "projectcalico.org")) {
		const char *da = str(spec, "defaultAction");
		if (da && strcmp(da, "Deny") && strcmp(da, "Pass")) {
			*err = xasprintf("Tier \"%s\": spec.defaultAction \"%s\": give Deny or Pass", name, da);
			return -EINVAL;
		}
		c->tiers = xrealloc(c->tiers, (c->ntiers + 1) * sizeof(*c->tiers));
		c->tiers[c->ntiers++] = (struct pm_tier){ xstrdup(name), json_number_value(get(spec, "order")),
							   get(spec, "order") != NULL, da && !strcmp(da, "Pass") };
		return 0;
	}
	if (!strcmp(kind, "Pod")) {
		struct pm_pod pod = { .ns = xstrdup(ns), .name = xstrdup(name), .nsi = -1 };
		const char *sa = str(spec, "serviceAccountName") ?: str(spec, "serviceAccount");
		pod.sa = xstrdup(sa && *sa ? sa : "default");
		pod.labels = json_deep_copy(get(md, "labels"));
		if (!pod.labels)
			pod.labels = json_object();
		const char *ip = str(get(obj, "status"), "podIP");
		pod.has_ip = ip && ip_parse(ip, &pod.ip) == 0;
		pod.ports = decode_ports(spec, &pod.nports);
		c->pods = xrealloc(c->pods, (c->npods + 1) * sizeof(*c->pods));
		c->pods[c->npods++] = pod;
		return 0;
	}
	enum pm_kind k;
	if (!strcmp(kind, "NetworkPolicy") && str_has_prefix(str(obj, "apiVersion") ?: "", "networking.k8s.io"))
		k = PM_K8S;
	else if (!strcmp(kind, "CiliumNetworkPolicy"))
		k = PM_CNP;
	else if (!strcmp(kind, "CiliumClusterwideNetworkPolicy"))
		k = PM_CCNP;
	else if (!strcmp(kind, "GlobalNetworkPolicy"))
		k = PM_GNP;
	else
		return 0;
	c->pols = xrealloc(c->pols, (c->npols + 1) * sizeof(*c->pols));
	struct pm_policy *p = &c->pols[c->npols++];
	memset(p, 0, sizeof(*p));
	p->kind = k;
	p->name = xstrdup(name);
	p->ns = k == PM_K8S || k == PM_CNP ? xstrdup(ns) : NULL;
	int rc;
	if (k == PM_K8S) {
		rc = decode_k8s(p, spec, c->ipblock_outside_only, err);
	} else if (k == PM_GNP) {
		rc = decode_gnp(p, spec, err);
	} else {
		rc = 0;
		if (spec)
			rc = decode_cilium(p, spec, err);
		size_t i;
		json_t *s;
		json_array_foreach(get(obj, "specs"), i, s)
			if (rc == 0)
				rc = decode_cilium(p, s, err);
	}
	if (rc < 0) {
		char *e = xasprintf("%s \"%s\": %s", kind, name, *err);
		free(*err);
		*err = e;
	}
	return rc;
}

const struct pm_ns *pm_find_ns(const struct pm_cluster *c, const char *name)
{
	for (size_t i = 0; i < c->nns; i++)
		if (!strcmp(c->ns[i].name, name))
			return &c->ns[i];
	return NULL;
}

int pm_find_pod(const struct pm_cluster *c, const char *ns, const char *name)
{
	for (size_t i = 0; i < c->npods; i++)
		if (!strcmp(c->pods[i].ns, ns) && !strcmp(c->pods[i].name, name))
			return (int)i;
	return -1;
}

void pm_finish(struct pm_cluster *c)
{
	for (size_t i = 0; i < c->npods; i++) {
		if (!pm_find_ns(c, c->pods[i].ns)) {
			json_t *o = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
					      "metadata", "name", c->pods[i].ns);
			char *err;
			pm_add(c, o, &err);
			json_decref(o);
		}
	}
	for (size_t i = 0; i < c->npods; i++) {
		for (size_t j = 0; j < c->nns; j++)
			if (!strcmp(c->ns[j].name, c->pods[i].ns))
				c->pods[i].nsi = (int)j;
		json_decref(c->pods[i].sa_labels);
		c->pods[i].sa_labels = NULL;
		for (size_t j = 0; j < c->nsas && !c->pods[i].sa_labels; j++)
			if (!strcmp(c->sas[j].ns, c->pods[i].ns) && !strcmp(c->sas[j].name, c->pods[i].sa))
				c->pods[i].sa_labels = json_incref(c->sas[j].labels);
		if (!c->pods[i].sa_labels)
			c->pods[i].sa_labels = json_object();
	}
}

void pm_tier_info(const struct pm_cluster *c, const char *name, double *order, bool *has_order, bool *pass)
{
	for (size_t i = 0; i < c->ntiers; i++)
		if (!strcmp(c->tiers[i].name, name)) {
			*order = c->tiers[i].order;
			*has_order = c->tiers[i].has_order;
			*pass = c->tiers[i].pass;
			return;
		}
	*has_order = !strcmp(name, "default");
	*order = *has_order ? 1e6 : 0;
	*pass = false;
}

static void free_peer(struct pm_peer *p)
{
	selector_free(&p->pod_sel);
	selector_free(&p->ns_sel);
	free(p->except);
	csel_free(p->csel);
	csel_free(p->not_csel);
	csel_free(p->ns_csel);
	free(p->nets);
	free(p->not_nets);
	for (size_t i = 0; i < p->nsa_names; i++)
		free(p->sa_names[i]);
	free(p->sa_names);
	csel_free(p->sa_sel);
}

static void free_ports(struct pm_portspec *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

void pm_free(struct pm_cluster *c)
{
	for (size_t i = 0; i < c->nns; i++) {
		free(c->ns[i].name);
		json_decref(c->ns[i].labels);
	}
	for (size_t i = 0; i < c->npods; i++) {
		free(c->pods[i].ns);
		free(c->pods[i].name);
		json_decref(c->pods[i].labels);
		free(c->pods[i].sa);
		json_decref(c->pods[i].sa_labels);
		for (size_t j = 0; j < c->pods[i].nports; j++)
			free(c->pods[i].ports[j].name);
		free(c->pods[i].ports);
	}
	for (size_t i = 0; i < c->npols; i++) {
		struct pm_policy *p = &c->pols[i];
		for (int d = 0; d < 2; d++) {
			for (size_t j = 0; j < p->nrules[d]; j++) {
				struct pm_rule *r = &p->rules[d][j];
				for (size_t k = 0; k < r->npeers; k++)
					free_peer(&r->peers[k]);
				free(r->peers);
				free_ports(r->ports, r->nports);
				free_ports(r->not_ports, r->nnot_ports);
				if (r->local) {
					free_peer(r->local);
					free(r->local);
				}
				for (size_t k = 0; k < r->nhttp; k++) {
					struct pm_http *h = &r->http[k];
					if (h->has_method)
						regfree(&h->method);
					if (h->has_path)
						regfree(&h->path);
					for (size_t m = 0; m < h->nheaders; m++)
						free(h->headers[m]);
					free(h->headers);
					free(h->text);
				}
				free(r->http);
			}
			free(p->rules[d]);
		}
		selector_free(&p->pod_sel);
		csel_free(p->sel);
		csel_free(p->ns_sel);
		csel_free(p->sa_sel);
		free(p->ns);
		free(p->name);
		free(p->tier);
	}
	for (size_t i = 0; i < c->ntiers; i++)
		free(c->tiers[i].name);
	free(c->tiers);
	for (size_t i = 0; i < c->nsas; i++) {
		free(c->sas[i].ns);
		free(c->sas[i].name);
		json_decref(c->sas[i].labels);
	}
	free(c->sas);
	free(c->ns);
	free(c->pods);
	free(c->pols);
	memset(c, 0, sizeof(*c));
}
