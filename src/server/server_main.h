#ifndef TULLE_SERVER_MAIN_H
#define TULLE_SERVER_MAIN_H

int server_main(int argc, char **argv);

#endif
