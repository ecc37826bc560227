/* Connecting to a URL of the kind tulle publishes: unix:///path or tcp://IPv4:PORT
 * (the API server's and the node APIs'). */
#ifndef TULLE_DIAL_H
#define TULLE_DIAL_H

/* Returns a connected socket (blocking, close-on-exec), or -1 with *err saying what
 * went wrong and where. */
int dial_url(const char *url, char **err);

#endif
