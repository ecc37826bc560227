#!/usr/bin/env bash
# Lab 4: an ACME ClusterIssuer and a TLS Ingress for myapp.example.com in front of
# nginxdemos/hello.
. "$(dirname "$0")/../lab.sh"

lab_cluster lab4 --nodes 2
step tulle apply -f "$MANIFESTS/23-lab4-clusterissuer-letsencrypt-prod.yaml"
step tulle create deployment web --image=nginxdemos/hello
step tulle expose deployment web --port=80
step tulle apply -f "$MANIFESTS/24-lab4-ingress-web-ingress.yaml"
wait_rollout web
step tulle get clusterissuers,ingresses,services
step tulle describe ingress web-ingress
echo
echo "The objects are stored as written. Serving the Ingress (the proxy on every node's"
echo "80/443) is issue 17; the Certificate the cert-manager annotation asks for, and ACME"
echo "against the issuer, are issue 19."
