#ifndef TULLE_CONTROLLERS_H
#define TULLE_CONTROLLERS_H

#include "server.h"

/* One pass of every controller; the server runs it on a timer. */
void controllers_tick(struct apiserver *s);

#endif
