/* Kubeconfig files for a local cluster, as kind writes them: a cluster, a user (client
 * certificate) and a context named tulle-NAME, merged into $KUBECONFIG (its first
 * file) or ~/.kube/config and made current; removed again on delete. */
#ifndef TULLE_KUBECONFIG_H
#define TULLE_KUBECONFIG_H

#include <jansson.h>

/* The standalone kubeconfig of a cluster whose PKI is in pki_dir, served at url. */
json_t *kubeconfig_for(const char *cluster, const char *url, const char *pki_dir, char **err);
/* Where kubectl reads and writes its config. Caller frees. */
char *kubeconfig_path(void);
/* Merges (add = 1) or removes (add = 0) the cluster's entries. Returns 0 or -1 with *err. */
int kubeconfig_merge(const char *path, const json_t *cfg, const char *cluster, int add, char **err);

#endif
