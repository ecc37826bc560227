/* What the datapath's userspace files share; not for other modules. */
#ifndef TULLE_DATAPATH_INT_H
#define TULLE_DATAPATH_INT_H

#include "datapath.h"

struct tl_datapath;

struct datapath {
	struct tl_datapath *skel;
	int svc_fd, slots_fd, ct_fd, aff_fd, metrics_fd, pct_fd, traffic_fd;
	uint32_t next_id;
};

#endif
