/* The cluster DNS server's entry point (tulle dns). */
#ifndef TULLE_DNS_H
#define TULLE_DNS_H

int dns_main(int argc, char **argv);

#endif
