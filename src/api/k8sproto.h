/* Kubernetes' protobuf encoding of the built-in kinds, decoded into the JSON form the
 * rest of tulle uses. kubectl's typed clients (`create namespace|deployment|service|
 * configmap|secret`, `expose`, `run`) send `application/vnd.kubernetes.protobuf` and never
 * fall back to JSON, so the server must read it. Message layouts follow Kubernetes'
 * generated.proto field numbers; fields tulle does not model are skipped by wire type. */
#ifndef TULLE_K8SPROTO_H
#define TULLE_K8SPROTO_H

#include <jansson.h>
#include <stddef.h>

/* Decodes "k8s\0" + runtime.Unknown{typeMeta, raw}. Returns the object (apiVersion and
 * kind from the envelope) or NULL with *err: an unknown kind, or malformed bytes. */
json_t *k8sproto_decode(const unsigned char *buf, size_t len, char **err);

#endif
