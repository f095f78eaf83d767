/* SPDX-License-Identifier: Apache-2.0 */
#include "as4/part.h"

#include <string.h>

#include "as4/str.h"

void as4_part_init(struct as4_part *p)
{
	memset(p, 0, sizeof(*p));
	as4_blob_init(&p->data);
}

void as4_part_cleanup(struct as4_part *p)
{
	if (p == NULL) {
		return;
	}
	as4_blob_cleanup(&p->data);
}

as4_err as4_media_type(const char *content_type, char *out, size_t cap)
{
	const char *s = content_type != NULL ? content_type : "";
	size_t n = strcspn(s, ";");
	as4_str_trim(&s, &n);
	if (n >= cap) {
		return AS4_E_LIMIT;
	}
	memcpy(out, s, n);
	out[n] = '\0';
	as4_str_lower(out);
	return AS4_OK;
}

bool as4_media_type_is_xml(const char *content_type)
{
	char mt[256];
	if (as4_media_type(content_type, mt, sizeof(mt)) != AS4_OK) {
		return false;
	}
	return strcmp(mt, "text/xml") == 0 || strcmp(mt, "application/xml") == 0 ||
	       as4_str_ends(mt, "+xml");
}
