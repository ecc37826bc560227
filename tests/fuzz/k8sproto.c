/* libFuzzer harness for the Kubernetes protobuf decoder: any bytes after the k8s\0
 * prefix are decoded or rejected, never read out of bounds; what decodes is JSON. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/api/k8sproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size + 4);
	memcpy(buf, "k8s", 4);
	memcpy(buf + 4, data, size);
	char *err = NULL;
	json_t *o = k8sproto_decode(buf, size + 4, &err);
	if (o) {
		char *s = json_dumps(o, JSON_COMPACT);
		if (!s)
			abort();
		free(s);
		json_decref(o);
	} else if (!err) {
		abort(); /* a rejection always says why */
	}
	free(err);
	free(buf);
	return 0;
}
