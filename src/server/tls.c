/* The API server's TLS: certificates from the cluster's PKI directory (made on first
 * use), TLS 1.2+, client certificates requested and checked against the cluster CA
 * (a valid one authenticates; without one the bearer token must). */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "../lib/pki.h"
#include "../lib/util.h"
#include "server.h"

static char *ssl_err(const char *what, const char *path)
{
	char buf[256];
	ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
	return xasprintf("%s %s: %s", what, path, buf);
}

int server_tls_setup(struct apiserver *s, char **err)
{
	char *dir = s->cfg.pki_dir ? xstrdup(s->cfg.pki_dir) : xasprintf("%s/pki", s->cfg.state_dir);
	struct pki_paths pk;
	int rc = pki_ensure(dir, NULL, &pk, err);
	free(dir);
	if (rc < 0) {
		pki_paths_free(&pk);
		return -1;
	}
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	rc = -1;
	if (!ctx) {
		*err = ssl_err("cannot make a TLS context", "");
		goto out;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_use_certificate_chain_file(ctx, pk.server_crt) != 1) {
		*err = ssl_err("cannot load", pk.server_crt);
		goto out;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, pk.server_key, SSL_FILETYPE_PEM) != 1) {
		*err = ssl_err("cannot load", pk.server_key);
		goto out;
	}
	if (SSL_CTX_load_verify_locations(ctx, pk.ca_crt, NULL) != 1) {
		*err = ssl_err("cannot load", pk.ca_crt);
		goto out;
	}
	SSL_CTX_set_client_CA_list(ctx, SSL_load_client_CA_file(pk.ca_crt));
	/* Asked for, not required: a client without a certificate may use the token. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	s->tls = ctx;
	ctx = NULL;
	rc = 0;
out:
	SSL_CTX_free(ctx);
	pki_paths_free(&pk);
	return rc;
}
