/* The cluster's certificates (OpenSSL 3): a CA, the API server's certificate and an
 * admin client certificate, kept as PEM files in one directory and made on first use,
 * as kubeadm and kind do. */
#ifndef TULLE_PKI_H
#define TULLE_PKI_H

struct pki_paths {
	char *ca_crt, *ca_key, *server_crt, *server_key, *admin_crt, *admin_key;
};

/* Loads or makes everything in dir (0700). The server certificate names localhost,
 * 127.0.0.1, the kubernetes Service's names and extra_ip (may be NULL). Returns 0 or -1
 * with *err. */
int pki_ensure(const char *dir, const char *extra_ip, struct pki_paths *out, char **err);
void pki_paths_free(struct pki_paths *p);

#endif
