/* libFuzzer harness for the DNS server's packet path: any bytes go through the query
 * parser, and whatever parses is answered from a small zone and built into a response
 * (UDP and TCP sizes), as the server does. Malformed input must be rejected, never
 * read out of bounds. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/dns/msg.h"
#include "../../src/dns/zone.h"

static struct dns_zone *zone;

static void init(void)
{
	const char *svcs = "{\"items\":["
		"{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"clusterIP\":\"10.96.0.5\","
		"\"ports\":[{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\"}]}},"
		"{\"metadata\":{\"name\":\"db\",\"namespace\":\"default\"},\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"db.example.com\"}},"
		"{\"metadata\":{\"name\":\"h\",\"namespace\":\"x\"},\"spec\":{\"clusterIP\":\"None\",\"ports\":[{\"name\":\"p\",\"port\":81}]}}]}";
	const char *slices = "{\"items\":[{\"metadata\":{\"namespace\":\"x\",\"labels\":{\"kubernetes.io/service-name\":\"h\"}},"
		"\"ports\":[{\"name\":\"p\",\"port\":81,\"protocol\":\"TCP\"}],"
		"\"endpoints\":[{\"addresses\":[\"10.244.0.7\"],\"hostname\":\"h-0\",\"conditions\":{\"ready\":true}},"
		"{\"addresses\":[\"10.244.1.7\"],\"conditions\":{\"ready\":true}}]}]}";
	json_t *s = json_loads(svcs, 0, NULL), *e = json_loads(slices, 0, NULL);
	zone = dns_zone_build(s, e, "cluster.local", 5);
	json_decref(s);
	json_decref(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[65535];
	struct dns_query q;
	if (!zone)
		init();
	/* A copy of exactly the input's size, so ASan sees any overread. */
	uint8_t *msg = malloc(size ? size : 1);
	memcpy(msg, data, size);
	switch (dns_parse_query(msg, size, &q)) {
	case DNS_PARSE_OK: {
		struct dns_answer a;
		if (dns_zone_answer(zone, &q, &a)) {
			size_t n = dns_build(&q, &a, out, q.udp_size);
			if (n > q.udp_size)
				abort();
			n = dns_build(&q, &a, out, sizeof(out));
			if (n > sizeof(out))
				abort();
			dns_answer_free(&a);
		}
		break;
	}
	case DNS_PARSE_FORMERR:
	case DNS_PARSE_NOTIMP:
		if (dns_build_error(msg, size, DNS_FORMERR, out, 512) > 512)
			abort();
		break;
	case DNS_PARSE_DROP: break;
	}
	free(msg);
	return 0;
}
