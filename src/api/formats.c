#include "formats.h"

#include <ctype.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/calico_sel.h"
#include "../lib/cidr.h"
#include "../lib/util.h"

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool label_span(const char *s, size_t n)
{
	if (n == 0 || n > 63 || !lower_alnum(s[0]) || !lower_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

bool is_dns1123_label(const char *s)
{
	return label_span(s, strlen(s));
}

bool is_dns1123_subdomain(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return false;
	for (const char *p = s;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		if (!label_span(p, len))
			return false;
		if (!dot)
			return true;
		p = dot + 1;
	}
}

bool is_dns1035_label(const char *s)
{
	return is_dns1123_label(s) && s[0] >= 'a' && s[0] <= 'z';
}

bool is_iana_svc_name(const char *s)
{
	size_t n = strlen(s);
	bool letter = false;

	if (n == 0 || n > 15 || s[0] == '-' || s[n - 1] == '-' || strstr(s, "--"))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] >= 'a' && s[i] <= 'z')
			letter = true;
		else if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '-')
			return false;
	}
	return letter;
}

static bool name_part_ok(const char *s, size_t n)
{
	if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

static const char qualified_msg[] =
	"name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
	"and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
	"regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

char *label_key_check(const char *s)
{
	const char *slash = strchr(s, '/');
	const char *name = slash ? slash + 1 : s;

	if (slash) {
		char *prefix = xstrndup(s, (size_t)(slash - s));
		bool ok = is_dns1123_subdomain(prefix);
		free(prefix);
		if (!ok)
			return xstrdup("prefix part a lowercase RFC 1123 subdomain must consist of lower "
				       "case alphanumeric characters, '-' or '.', and must start and end "
				       "with an alphanumeric character (e.g. 'example.com', regex used for "
				       "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
	}
	if (strlen(name) > 63)
		return xstrdup("name part must be no more than 63 characters");
	if (!name_part_ok(name, strlen(name)))
		return xstrdup(qualified_msg);
	return NULL;
}

char *label_value_check(const char *s)
{
	size_t n = strlen(s);

	if (n == 0)
		return NULL;
	if (n > 63)
		return xstrdup("must be no more than 63 characters");
	if (!name_part_ok(s, n))
		return xstrdup("a valid label must be an empty string or consist of alphanumeric "
			       "characters, '-', '_' or '.', and must start and end with an "
			       "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
			       "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");
	return NULL;
}

static bool is_rfc3339(const char *s)
{
	/* 2006-01-02T15:04:05Z, with optional fraction and numeric offset. */
	int y, mo, d, h, mi, sec;
	char t;
	int n = 0;

	if (sscanf(s, "%4d-%2d-%2d%c%2d:%2d:%2d%n", &y, &mo, &d, &t, &h, &mi, &sec, &n) != 7 || n != 19)
		return false;
	if ((t != 'T' && t != 't') || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return false;
	const char *p = s + n;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'Z' || *p == 'z')
		return p[1] == 0;
	if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]) &&
	    p[3] == ':' && isdigit((unsigned char)p[4]) && isdigit((unsigned char)p[5]) && !p[6])
		return true;
	return false;
}

/* Go's time.ParseDuration forms: "1h30m", "10s", "250ms", "1.5h". */
static bool is_duration(const char *s)
{
	static const char *const units[] = { "ns", "us", "µs", "ms", "s", "m", "h" };
	const char *p = s;

	if (*p == '+' || *p == '-')
		p++;
	if (!strcmp(p, "0"))
		return true;
	if (!*p)
		return false;
	while (*p) {
		bool digits = false;
		while (isdigit((unsigned char)*p))
			p++, digits = true;
		if (*p == '.') {
			p++;
			while (isdigit((unsigned char)*p))
				p++, digits = true;
		}
		if (!digits)
			return false;
		size_t best = 0;
		for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
			size_t l = strlen(units[i]);
			if (!strncmp(p, units[i], l) && l > best)
				best = l;
		}
		if (!best)
			return false;
		p += best;
	}
	return true;
}

static bool is_hostname(const char *s, bool wildcard)
{
	if (wildcard && str_has_prefix(s, "*."))
		s += 2;
	return is_dns1123_subdomain(s);
}

char *format_check(enum st_format f, const char *s)
{
	struct ipaddr ip;
	struct cidr c;
	char *msg = NULL;

	switch (f) {
	case FMT_NONE:
		return NULL;
	case FMT_DNS1123LABEL:
		if (strlen(s) > 63)
			return xstrdup("must be no more than 63 characters");
		return is_dns1123_label(s) ? NULL : xstrdup(
			"a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
			"or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  "
			"or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
	case FMT_DNS1123SUBDOMAIN:
		if (strlen(s) > 253)
			return xstrdup("must be no more than 253 characters");
		return is_dns1123_subdomain(s) ? NULL : xstrdup(
			"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
			"characters, '-' or '.', and must start and end with an alphanumeric character "
			"(e.g. 'example.com', regex used for validation is "
			"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
	case FMT_DNS1035LABEL:
		if (strlen(s) > 63)
			return xstrdup("must be no more than 63 characters");
		return is_dns1035_label(s) ? NULL : xstrdup(
			"a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
			"start with an alphabetic character, and end with an alphanumeric character "
			"(e.g. 'my-name',  or 'abc-123', regex used for validation is "
			"'[a-z]([-a-z0-9]*[a-z0-9])?')");
	case FMT_IP:
		return ip_parse(s, &ip) == 0 ? NULL : xstrdup("must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
	case FMT_CIDR:
		return cidr_parse(s, &c, false) == 0 ? NULL : xstrdup("must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)");
	case FMT_IP_OR_CIDR:
		return cidr_parse(s, &c, true) == 0 ? NULL : xstrdup("must be a valid IP address or CIDR");
	case FMT_PORT_NAME:
		return is_iana_svc_name(s) ? NULL : xstrdup(
			"must be no more than 15 characters, contain only lowercase alphanumeric "
			"characters and '-', contain at least one letter, and not begin or end with "
			"'-' nor contain '--' (an IANA service name)");
	case FMT_PORT_OR_NAME:
		return is_iana_svc_name(s) ? NULL : xstrdup(
			"must be a port number between 1 and 65535 or an IANA service name (at most 15 "
			"lowercase alphanumeric characters or '-', with at least one letter)");
	case FMT_LABEL_KEY:
	case FMT_QUALIFIED_NAME:
		return label_key_check(s);
	case FMT_LABEL_VALUE:
		return label_value_check(s);
	case FMT_HOSTNAME:
		return is_hostname(s, false) ? NULL : xstrdup("must be a lowercase DNS name (RFC 1123)");
	case FMT_WILDCARD_HOST:
		return is_hostname(s, true) ? NULL : xstrdup(
			"must be a lowercase DNS name (RFC 1123), optionally starting with '*.'");
	case FMT_HTTP_PATH:
		return s[0] == '/' ? NULL : xstrdup("must be an absolute path");
	case FMT_REGEX: {
		regex_t re;
		int rc = regcomp(&re, s, REG_EXTENDED | REG_NOSUB);
		if (rc != 0) {
			char buf[256];
			regerror(rc, &re, buf, sizeof(buf));
			return xasprintf("must be a valid regular expression: %s", buf);
		}
		regfree(&re);
		return NULL;
	}
	case FMT_CALICO_SELECTOR: {
		struct csel *e;
		if (csel_parse(s, &e, &msg) < 0)
			return msg;
		csel_free(e);
		return NULL;
	}
	case FMT_RFC3339:
		return is_rfc3339(s) ? NULL : xstrdup("must be an RFC 3339 time (e.g. 2025-01-02T15:04:05Z)");
	case FMT_DURATION:
		return is_duration(s) ? NULL : xstrdup("must be a duration such as 30s, 5m or 1h30m");
	case FMT_URL:
		return (str_has_prefix(s, "https://") || str_has_prefix(s, "http://")) && strlen(s) > 8
			       ? NULL : xstrdup("must be an http:// or https:// URL");
	case FMT_EMAIL: {
		const char *at = strchr(s, '@');
		return at && at != s && strchr(at + 1, '.') && !strchr(at + 1, '@') ? NULL
			: xstrdup("must be an email address");
	}
	}
	return NULL;
}
