/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the API's JSON layer (parse with limits, then the typed getters). */
#include <stdint.h>
#include <stdlib.h>

#include "as4/admin_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *v = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	if (as4_json_parse(data, size, 1 << 20, 16, &v, &d) != AS4_OK) {
		return 0;
	}
	static const char *const allowed[] = {"pmode", "payloads", "properties", NULL};
	const char *s = NULL;
	bool b = false;
	uint64_t u = 0;
	const json_t *arr = NULL;
	as4_diag_init(&d);
	if (as4_json_only(v, "", allowed, &d) == AS4_OK &&
	    as4_json_str(v, "", "pmode", false, 256, &s, &d) == AS4_OK &&
	    as4_json_bool(v, "", "compress", &b, &d) == AS4_OK &&
	    as4_json_uint(v, "", "limit", 1000, &u, &d) == AS4_OK &&
	    as4_json_array(v, "", "payloads", 16, &arr, &d) == AS4_OK && arr != NULL) {
		for (size_t i = 0; i < json_array_size(arr); i++) {
			const char *ct = NULL;
			if (as4_json_str(json_array_get(arr, i), "payloads[].", "mime_type", true,
			                 128, &ct, &d) != AS4_OK) {
				break;
			}
		}
	}
	char *text = as4_json_dump(v);
	free(text);
	json_decref(v);
	return 0;
}
