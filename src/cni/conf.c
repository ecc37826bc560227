#include "cni.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/util.h"

const char *const cni_versions[] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0", NULL };

bool cni_version_supported(const char *v)
{
	for (const char *const *p = cni_versions; *p; p++)
		if (!strcmp(*p, v))
			return true;
	return false;
}

int cni_fail(struct cni_err *e, int code, const char *msg, const char *fmt, ...)
{
	va_list ap;
	struct strbuf sb;

	sb_init(&sb);
	if (fmt) {
		va_start(ap, fmt);
		sb_vprintf(&sb, fmt, ap);
		va_end(ap);
	}
	e->code = code;
	e->msg = xstrdup(msg);
	e->details = sb_detach(&sb);
	return -1;
}

int cni_conf_parse(const char *text, size_t len, bool need_ipam, struct cni_conf *c, struct cni_err *e)
{
	json_error_t jerr;
	const char *s;

	memset(c, 0, sizeof(*c));
	c->raw = json_loadb(text, len, 0, &jerr);
	if (!c->raw || !json_is_object(c->raw))
		return cni_fail(e, CNI_DECODE_FAILURE, "failed to decode the network configuration",
				"stdin: %s (line %d, column %d)", c->raw ? "not a JSON object" : jerr.text,
				jerr.line, jerr.column);
	json_t *r = c->raw;
	if (!(s = json_string_value(json_object_get(r, "cniVersion"))))
		return cni_fail(e, CNI_INVALID_CONFIG, "invalid network configuration", "cniVersion is required");
	c->version = xstrdup(s);
	if (!cni_version_supported(s))
		return cni_fail(e, CNI_INCOMPATIBLE_VERSION, "incompatible CNI version",
				"cniVersion %s is not one of 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0", s);
	if (!(s = json_string_value(json_object_get(r, "name"))) || !*s)
		return cni_fail(e, CNI_INVALID_CONFIG, "invalid network configuration", "name is required");
	c->name = xstrdup(s);
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '_' || *p == '.'))
			return cni_fail(e, CNI_INVALID_CONFIG, "invalid network configuration",
					"name \"%s\" may hold only letters, digits, '-', '_' and '.'", s);
	json_t *mtu = json_object_get(r, "mtu");
	c->mtu = mtu ? (int)json_integer_value(mtu) : 1500;
	if (mtu && (!json_is_integer(mtu) || c->mtu < 576 || c->mtu > 9000))
		return cni_fail(e, CNI_INVALID_CONFIG, "invalid network configuration", "mtu must be an integer from 576 to 9000");
	c->dns = json_object_get(r, "dns");
	c->prev_result = json_object_get(r, "prevResult");
	c->valid_attachments = json_object_get(r, "cni.dev/valid-attachments");
	json_t *ipam = json_object_get(r, "ipam");
	if (!ipam) {
		if (need_ipam)
			return cni_fail(e, CNI_INVALID_CONFIG, "invalid network configuration", "ipam.subnet is required");
		return 0;
	}
	if (!(s = json_string_value(json_object_get(ipam, "subnet"))) || cidr_parse(s, &c->subnet, false) < 0 ||
	    c->subnet.ip.family != 4 || c->subnet.prefix > 30)
		return cni_fail(e, CNI_INVALID_CONFIG, "invalid network configuration",
				"ipam.subnet must be an IPv4 CIDR of /30 or larger, such as 10.244.1.0/24");
	/* Default range: everything but the network address, .1 and the broadcast. */
	cidr_nth(&c->subnet, 2, &c->range_start);
	cidr_nth(&c->subnet, cidr_size(&c->subnet) - 2, &c->range_end);
	if ((s = json_string_value(json_object_get(ipam, "rangeStart"))) &&
	    (ip_parse(s, &c->range_start) < 0 || !cidr_contains_ip(&c->subnet, &c->range_start)))
		return cni_fail(e, CNI_INVALID_CONFIG, "invalid network configuration", "ipam.rangeStart %s is not in %s", s,
				json_string_value(json_object_get(ipam, "subnet")));
	if ((s = json_string_value(json_object_get(ipam, "rangeEnd"))) &&
	    (ip_parse(s, &c->range_end) < 0 || !cidr_contains_ip(&c->subnet, &c->range_end)))
		return cni_fail(e, CNI_INVALID_CONFIG, "invalid network configuration", "ipam.rangeEnd %s is not in %s", s,
				json_string_value(json_object_get(ipam, "subnet")));
	if (cidr_offset(&c->subnet, &c->range_start) > cidr_offset(&c->subnet, &c->range_end))
		return cni_fail(e, CNI_INVALID_CONFIG, "invalid network configuration", "ipam.rangeStart is after ipam.rangeEnd");
	s = json_string_value(json_object_get(ipam, "dataDir"));
	c->data_dir = xstrdup(s ? s : "/var/lib/tulle/cni");
	return 0;
}

void cni_conf_free(struct cni_conf *c)
{
	json_decref(c->raw);
	free(c->version);
	free(c->name);
	free(c->data_dir);
	memset(c, 0, sizeof(*c));
}
