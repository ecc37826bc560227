/* `tulle api-resources`: every kind the API serves, as kubectl lists them. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "table.h"

int cmd_api_resources(int argc, char **argv)
{
	const struct schema *s = schema_get();
	struct table t;

	(void)argc;
	(void)argv;
	table_init(&t, 5);
	table_add(&t, (char *[]){ xstrdup("NAME"), xstrdup("SHORTNAMES"), xstrdup("APIVERSION"),
				  xstrdup("NAMESPACED"), xstrdup("KIND") });
	for (size_t i = 0; i < s->nkinds; i++) {
		const struct skind *k = s->kinds[i];
		struct strbuf sn;
		if (k->local)
			continue;
		sb_init(&sn);
		for (size_t j = 0; j < k->nshorts; j++)
			sb_printf(&sn, "%s%s", j ? "," : "", k->shorts[j]);
		table_add(&t, (char *[]){ xstrdup(k->plural), sn.len ? sb_detach(&sn) : xstrdup(""),
					  skind_api_version(k, NULL), xstrdup(k->namespaced ? "true" : "false"),
					  xstrdup(k->kind) });
		sb_free(&sn);
	}
	table_print(&t, stdout);
	table_free(&t);
	return 0;
}
