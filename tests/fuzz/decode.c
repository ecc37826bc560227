/* libFuzzer: the YAML/JSON decoding path and validation of whatever it yields. */
#include <stdint.h>
#include <stdlib.h>

#include "../../src/api/validate.h"
#include "../../src/lib/doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct doc **docs;
	size_t n;
	struct ferrs errs;

	ferrs_init(&errs);
	if (doc_load_all((const char *)data, size, "fuzz", &docs, &n, &errs) == 0) {
		for (size_t i = 0; i < n; i++) {
			const struct skind *k;
			struct ferrs e, w;
			struct strbuf sb;
			ferrs_init(&e);
			ferrs_init(&w);
			sb_init(&sb);
			if (api_validate(docs[i]->root, docs[i], UNKNOWN_WARN, &k, &e, &w) < 0)
				api_format_errors(&sb, "fuzz", docs[i]->root, &e);
			sb_free(&sb);
			ferrs_free(&e);
			ferrs_free(&w);
		}
		docs_free(docs, n);
	}
	ferrs_free(&errs);
	return 0;
}
