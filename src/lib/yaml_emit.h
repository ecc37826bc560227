/* Writes a JSON tree as block-style YAML, the way kubectl -o yaml looks, quoting every
 * string that a YAML 1.1 reader would otherwise take for something else. */
#ifndef TULLE_YAML_EMIT_H
#define TULLE_YAML_EMIT_H

#include <jansson.h>
#include "util.h"

void yaml_emit(struct strbuf *sb, const json_t *v);

#endif
