#define _GNU_SOURCE 1
#include "pki.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util.h"

static char *ssl_error(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];
	ERR_error_string_n(e, buf, sizeof(buf));
	return xasprintf("%s: %s", what, e ? buf : "unknown OpenSSL error");
}

static EVP_PKEY *new_key(void)
{
	return EVP_EC_gen("P-256");
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ex)
		return -1;
	int rc = X509_add_ext(cert, ex, -1) ? 0 : -1;
	X509_EXTENSION_free(ex);
	return rc;
}

/* A certificate for key, signed by (ca, ca_key), or self-signed when ca is NULL. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *org, X509 *ca, EVP_PKEY *ca_key, bool is_ca,
		       const char *ext_key_usage, const char *san, long days)
{
	X509 *c = X509_new();
	if (!c)
		return NULL;
	X509_set_version(c, 2);
	unsigned char serial[16];
	FILE *r = fopen("/dev/urandom", "rb");
	if (!r || fread(serial, 1, sizeof(serial), r) != sizeof(serial)) {
		if (r)
			fclose(r);
		X509_free(c);
		return NULL;
	}
	fclose(r);
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c));
	BN_free(bn);
	X509_gmtime_adj(X509_getm_notBefore(c), -3600);
	X509_gmtime_adj(X509_getm_notAfter(c), days * 86400L);
	X509_set_pubkey(c, key);
	X509_NAME *name = X509_get_subject_name(c);
	if (org)
		X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)org, -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509 *issuer = ca ? ca : c;
	X509_set_issuer_name(c, X509_get_subject_name(issuer));
	int rc = 0;
	rc |= add_ext(c, issuer, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	rc |= add_ext(c, issuer, NID_key_usage, is_ca ? "critical,keyCertSign,cRLSign,digitalSignature"
						   : "critical,digitalSignature,keyEncipherment");
	rc |= add_ext(c, issuer, NID_subject_key_identifier, "hash");
	if (!is_ca)
		rc |= add_ext(c, issuer, NID_authority_key_identifier, "keyid:always");
	if (ext_key_usage)
		rc |= add_ext(c, issuer, NID_ext_key_usage, ext_key_usage);
	if (san)
		rc |= add_ext(c, issuer, NID_subject_alt_name, san);
	if (rc || !X509_sign(c, ca_key ? ca_key : key, EVP_sha256())) {
		X509_free(c);
		return NULL;
	}
	return c;
}

static int write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, key ? 0600 : 0644);
	if (fd < 0)
		return -1;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -1;
	}
	int ok = cert ? PEM_write_X509(f, cert) : PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	return fclose(f) == 0 && ok ? 0 : -1;
}

static X509 *read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	X509 *c = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return c;
}

static EVP_PKEY *read_key(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return k;
}

/* Issues a leaf (certificate + key files) unless both exist. */
static int leaf(const char *crt, const char *keyp, const char *cn, const char *org, X509 *ca, EVP_PKEY *ca_key,
		const char *eku, const char *san, char **err)
{
	if (access(crt, R_OK) == 0 && access(keyp, R_OK) == 0)
		return 0;
	EVP_PKEY *k = new_key();
	X509 *c = k ? make_cert(k, cn, org, ca, ca_key, false, eku, san, 365) : NULL;
	int rc = c && write_pem(keyp, NULL, k) == 0 && write_pem(crt, c, NULL) == 0 ? 0 : -1;
	if (rc < 0)
		*err = c ? xasprintf("cannot write %s: %s", crt, strerror(errno)) : ssl_error("cannot issue a certificate");
	X509_free(c);
	EVP_PKEY_free(k);
	return rc;
}

int pki_ensure(const char *dir, const char *extra_ip, struct pki_paths *p, char **err)
{
	memset(p, 0, sizeof(*p));
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		*err = xasprintf("cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	p->ca_crt = xasprintf("%s/ca.crt", dir);
	p->ca_key = xasprintf("%s/ca.key", dir);
	p->server_crt = xasprintf("%s/apiserver.crt", dir);
	p->server_key = xasprintf("%s/apiserver.key", dir);
	p->admin_crt = xasprintf("%s/admin.crt", dir);
	p->admin_key = xasprintf("%s/admin.key", dir);
	X509 *ca = read_cert(p->ca_crt);
	EVP_PKEY *ca_key = read_key(p->ca_key);
	int rc = -1;
	if (!ca || !ca_key) {
		X509_free(ca);
		EVP_PKEY_free(ca_key);
		ca_key = new_key();
		ca = ca_key ? make_cert(ca_key, "tulle-ca", NULL, NULL, NULL, true, NULL, NULL, 3650) : NULL;
		if (!ca || write_pem(p->ca_key, NULL, ca_key) < 0 || write_pem(p->ca_crt, ca, NULL) < 0) {
			*err = ca ? xasprintf("cannot write %s: %s", p->ca_crt, strerror(errno)) : ssl_error("cannot make the CA");
			goto out;
		}
		/* A new CA invalidates whatever it did not sign. */
		unlink(p->server_crt);
		unlink(p->admin_crt);
	}
	char *san = xasprintf("DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,"
			      "DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.96.0.1%s%s",
			      extra_ip ? ",IP:" : "", extra_ip ? extra_ip : "");
	rc = leaf(p->server_crt, p->server_key, "kube-apiserver", NULL, ca, ca_key, "serverAuth", san, err);
	free(san);
	if (rc == 0)
		rc = leaf(p->admin_crt, p->admin_key, "kubernetes-admin", "system:masters", ca, ca_key, "clientAuth", NULL, err);
out:
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	return rc;
}

void pki_paths_free(struct pki_paths *p)
{
	free(p->ca_crt);
	free(p->ca_key);
	free(p->server_crt);
	free(p->server_key);
	free(p->admin_crt);
	free(p->admin_key);
}
