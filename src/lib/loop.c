#include "loop.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "util.h"

struct handler {
	loop_fd_fn fn;
	void *ctx;
	bool used;
};

struct timer {
	unsigned interval_ms;
	uint64_t next_ns;
	loop_timer_fn fn;
	void *ctx;
};

#define LOOP_IDLE_MAX 8

struct loop {
	int ep;
	struct handler *h;
	size_t nh;
	struct timer *timers;
	size_t ntimers;
	bool stop;
	struct idle {
		loop_timer_fn fn; /* one-shot: once nothing is ready */
		void *ctx;
		uint64_t due_ns;  /* or by then */
	} idle[LOOP_IDLE_MAX];
	size_t nidle;
};

struct loop *loop_new(void)
{
	struct loop *l = xcalloc(1, sizeof(*l));

	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0) {
		free(l);
		return NULL;
	}
	return l;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	close(l->ep);
	free(l->h);
	free(l->timers);
	free(l);
}

int loop_add(struct loop *l, int fd, uint32_t events, loop_fd_fn fn, void *ctx)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	if ((size_t)fd >= l->nh) {
		size_t n = (size_t)fd + 64;
		l->h = xrealloc(l->h, n * sizeof(*l->h));
		for (size_t i = l->nh; i < n; i++)
			l->h[i] = (struct handler){ 0 };
		l->nh = n;
	}
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	l->h[fd] = (struct handler){ fn, ctx, true };
	return 0;
}

int loop_mod(struct loop *l, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	return epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void loop_del(struct loop *l, int fd)
{
	epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
	if ((size_t)fd < l->nh)
		l->h[fd].used = false;
}

void loop_every(struct loop *l, unsigned interval_ms, loop_timer_fn fn, void *ctx)
{
	l->timers = xrealloc(l->timers, (l->ntimers + 1) * sizeof(*l->timers));
	l->timers[l->ntimers++] = (struct timer){ interval_ms,
						  now_ns() + (uint64_t)interval_ms * 1000000ull, fn, ctx };
}

void loop_cancel(struct loop *l, loop_timer_fn fn, void *ctx)
{
	/* Marked, not removed: a timer callback may be the one cancelling. */
	for (size_t i = 0; i < l->ntimers; i++)
		if (l->timers[i].fn == fn && l->timers[i].ctx == ctx)
			l->timers[i].fn = NULL;
}

static int next_timeout(struct loop *l)
{
	uint64_t now = now_ns(), soonest = UINT64_MAX;

	for (size_t i = 0; i < l->ntimers; i++)
		if (l->timers[i].fn && l->timers[i].next_ns < soonest)
			soonest = l->timers[i].next_ns;
	if (soonest == UINT64_MAX)
		return -1;
	return soonest <= now ? 0 : (int)((soonest - now) / 1000000ull) + 1;
}

static void run_timers(struct loop *l)
{
	uint64_t now = now_ns();

	for (size_t i = 0; i < l->ntimers; i++) {
		struct timer *t = &l->timers[i];
		if (!t->fn || t->next_ns > now)
			continue;
		t->next_ns = now + (uint64_t)t->interval_ms * 1000000ull;
		t->fn(l, t->ctx);
	}
}

int loop_run(struct loop *l)
{
	struct epoll_event evs[64];

	l->stop = false;
	while (!l->stop) {
		int n = epoll_wait(l->ep, evs, 64, l->nidle ? 0 : next_timeout(l));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && !l->stop; i++) {
			int fd = evs[i].data.fd;
			/* A handler earlier in this batch may have closed this fd. */
			if ((size_t)fd < l->nh && l->h[fd].used)
				l->h[fd].fn(l, fd, evs[i].events, l->h[fd].ctx);
		}
		run_timers(l);
		uint64_t now = now_ns();
		for (size_t i = 0; i < l->nidle;) {
			if (n && now < l->idle[i].due_ns) {
				i++;
				continue;
			}
			struct idle it = l->idle[i];
			l->idle[i] = l->idle[--l->nidle];
			it.fn(l, it.ctx); /* may add itself again: it lands at the end */
		}
	}
	return 0;
}

void loop_idle(struct loop *l, unsigned max_delay_ms, loop_timer_fn fn, void *ctx)
{
	for (size_t i = 0; i < l->nidle; i++)
		if (l->idle[i].fn == fn && l->idle[i].ctx == ctx)
			return; /* already pending: it runs once for all */
	if (l->nidle == LOOP_IDLE_MAX) {
		fn(l, ctx); /* no room to defer: do it now */
		return;
	}
	l->idle[l->nidle++] = (struct idle){ fn, ctx, now_ns() + (uint64_t)max_delay_ms * 1000000ull };
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}
