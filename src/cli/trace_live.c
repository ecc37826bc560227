/* `tulle policy trace --live`: what the datapath's maps hold for a traced connection,
 * asked of the agent on the node where each side is enforced (GET /policy on its
 * observer), set beside the engine's answer. The agent looks its pinned maps up as the
 * kernel does for a connection's first packet; nothing is simulated here. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/dial.h"
#include "../lib/util.h"
#include "trace_live.h"

static const char *str_of(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* GET path from an observer URL; the JSON body, or NULL with err set. */
static json_t *observer_get(const char *url, const char *path, char **err)
{
	int fd = dial_url(url, err);
	if (fd < 0)
		return NULL;
	char *req = xasprintf("GET %s HTTP/1.1\r\nHost: observer\r\nConnection: close\r\n\r\n", path);
	ssize_t w = write(fd, req, strlen(req));
	free(req);
	struct strbuf sb;
	sb_init(&sb);
	char buf[8192];
	ssize_t r;
	while (w > 0 && (r = read(fd, buf, sizeof(buf))) > 0)
		sb_add(&sb, buf, (size_t)r);
	close(fd);
	char *body = sb.buf ? strstr(sb.buf, "\r\n\r\n") : NULL;
	json_t *j = body ? json_loads(body + 4, 0, NULL) : NULL;
	if (!j || strncmp(sb.buf, "HTTP/1.1 200", 12)) {
		*err = xasprintf("the observer at %s answered %.*s%s%s", url, sb.buf ? (int)strcspn(sb.buf, "\r") : 0,
				 sb.buf ? sb.buf : "nothing", j ? ": " : "", j ? (str_of(j, "error") ?: "") : "");
		json_decref(j);
		j = NULL;
	}
	sb_free(&sb);
	return j;
}

/* The pod's node and that node's observer, from the API. */
static int pod_observer(struct client *cl, const struct pm_pod *pod, char **node, char **url, char **err)
{
	int code = 0;
	char *path = xasprintf("/api/v1/namespaces/%s/pods/%s", pod->ns, pod->name);
	json_t *p = client_json(cl, "GET", path, NULL, NULL, &code, err);
	free(path);
	const char *nn = code == 200 ? str_of(json_object_get(p, "spec"), "nodeName") : NULL;
	if (!nn) {
		if (!*err)
			*err = xasprintf("pod %s/%s is %s", pod->ns, pod->name, code == 200 ? "not scheduled" : "not found");
		json_decref(p);
		return -1;
	}
	*node = xstrdup(nn);
	json_decref(p);
	path = xasprintf("/api/v1/nodes/%s", *node);
	json_t *n = client_json(cl, "GET", path, NULL, NULL, &code, err);
	free(path);
	const char *u = code == 200 ? str_of(json_object_get(json_object_get(n, "metadata"), "annotations"),
					     "tulle.io/observer")
				    : NULL;
	if (!u && !*err)
		*err = xasprintf("node %s publishes no observer (annotation tulle.io/observer): is its agent running?",
				 *node);
	*url = u ? xstrdup(u) : NULL;
	json_decref(n);
	return u ? 0 : -1;
}

/* What the kernel's answer must be for the engine's side to hold. */
static bool same_policy(const struct pm_cluster *c, const struct pm_side *s, const json_t *kpol)
{
	if (s->policy < 0 || !json_is_object(kpol))
		return true; /* the engine names none, or the kernel's entry has none to name */
	const struct pm_policy *p = &c->pols[s->policy];
	return !strcmp(str_of(kpol, "kind") ?: "", pm_kind_name(p->kind)) &&
	       !strcmp(str_of(kpol, "namespace") ?: "", p->ns ? p->ns : "") && !strcmp(str_of(kpol, "name") ?: "", p->name);
}

static bool agrees(const struct pm_cluster *c, const struct pm_side *s, const json_t *k, const char **why)
{
	const char *v = str_of(k, "verdict") ?: "";
	*why = NULL;
	if (!json_is_true(json_object_get(json_object_get(k, "local"), "known"))) {
		*why = "the pod is not a local endpoint in this node's ipcache: its packets are dropped (fail closed) "
		       "until the agent writes it";
		return false;
	}
	bool kernel_allows = !strcmp(v, "allow") || !strcmp(v, "not-isolated") || !strcmp(v, "allow-host") ||
			     !strcmp(v, "allow-self");
	bool ok = s->v == V_ALLOW ? kernel_allows : s->v == V_DENY ? !strcmp(v, "deny") : !strcmp(v, "redirect");
	if (!ok) {
		*why = "the verdicts differ";
		return false;
	}
	if (!same_policy(c, s, json_object_get(k, "policy"))) {
		*why = "a different policy decides";
		return false;
	}
	return true;
}

static char *kernel_text(const json_t *k)
{
	const char *v = str_of(k, "verdict") ?: "?";
	const json_t *pol = json_object_get(k, "policy");
	char *by = json_is_object(pol) ? xasprintf(" by %s %s%s%s rule %lld", str_of(pol, "kind") ?: "?",
						    str_of(pol, "namespace") ?: "", *(str_of(pol, "namespace") ?: "") ? "/" : "",
						    str_of(pol, "name") ?: "?", json_integer_value(json_object_get(k, "rule")))
				       : xstrdup("");
	const char *what = !strcmp(v, "allow")	      ? "allowed"
			   : !strcmp(v, "deny")	      ? "denied"
			   : !strcmp(v, "redirect")   ? "redirected to the L7 proxy"
			   : !strcmp(v, "allow-host") ? "allowed: the peer is this node"
			   : !strcmp(v, "allow-self") ? "allowed: a pod cannot block access to itself"
						      : "allowed: no policy isolates the pod in this direction";
	char *t = xasprintf("%s%s (identity %lld -> %lld, policy revision %lld)", what, by,
			    json_integer_value(json_object_get(json_object_get(k, "local"), "identity")),
			    json_integer_value(json_object_get(json_object_get(k, "peer"), "identity")),
			    json_integer_value(json_object_get(k, "revision")));
	free(by);
	return t;
}

int trace_live_side(struct client *cl, const struct pm_cluster *c, int pod, const struct ipaddr *peer, int dir,
		    uint8_t proto, uint16_t port, const struct pm_side *engine, json_t **out, char **text)
{
	char *node = NULL, *url = NULL, *err = NULL, local[64], peer_ip[64];
	const struct pm_pod *p = &c->pods[pod];

	*out = NULL;
	*text = NULL;
	if (!p->has_ip || peer->family != 4) {
		*text = xasprintf("cannot check: %s", !p->has_ip ? "the pod has no address yet"
								 : "the datapath holds IPv4 policy only");
		return -1;
	}
	ip_format(&p->ip, local, sizeof(local));
	ip_format(peer, peer_ip, sizeof(peer_ip));
	if (pod_observer(cl, p, &node, &url, &err) < 0) {
		*text = xasprintf("cannot check: %s", err);
		free(err);
		free(node);
		return -1;
	}
	char *path = xasprintf("/policy?local=%s&peer=%s&direction=%s&protocol=%u&port=%u", local, peer_ip,
			       dir == DIR_EGRESS ? "egress" : "ingress", proto, port);
	json_t *k = observer_get(url, path, &err);
	free(path);
	free(url);
	if (!k) {
		*text = xasprintf("cannot check on node %s: %s", node, err);
		free(err);
		free(node);
		return -1;
	}
	const char *why;
	bool ok = agrees(c, engine, k, &why);
	char *kt = kernel_text(k);
	*text = xasprintf("%s on node %s: %s%s%s", ok ? "agrees" : "DISAGREES", node, kt, why ? ": " : "", why ? why : "");
	json_object_set_new(k, "agrees", json_boolean(ok));
	*out = k;
	free(kt);
	free(node);
	return ok ? 1 : 0;
}
