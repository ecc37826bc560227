/* OpenAPI v3 documents generated from the schema. */
#ifndef TULLE_OPENAPI_H
#define TULLE_OPENAPI_H

#include <jansson.h>

/* /openapi/v3: {"paths": {"api/v1": {"serverRelativeURL": ...}, ...}} */
json_t *openapi_v3_index(void);
/* /openapi/v3/<gv> ("api/v1", "apis/apps/v1"), or NULL when there is none. */
json_t *openapi_v3_doc(const char *gv);

#endif
