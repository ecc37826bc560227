#include "dial.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

int dial_url(const char *url, char **err)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int family;

	if (str_has_prefix(url, "unix://")) {
		struct sockaddr_un *sa = (struct sockaddr_un *)&ss;
		const char *p = url + 7;
		if (strlen(p) >= sizeof(sa->sun_path)) {
			*err = xasprintf("socket path too long: %s", p);
			return -1;
		}
		sa->sun_family = family = AF_UNIX;
		memcpy(sa->sun_path, p, strlen(p) + 1);
		len = sizeof(*sa);
	} else if (str_has_prefix(url, "tcp://")) {
		struct sockaddr_in *sa = (struct sockaddr_in *)&ss;
		char host[64];
		int port;
		const char *colon = strrchr(url + 6, ':');
		if (!colon || (size_t)(colon - url - 6) >= sizeof(host) || sscanf(colon + 1, "%d", &port) != 1 ||
		    port < 1 || port > 65535) {
			*err = xasprintf("bad URL %s: expected tcp://IP:PORT", url);
			return -1;
		}
		memcpy(host, url + 6, (size_t)(colon - url - 6));
		host[colon - url - 6] = 0;
		if (!strcmp(host, "localhost"))
			snprintf(host, sizeof(host), "127.0.0.1");
		if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
			*err = xasprintf("bad URL %s: the host must be an IPv4 address", url);
			return -1;
		}
		sa->sin_family = family = AF_INET;
		sa->sin_port = htons((uint16_t)port);
		len = sizeof(*sa);
	} else {
		*err = xasprintf("bad URL %s: expected unix:///PATH or tcp://HOST:PORT", url);
		return -1;
	}
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) < 0) {
		*err = xasprintf("cannot connect to %s: %s", url, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}
