/* A small epoll event loop: callbacks per file descriptor and periodic timers. One loop
 * per thread; nothing here is thread-safe. */
#ifndef TULLE_LOOP_H
#define TULLE_LOOP_H

#include <stdint.h>

struct loop;
typedef void (*loop_fd_fn)(struct loop *l, int fd, uint32_t events, void *ctx);
typedef void (*loop_timer_fn)(struct loop *l, void *ctx);

struct loop *loop_new(void);
void loop_free(struct loop *l);
int loop_add(struct loop *l, int fd, uint32_t events, loop_fd_fn fn, void *ctx);
int loop_mod(struct loop *l, int fd, uint32_t events);
void loop_del(struct loop *l, int fd);
/* Calls fn every interval_ms until the loop stops. */
void loop_every(struct loop *l, unsigned interval_ms, loop_timer_fn fn, void *ctx);
/* Stops the timers loop_every started with this fn and ctx (safe inside a callback). */
void loop_cancel(struct loop *l, loop_timer_fn fn, void *ctx);
/* Calls fn once, as soon as no descriptor is ready (or after max_delay_ms, whichever
 * comes first), so work that a burst of events triggers is done once for the burst.
 * A request for a fn and ctx already pending is dropped (the pending call covers it). */
void loop_idle(struct loop *l, unsigned max_delay_ms, loop_timer_fn fn, void *ctx);
/* Runs until loop_stop; returns 0 or -errno. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

#endif
