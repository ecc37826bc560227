/* The event loop's idle calls: a burst of readable data is read to the end before the
 * idle call runs, the call runs once however often it was asked for, and a stream
 * that never pauses still gets it after the maximum delay. */
#include "testhelp.h"

#include <fcntl.h>
#include <unistd.h>

#include "loop.h"

struct state {
	int reads, idles, reads_at_idle;
	int chunks_left;   /* for the endless writer */
	int wfd;
};

static void on_idle(struct loop *l, void *ctx)
{
	struct state *s = ctx;
	s->idles++;
	s->reads_at_idle = s->reads;
	loop_stop(l);
}

static void on_read_idle(struct loop *l, int fd, uint32_t events, void *ctx)
{
	struct state *s = ctx;
	char c;
	(void)events;
	if (read(fd, &c, 1) == 1) {
		s->reads++;
		loop_idle(l, 1000, on_idle, s);
	}
}

static void burst_then_one_idle_call(void)
{
	int p[2];
	CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
	CHECK(write(p[1], "0123456789", 10) == 10);
	struct loop *l = loop_new();
	struct state s = { 0 };
	loop_add(l, p[0], 1, on_read_idle, &s);
	CHECK(loop_run(l) == 0);
	/* One byte per callback: all ten were read before the one idle call. */
	CHECK(s.reads == 10 && s.idles == 1 && s.reads_at_idle == 10);
	loop_free(l);
	close(p[0]);
	close(p[1]);
}

/* A writer that never lets the reader drain: a byte per read, for ever. */
static void on_read_refill(struct loop *l, int fd, uint32_t events, void *ctx)
{
	struct state *s = ctx;
	char c;
	(void)events;
	if (read(fd, &c, 1) == 1) {
		s->reads++;
		if (write(s->wfd, "x", 1) != 1)
			s->chunks_left = -1;
		loop_idle(l, 20, on_idle, s);
	}
}

static void endless_stream_still_gets_the_call(void)
{
	int p[2];
	CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
	CHECK(write(p[1], "x", 1) == 1);
	struct loop *l = loop_new();
	struct state s = { .wfd = p[1] };
	loop_add(l, p[0], 1, on_read_refill, &s);
	CHECK(loop_run(l) == 0);
	CHECK(s.idles == 1 && s.reads > 1 && s.chunks_left == 0);
	loop_free(l);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	RUN(burst_then_one_idle_call);
	RUN(endless_stream_still_gets_the_call);
	return testhelp_done();
}
