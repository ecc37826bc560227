#ifndef TULLE_CONTROLLERS_H
#define TULLE_CONTROLLERS_H

#include "server.h"

/* One pass of every controller over what changed since the last; the server runs it
 * on a timer. */
void controllers_tick(struct apiserver *s);
/* Called for each committed change. */
void controllers_note(struct apiserver *s, const struct pending_event *ev);

#endif
