/* Column-aligned text tables, padded as kubectl's tabwriter does (3 spaces). */
#ifndef TULLE_TABLE_H
#define TULLE_TABLE_H

#include <stddef.h>
#include <stdio.h>

struct table {
	char ***rows; /* rows[r][c], owned */
	size_t nrows, ncols;
};

void table_init(struct table *t, size_t ncols);
/* Adds a row; takes ownership of the ncols strings. */
void table_add(struct table *t, char **cells);
void table_print(const struct table *t, FILE *f);
void table_free(struct table *t);

#endif
