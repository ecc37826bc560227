/* Small helpers every module uses: checked allocation and a growable string buffer. */
#ifndef TULLE_UTIL_H
#define TULLE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

/* Allocation failure is not recoverable for us: report and abort. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* Copies exactly n bytes (NULs included: binary is fine) and terminates the copy. */
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);

struct strbuf {
	char *buf;
	size_t len, cap;
};

void sb_init(struct strbuf *sb);
void sb_free(struct strbuf *sb);
void sb_reset(struct strbuf *sb);
void sb_add(struct strbuf *sb, const void *data, size_t n);
void sb_adds(struct strbuf *sb, const char *s);
void sb_addc(struct strbuf *sb, char c);
void sb_printf(struct strbuf *sb, const char *fmt, ...) PRINTF_LIKE(2, 3);
void sb_vprintf(struct strbuf *sb, const char *fmt, va_list ap);
/* Hands the buffer to the caller (NUL-terminated) and leaves sb empty. */
char *sb_detach(struct strbuf *sb);
/* Removes the first n bytes. */
void sb_consume(struct strbuf *sb, size_t n);

bool str_has_prefix(const char *s, const char *prefix);
bool str_has_suffix(const char *s, const char *suffix);
/* Reads a whole file; returns 0 or -errno. */
int read_file(const char *path, char **out, size_t *len);
/* Writes a file atomically (temp file + rename). */
int write_file_atomic(const char *path, const void *data, size_t len, int mode);
/* Skips a signed decimal ("-12", "3.5", ".5", "7."); returns the end, or NULL when
 * there are no digits. */
const char *scan_decimal(const char *p);
/* Monotonic clock in nanoseconds. */
uint64_t now_ns(void);
/* RFC 3339 UTC timestamp of the wall clock, as Kubernetes writes it. */
void rfc3339_now(char out[32]);

/* The host side of a pod's veth as tulle-cni names it: stable per (container id,
 * interface), within IFNAMSIZ, so the agent finds it again after a restart. */
void cni_host_ifname(const char *container_id, const char *ifname, char out[16]);

#endif
