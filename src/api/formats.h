/* String formats Kubernetes validates (names, labels, IPs, ...), with the messages the
 * real API server gives, so users see familiar text. */
#ifndef TULLE_FORMATS_H
#define TULLE_FORMATS_H

#include <stdbool.h>
#include "schema.h"

/* NULL when s is valid; else what is expected (caller frees). */
char *format_check(enum st_format f, const char *s);
bool is_dns1123_label(const char *s);
bool is_dns1123_subdomain(const char *s);
bool is_dns1035_label(const char *s);
bool is_iana_svc_name(const char *s);
/* Label keys and values; NULL when valid. */
char *label_key_check(const char *s);
char *label_value_check(const char *s);

#endif
