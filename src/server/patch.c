#include "patch.h"

json_t *merge_patch(const json_t *target, const json_t *patch)
{
	const char *k;
	json_t *v;

	if (!json_is_object(patch))
		return json_deep_copy(patch);
	json_t *out = json_is_object(target) ? json_deep_copy(target) : json_object();
	json_object_foreach((json_t *)patch, k, v) {
		if (json_is_null(v)) {
			json_object_del(out, k);
		} else {
			json_t *merged = merge_patch(json_object_get(out, k), v);
			json_object_set_new(out, k, merged);
		}
	}
	return out;
}
