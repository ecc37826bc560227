/* libFuzzer: the label selector string syntax and Calico's selector expressions. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/lib/calico_sel.h"
#include "../../src/lib/selector.h"
#include "../../src/lib/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);
	struct selector sel;
	struct csel *e;
	char *err = NULL;
	json_t *labels = json_pack("{s:s,s:s}", "app", "web", "tier", "x");

	if (selector_parse(s, &sel, &err) == 0) {
		(void)selector_matches_json(&sel, labels);
		char *f = selector_format(&sel);
		free(f);
		selector_free(&sel);
	}
	free(err);
	err = NULL;
	if (csel_parse(s, &e, &err) == 0) {
		(void)csel_matches(e, label_get_json, labels);
		csel_free(e);
	}
	free(err);
	json_decref(labels);
	free(s);
	return 0;
}
