/* SPDX-License-Identifier: Apache-2.0 */
/* Message records: states, ownership helpers and the versioned TLV codec (see store_int.h). */
#include "as4/store.h"

#include <stdlib.h>
#include <string.h>

#include "as4/str.h"
#include "store_int.h"

/* ---- Directions and states ---- */

static const char *const state_names[AS4_ST__COUNT] = {
        [AS4_ST_NONE] = "none",
        [AS4_ST_QUEUED] = "queued",
        [AS4_ST_SENDING] = "sending",
        [AS4_ST_RETRYING] = "retrying",
        [AS4_ST_DELIVERED] = "delivered",
        [AS4_ST_FAILED] = "failed",
        [AS4_ST_RECEIVED] = "received",
        [AS4_ST_BACKEND_ACKED] = "delivered-to-backend",
        [AS4_ST_BACKEND_FAILED] = "failed-to-backend",
};

const char *as4_dir_text(enum as4_dir d)
{
	switch (d) {
	case AS4_DIR_NONE:
		return "none";
	case AS4_DIR_IN:
		return "in";
	case AS4_DIR_OUT:
		return "out";
	}
	return "?";
}

as4_err as4_dir_parse(const char *s, enum as4_dir *out)
{
	if (s != NULL && strcmp(s, "in") == 0) {
		*out = AS4_DIR_IN;
		return AS4_OK;
	}
	if (s != NULL && strcmp(s, "out") == 0) {
		*out = AS4_DIR_OUT;
		return AS4_OK;
	}
	return AS4_E_INVAL;
}

const char *as4_msg_state_text(enum as4_msg_state s)
{
	if ((unsigned)s >= AS4_ST__COUNT) {
		return "?";
	}
	return state_names[s];
}

as4_err as4_msg_state_parse(const char *s, enum as4_msg_state *out)
{
	if (s == NULL) {
		return AS4_E_INVAL;
	}
	for (unsigned i = AS4_ST_QUEUED; i < AS4_ST__COUNT; i++) {
		if (strcmp(s, state_names[i]) == 0) {
			*out = (enum as4_msg_state)i;
			return AS4_OK;
		}
	}
	return AS4_E_INVAL;
}

enum as4_dir as4_msg_state_dir(enum as4_msg_state s)
{
	switch (s) {
	case AS4_ST_QUEUED:
	case AS4_ST_SENDING:
	case AS4_ST_RETRYING:
	case AS4_ST_DELIVERED:
	case AS4_ST_FAILED:
		return AS4_DIR_OUT;
	case AS4_ST_RECEIVED:
	case AS4_ST_BACKEND_ACKED:
	case AS4_ST_BACKEND_FAILED:
		return AS4_DIR_IN;
	default:
		return AS4_DIR_NONE;
	}
}

#define B(s) (1u << (s))

/* Allowed successors of each state (see enum as4_msg_state). */
static const uint32_t next_states[AS4_ST__COUNT] = {
        [AS4_ST_QUEUED] = B(AS4_ST_QUEUED) | B(AS4_ST_SENDING) | B(AS4_ST_FAILED),
        [AS4_ST_SENDING] = B(AS4_ST_SENDING) | B(AS4_ST_DELIVERED) | B(AS4_ST_RETRYING) |
                           B(AS4_ST_FAILED) | B(AS4_ST_QUEUED),
        [AS4_ST_RETRYING] = B(AS4_ST_RETRYING) | B(AS4_ST_SENDING) | B(AS4_ST_FAILED),
        [AS4_ST_DELIVERED] = 0,
        [AS4_ST_FAILED] = B(AS4_ST_FAILED) | B(AS4_ST_QUEUED),
        [AS4_ST_RECEIVED] = B(AS4_ST_RECEIVED) | B(AS4_ST_BACKEND_ACKED) | B(AS4_ST_BACKEND_FAILED),
        [AS4_ST_BACKEND_ACKED] = 0,
        [AS4_ST_BACKEND_FAILED] = B(AS4_ST_BACKEND_FAILED) | B(AS4_ST_BACKEND_ACKED),
};

bool as4_msg_state_allowed(enum as4_msg_state from, enum as4_msg_state to)
{
	if ((unsigned)from >= AS4_ST__COUNT || (unsigned)to >= AS4_ST__COUNT || to == AS4_ST_NONE) {
		return false;
	}
	return (next_states[from] & B(to)) != 0;
}

/* ---- Ownership ---- */

void as4_msgrec_init(struct as4_msgrec *rec)
{
	memset(rec, 0, sizeof(*rec));
}

static void props_free(struct as4_store_prop *p, size_t n)
{
	for (size_t i = 0; p != NULL && i < n; i++) {
		free(p[i].name);
		free(p[i].type);
		free(p[i].value);
	}
	free(p);
}

void as4_msgrec_cleanup(struct as4_msgrec *rec)
{
	if (rec == NULL) {
		return;
	}
	char **strs[] = {
	        &rec->pmode_id,          &rec->from.type,         &rec->from.value,
	        &rec->from_role,         &rec->to.type,           &rec->to.value,
	        &rec->to_role,           &rec->original_sender,   &rec->final_recipient,
	        &rec->service,           &rec->service_type,      &rec->action,
	        &rec->agreement,         &rec->agreement_type,    &rec->conversation_id,
	        &rec->message_id,        &rec->ref_to_message_id, &rec->mpc,
	        &rec->last_error_code,   &rec->last_error_detail, &rec->endpoint_url,
	        &rec->receiver_cert_pem, &rec->receipt_file,      &rec->raw_file,
	        &rec->sbdh_instance_id,  &rec->medcom_message_id, &rec->submitted_by,
	};
	for (size_t i = 0; i < AS4_ARRAY_LEN(strs); i++) {
		free(*strs[i]);
	}
	for (size_t i = 0; rec->payloads != NULL && i < rec->n_payloads; i++) {
		struct as4_store_payload *p = &rec->payloads[i];
		free(p->content_id);
		free(p->mime_type);
		free(p->charset);
		free(p->file);
		props_free(p->props, p->n_props);
	}
	free(rec->payloads);
	for (size_t i = 0; rec->signed_refs != NULL && i < rec->n_signed_refs; i++) {
		free(rec->signed_refs[i].uri);
		free(rec->signed_refs[i].digest_method);
		free(rec->signed_refs[i].digest_value);
	}
	free(rec->signed_refs);
	props_free(rec->props, rec->n_props);
	free(rec->receipt_info.message_id);
	free(rec->receipt_info.ref_to_message_id);
	as4_msgrec_init(rec);
}

void as4_msgrec_array_free(struct as4_msgrec *recs, size_t n)
{
	for (size_t i = 0; recs != NULL && i < n; i++) {
		as4_msgrec_cleanup(&recs[i]);
	}
	free(recs);
}

bool store_str_set(char **dst, const char *src)
{
	free(*dst);
	*dst = NULL;
	if (src == NULL) {
		return true;
	}
	*dst = as4_str_dup(src);
	return *dst != NULL;
}

const char *as4_msgrec_peer_key(const struct as4_msgrec *rec)
{
	if (rec->endpoint_url != NULL && rec->endpoint_url[0] != '\0') {
		return rec->endpoint_url;
	}
	if (rec->to.value != NULL) {
		return rec->to.value;
	}
	return "";
}

bool store_gln_of(const char *v, char out[14])
{
	if (v == NULL) {
		return false;
	}
	if (as4_str_starts(v, "0088:")) {
		v += 5;
	}
	if (strlen(v) != 13) {
		return false;
	}
	for (size_t i = 0; i < 13; i++) {
		if (v[i] < '0' || v[i] > '9') {
			return false;
		}
	}
	memcpy(out, v, 13);
	out[13] = '\0';
	return true;
}

/* ---- Codec ---- */

/* Record field tags. Stored on disk: never renumber, only append. */
enum {
	T_ID = 1,
	T_DIR,
	T_STATE,
	T_PMODE,
	T_FROM_TYPE,
	T_FROM_VALUE,
	T_FROM_ROLE,
	T_TO_TYPE,
	T_TO_VALUE,
	T_TO_ROLE,
	T_ORIG_SENDER,
	T_FINAL_RECIPIENT,
	T_SERVICE,
	T_SERVICE_TYPE,
	T_ACTION,
	T_AGREEMENT,
	T_AGREEMENT_TYPE,
	T_CONVERSATION,
	T_MESSAGE_ID,
	T_REF_TO,
	T_MPC,
	T_CREATED,
	T_UPDATED,
	T_EBMS_TS,
	T_ATTEMPTS,
	T_NEXT_DUE,
	T_ERR_CODE,
	T_ERR_DETAIL,
	T_ENDPOINT,
	T_RECEIVER_CERT,
	T_PAYLOAD,
	T_SIGREF,
	T_RECEIPT_FILE,
	T_RAW_FILE,
	T_PROP,
	T_SBDH,
	T_MEDCOM,
	T_ACKED,
	T_PURGED,
	T_N_EVENTS,
	T_QUEUED,
	T_RECEIPT_INFO, /* group of R_* fields, present when receipt_info.known */
	T_SUBMITTED_BY, /* API token that submitted an outbound message; absent in older records */
};

/* Payload (nested) tags. */
enum { P_CID = 1, P_MIME, P_CHARSET, P_COMPRESSED, P_PROP, P_SIZE, P_SHA256, P_FILE };
/* Property / signed reference / event / audit tags. */
enum { Q_NAME = 1, Q_TYPE, Q_VALUE };
enum { S_URI = 1, S_METHOD, S_DIGEST };
enum { R_READABLE = 1, R_KIND, R_MESSAGE_ID, R_REF_TO, R_TIMESTAMP, R_SECURITY, R_NRI };
enum { E_TIME = 1, E_FROM, E_TO, E_REASON, E_CODE, E_DETAIL };
enum { A_SEQ = 1, A_TIME, A_WHO, A_WHAT, A_TARGET, A_DETAIL };

/* LEB128 of v into tmp; returns the byte count (1..10). */
static size_t varint_enc(uint64_t v, uint8_t tmp[10])
{
	size_t n = 0;
	do {
		uint8_t c = (uint8_t)(v & 0x7fu);
		v >>= 7;
		tmp[n++] = (uint8_t)(c | (v != 0 ? 0x80u : 0u));
	} while (v != 0);
	return n;
}

static as4_err put_varint(struct as4_buf *b, uint64_t v)
{
	uint8_t tmp[10];
	return as4_buf_append(b, tmp, varint_enc(v, tmp));
}

static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1u);
}

static as4_err put_bytes(struct as4_buf *b, unsigned tag, const void *p, size_t n)
{
	as4_err err = put_varint(b, tag);
	if (err == AS4_OK) {
		err = put_varint(b, n);
	}
	if (err == AS4_OK) {
		err = as4_buf_append(b, p, n);
	}
	return err;
}

static as4_err put_str(struct as4_buf *b, unsigned tag, const char *s)
{
	if (s == NULL) {
		return AS4_OK;
	}
	return put_bytes(b, tag, s, strlen(s));
}

/* A number field; zero (every number's default) is not written at all. */
static as4_err put_u64(struct as4_buf *b, unsigned tag, uint64_t v)
{
	if (v == 0) {
		return AS4_OK;
	}
	uint8_t tmp[10];
	return put_bytes(b, tag, tmp, varint_enc(v, tmp));
}

static as4_err put_i64(struct as4_buf *b, unsigned tag, int64_t v)
{
	return put_u64(b, tag, zigzag(v));
}

/* A nested group: encoded into a scratch buffer, then appended as one field. */
static as4_err put_group(struct as4_buf *b, unsigned tag, const struct as4_buf *inner)
{
	return put_bytes(b, tag, inner->data, inner->len);
}

static as4_err enc_props(struct as4_buf *b, unsigned tag, const struct as4_store_prop *p, size_t n)
{
	as4_err err = AS4_OK;
	struct as4_buf in;
	as4_buf_init(&in, SIZE_MAX / 2);
	for (size_t i = 0; i < n && err == AS4_OK; i++) {
		as4_buf_reset(&in);
		err = put_str(&in, Q_NAME, p[i].name);
		if (err == AS4_OK) {
			err = put_str(&in, Q_TYPE, p[i].type);
		}
		if (err == AS4_OK) {
			err = put_str(&in, Q_VALUE, p[i].value);
		}
		if (err == AS4_OK) {
			err = put_group(b, tag, &in);
		}
	}
	as4_buf_cleanup(&in);
	return err;
}

static as4_err enc_payload(struct as4_buf *b, const struct as4_store_payload *p)
{
	struct as4_buf in;
	as4_buf_init(&in, SIZE_MAX / 2);
	as4_err err = put_str(&in, P_CID, p->content_id);
	if (err == AS4_OK) {
		err = put_str(&in, P_MIME, p->mime_type);
	}
	if (err == AS4_OK) {
		err = put_str(&in, P_CHARSET, p->charset);
	}
	if (err == AS4_OK) {
		err = put_u64(&in, P_COMPRESSED, p->compressed ? 1u : 0u);
	}
	if (err == AS4_OK) {
		err = enc_props(&in, P_PROP, p->props, p->n_props);
	}
	if (err == AS4_OK) {
		err = put_u64(&in, P_SIZE, p->size);
	}
	if (err == AS4_OK) {
		err = put_bytes(&in, P_SHA256, p->sha256, sizeof(p->sha256));
	}
	if (err == AS4_OK) {
		err = put_str(&in, P_FILE, p->file);
	}
	if (err == AS4_OK) {
		err = put_group(b, T_PAYLOAD, &in);
	}
	as4_buf_cleanup(&in);
	return err;
}

static as4_err enc_receipt_info(struct as4_buf *b, const struct as4_store_receipt_info *ri)
{
	as4_err err = put_u64(b, R_READABLE, ri->readable ? 1u : 0u);
	if (err == AS4_OK && ri->readable) {
		err = put_u64(b, R_KIND, (uint64_t)ri->kind);
		if (err == AS4_OK) {
			err = put_str(b, R_MESSAGE_ID, ri->message_id);
		}
		if (err == AS4_OK) {
			err = put_str(b, R_REF_TO, ri->ref_to_message_id);
		}
		if (err == AS4_OK) {
			err = put_u64(b, R_TIMESTAMP, zigzag(ri->timestamp_ms));
		}
		if (err == AS4_OK) {
			err = put_u64(b, R_SECURITY, ri->has_security ? 1u : 0u);
		}
		if (err == AS4_OK) {
			err = put_u64(b, R_NRI, ri->n_nri);
		}
	}
	return err;
}

as4_err store_rec_encode(const struct as4_msgrec *r, struct as4_buf *b)
{
	const uint8_t head[2] = {REC_MAGIC, REC_VERSION};
	as4_err err = as4_buf_append(b, head, sizeof(head));
	struct {
		unsigned tag;
		const char *s;
	} strs[] = {
	        {T_PMODE, r->pmode_id},
	        {T_FROM_TYPE, r->from.type},
	        {T_FROM_VALUE, r->from.value},
	        {T_FROM_ROLE, r->from_role},
	        {T_TO_TYPE, r->to.type},
	        {T_TO_VALUE, r->to.value},
	        {T_TO_ROLE, r->to_role},
	        {T_ORIG_SENDER, r->original_sender},
	        {T_FINAL_RECIPIENT, r->final_recipient},
	        {T_SERVICE, r->service},
	        {T_SERVICE_TYPE, r->service_type},
	        {T_ACTION, r->action},
	        {T_AGREEMENT, r->agreement},
	        {T_AGREEMENT_TYPE, r->agreement_type},
	        {T_CONVERSATION, r->conversation_id},
	        {T_MESSAGE_ID, r->message_id},
	        {T_REF_TO, r->ref_to_message_id},
	        {T_MPC, r->mpc},
	        {T_ERR_CODE, r->last_error_code},
	        {T_ERR_DETAIL, r->last_error_detail},
	        {T_ENDPOINT, r->endpoint_url},
	        {T_RECEIVER_CERT, r->receiver_cert_pem},
	        {T_RECEIPT_FILE, r->receipt_file},
	        {T_RAW_FILE, r->raw_file},
	        {T_SBDH, r->sbdh_instance_id},
	        {T_MEDCOM, r->medcom_message_id},
	        {T_SUBMITTED_BY, r->submitted_by},
	};
	struct {
		unsigned tag;
		uint64_t v;
	} nums[] = {
	        {T_ID, r->id},
	        {T_DIR, (uint64_t)r->dir},
	        {T_STATE, (uint64_t)r->state},
	        {T_CREATED, zigzag(r->created_ms)},
	        {T_UPDATED, zigzag(r->updated_ms)},
	        {T_EBMS_TS, zigzag(r->ebms_timestamp_ms)},
	        {T_ATTEMPTS, r->attempts},
	        {T_NEXT_DUE, zigzag(r->next_due_ms)},
	        {T_ACKED, r->acked ? 1u : 0u},
	        {T_PURGED, zigzag(r->purged_ms)},
	        {T_N_EVENTS, r->n_events},
	        {T_QUEUED, zigzag(r->queued_ms)},
	};
	for (size_t i = 0; i < AS4_ARRAY_LEN(nums) && err == AS4_OK; i++) {
		err = put_u64(b, nums[i].tag, nums[i].v);
	}
	for (size_t i = 0; i < AS4_ARRAY_LEN(strs) && err == AS4_OK; i++) {
		err = put_str(b, strs[i].tag, strs[i].s);
	}
	for (size_t i = 0; i < r->n_payloads && err == AS4_OK; i++) {
		err = enc_payload(b, &r->payloads[i]);
	}
	struct as4_buf in;
	as4_buf_init(&in, SIZE_MAX / 2);
	for (size_t i = 0; i < r->n_signed_refs && err == AS4_OK; i++) {
		as4_buf_reset(&in);
		err = put_str(&in, S_URI, r->signed_refs[i].uri);
		if (err == AS4_OK) {
			err = put_str(&in, S_METHOD, r->signed_refs[i].digest_method);
		}
		if (err == AS4_OK) {
			err = put_str(&in, S_DIGEST, r->signed_refs[i].digest_value);
		}
		if (err == AS4_OK) {
			err = put_group(b, T_SIGREF, &in);
		}
	}
	if (err == AS4_OK && r->receipt_info.known) {
		as4_buf_reset(&in);
		err = enc_receipt_info(&in, &r->receipt_info);
		if (err == AS4_OK) {
			err = put_group(b, T_RECEIPT_INFO, &in);
		}
	}
	as4_buf_cleanup(&in);
	if (err == AS4_OK) {
		err = enc_props(b, T_PROP, r->props, r->n_props);
	}
	return err;
}

/* A bounded reader over one encoded value. */
struct rd {
	const uint8_t *p;
	size_t n;
};

static bool get_varint(struct rd *r, uint64_t *v)
{
	uint64_t out = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (r->n == 0) {
			return false;
		}
		uint8_t c = *r->p++;
		r->n--;
		if (shift == 63 && (c & 0x7eu) != 0) {
			return false;
		}
		out |= (uint64_t)(c & 0x7fu) << shift;
		if ((c & 0x80u) == 0) {
			*v = out;
			return true;
		}
	}
	return false;
}

/* Next field: tag and a sub-reader over its bytes. false at a clean end; *bad on damage. */
static bool next_field(struct rd *r, unsigned *tag, struct rd *val, bool *bad)
{
	uint64_t t, len;
	if (r->n == 0) {
		return false;
	}
	if (!get_varint(r, &t) || !get_varint(r, &len) || len > r->n || t == 0 || t > 0xffffu) {
		*bad = true;
		return false;
	}
	*tag = (unsigned)t;
	val->p = r->p;
	val->n = (size_t)len;
	r->p += len;
	r->n -= (size_t)len;
	return true;
}

static bool val_u64(const struct rd *v, uint64_t *out)
{
	struct rd c = *v;
	return get_varint(&c, out) && c.n == 0;
}

/* A string field: no NUL inside, at most STORE_STR_MAX bytes; duplicates are damage. */
static bool val_str(const struct rd *v, char **out, bool *nomem)
{
	if (*out != NULL || v->n > STORE_STR_MAX || memchr(v->p, 0, v->n) != NULL) {
		return false;
	}
	*out = as4_str_ndup((const char *)v->p, v->n);
	if (*out == NULL) {
		*nomem = true;
		return false;
	}
	return true;
}

/* Grow an array by one zeroed element (capacity doubles). */
static void *grow(void *arr, size_t n, size_t size, bool *nomem)
{
	if (n >= STORE_LIST_MAX) {
		return NULL;
	}
	if ((n & (n - 1)) == 0) {
		size_t cap = n == 0 ? 1 : n * 2;
		void *q = realloc(arr, cap * size);
		if (q == NULL) {
			*nomem = true;
			return NULL;
		}
		arr = q;
	}
	memset((uint8_t *)arr + n * size, 0, size);
	return arr;
}

static bool dec_prop(const struct rd *v, struct as4_store_prop *p, bool *nomem)
{
	struct rd r = *v, f;
	unsigned tag;
	bool bad = false;
	while (next_field(&r, &tag, &f, &bad)) {
		bool ok = true;
		switch (tag) {
		case Q_NAME:
			ok = val_str(&f, &p->name, nomem);
			break;
		case Q_TYPE:
			ok = val_str(&f, &p->type, nomem);
			break;
		case Q_VALUE:
			ok = val_str(&f, &p->value, nomem);
			break;
		default:
			break;
		}
		if (!ok) {
			return false;
		}
	}
	return !bad;
}

static bool dec_payload(const struct rd *v, struct as4_store_payload *p, bool *nomem)
{
	struct rd r = *v, f;
	unsigned tag;
	bool bad = false;
	uint64_t u;
	while (next_field(&r, &tag, &f, &bad)) {
		bool ok = true;
		switch (tag) {
		case P_CID:
			ok = val_str(&f, &p->content_id, nomem);
			break;
		case P_MIME:
			ok = val_str(&f, &p->mime_type, nomem);
			break;
		case P_CHARSET:
			ok = val_str(&f, &p->charset, nomem);
			break;
		case P_COMPRESSED:
			ok = val_u64(&f, &u) && u <= 1;
			p->compressed = u == 1;
			break;
		case P_PROP: {
			void *q = grow(p->props, p->n_props, sizeof(*p->props), nomem);
			ok = q != NULL;
			if (ok) {
				p->props = q;
				ok = dec_prop(&f, &p->props[p->n_props++], nomem);
			}
			break;
		}
		case P_SIZE:
			ok = val_u64(&f, &p->size);
			break;
		case P_SHA256:
			ok = f.n == sizeof(p->sha256);
			if (ok) {
				memcpy(p->sha256, f.p, f.n);
			}
			break;
		case P_FILE:
			ok = val_str(&f, &p->file, nomem);
			break;
		default:
			break;
		}
		if (!ok) {
			return false;
		}
	}
	return !bad;
}

static bool dec_sigref(const struct rd *v, struct as4_store_sigref *s, bool *nomem)
{
	struct rd r = *v, f;
	unsigned tag;
	bool bad = false;
	while (next_field(&r, &tag, &f, &bad)) {
		bool ok = true;
		switch (tag) {
		case S_URI:
			ok = val_str(&f, &s->uri, nomem);
			break;
		case S_METHOD:
			ok = val_str(&f, &s->digest_method, nomem);
			break;
		case S_DIGEST:
			ok = val_str(&f, &s->digest_value, nomem);
			break;
		default:
			break;
		}
		if (!ok) {
			return false;
		}
	}
	return !bad;
}

static bool dec_receipt_info(const struct rd *v, struct as4_store_receipt_info *ri, bool *nomem)
{
	struct rd r = *v, f;
	unsigned tag;
	bool bad = false;
	uint64_t u = 0;
	if (ri->known) {
		return false; /* twice */
	}
	ri->known = true;
	while (next_field(&r, &tag, &f, &bad)) {
		bool ok = true;
		switch (tag) {
		case R_READABLE:
			ok = val_u64(&f, &u) && u <= 1;
			ri->readable = u == 1;
			break;
		case R_KIND:
			ok = val_u64(&f, &u) && u <= AS4_STORE_SIGNAL_ERROR;
			ri->kind = (enum as4_store_signal_kind)u;
			break;
		case R_MESSAGE_ID:
			ok = val_str(&f, &ri->message_id, nomem);
			break;
		case R_REF_TO:
			ok = val_str(&f, &ri->ref_to_message_id, nomem);
			break;
		case R_TIMESTAMP:
			ok = val_u64(&f, &u);
			ri->timestamp_ms = unzigzag(u);
			break;
		case R_SECURITY:
			ok = val_u64(&f, &u) && u <= 1;
			ri->has_security = u == 1;
			break;
		case R_NRI:
			ok = val_u64(&f, &u) && u <= UINT32_MAX;
			ri->n_nri = (uint32_t)u;
			break;
		default:
			break;
		}
		if (!ok) {
			return false;
		}
	}
	return !bad;
}

/* The string field a record tag fills, or NULL for non-string tags. */
static char **rec_str_field(struct as4_msgrec *r, unsigned tag)
{
	switch (tag) {
	case T_PMODE:
		return &r->pmode_id;
	case T_FROM_TYPE:
		return &r->from.type;
	case T_FROM_VALUE:
		return &r->from.value;
	case T_FROM_ROLE:
		return &r->from_role;
	case T_TO_TYPE:
		return &r->to.type;
	case T_TO_VALUE:
		return &r->to.value;
	case T_TO_ROLE:
		return &r->to_role;
	case T_ORIG_SENDER:
		return &r->original_sender;
	case T_FINAL_RECIPIENT:
		return &r->final_recipient;
	case T_SERVICE:
		return &r->service;
	case T_SERVICE_TYPE:
		return &r->service_type;
	case T_ACTION:
		return &r->action;
	case T_AGREEMENT:
		return &r->agreement;
	case T_AGREEMENT_TYPE:
		return &r->agreement_type;
	case T_CONVERSATION:
		return &r->conversation_id;
	case T_MESSAGE_ID:
		return &r->message_id;
	case T_REF_TO:
		return &r->ref_to_message_id;
	case T_MPC:
		return &r->mpc;
	case T_ERR_CODE:
		return &r->last_error_code;
	case T_ERR_DETAIL:
		return &r->last_error_detail;
	case T_ENDPOINT:
		return &r->endpoint_url;
	case T_RECEIVER_CERT:
		return &r->receiver_cert_pem;
	case T_RECEIPT_FILE:
		return &r->receipt_file;
	case T_RAW_FILE:
		return &r->raw_file;
	case T_SBDH:
		return &r->sbdh_instance_id;
	case T_MEDCOM:
		return &r->medcom_message_id;
	case T_SUBMITTED_BY:
		return &r->submitted_by;
	default:
		return NULL;
	}
}

static bool dec_rec_num(struct as4_msgrec *r, unsigned tag, uint64_t u)
{
	switch (tag) {
	case T_ID:
		r->id = u;
		return true;
	case T_DIR:
		r->dir = (enum as4_dir)u;
		return u == AS4_DIR_IN || u == AS4_DIR_OUT;
	case T_STATE:
		r->state = (enum as4_msg_state)u;
		return u > AS4_ST_NONE && u < AS4_ST__COUNT;
	case T_CREATED:
		r->created_ms = unzigzag(u);
		return true;
	case T_UPDATED:
		r->updated_ms = unzigzag(u);
		return true;
	case T_EBMS_TS:
		r->ebms_timestamp_ms = unzigzag(u);
		return true;
	case T_ATTEMPTS:
		r->attempts = (uint32_t)u;
		return u <= UINT32_MAX;
	case T_NEXT_DUE:
		r->next_due_ms = unzigzag(u);
		return true;
	case T_ACKED:
		r->acked = u == 1;
		return u <= 1;
	case T_PURGED:
		r->purged_ms = unzigzag(u);
		return true;
	case T_N_EVENTS:
		r->n_events = (uint32_t)u;
		return u <= UINT32_MAX;
	case T_QUEUED:
		r->queued_ms = unzigzag(u);
		return true;
	default:
		return true;
	}
}

as4_err store_rec_decode(const uint8_t *p, size_t n, struct as4_msgrec *r)
{
	as4_msgrec_init(r);
	if (n < 2 || p[0] != REC_MAGIC || p[1] == 0 || p[1] > REC_VERSION) {
		return AS4_E_CORRUPT;
	}
	struct rd rd = {p + 2, n - 2}, f;
	unsigned tag;
	bool bad = false, nomem = false;
	while (!bad && next_field(&rd, &tag, &f, &bad)) {
		char **sf = rec_str_field(r, tag);
		uint64_t u = 0;
		bool ok = true;
		if (sf != NULL) {
			ok = val_str(&f, sf, &nomem);
		} else if (tag == T_PAYLOAD) {
			void *q = grow(r->payloads, r->n_payloads, sizeof(*r->payloads), &nomem);
			ok = q != NULL;
			if (ok) {
				r->payloads = q;
				ok = dec_payload(&f, &r->payloads[r->n_payloads++], &nomem);
			}
		} else if (tag == T_SIGREF) {
			void *q = grow(r->signed_refs, r->n_signed_refs, sizeof(*r->signed_refs),
			               &nomem);
			ok = q != NULL;
			if (ok) {
				r->signed_refs = q;
				ok = dec_sigref(&f, &r->signed_refs[r->n_signed_refs++], &nomem);
			}
		} else if (tag == T_PROP) {
			void *q = grow(r->props, r->n_props, sizeof(*r->props), &nomem);
			ok = q != NULL;
			if (ok) {
				r->props = q;
				ok = dec_prop(&f, &r->props[r->n_props++], &nomem);
			}
		} else if (tag == T_RECEIPT_INFO) {
			ok = dec_receipt_info(&f, &r->receipt_info, &nomem);
		} else if (tag <= T_QUEUED) {
			ok = val_u64(&f, &u) && dec_rec_num(r, tag, u);
		}
		if (!ok) {
			bad = true;
		}
	}
	if (!bad && (r->dir == AS4_DIR_NONE || r->state == AS4_ST_NONE || r->message_id == NULL ||
	             as4_msg_state_dir(r->state) != r->dir)) {
		bad = true;
	}
	if (bad || nomem) {
		as4_msgrec_cleanup(r);
		return nomem ? AS4_E_NOMEM : AS4_E_CORRUPT;
	}
	return AS4_OK;
}

as4_err store_ev_encode(const struct as4_store_event *ev, struct as4_buf *b)
{
	const uint8_t head[2] = {EV_MAGIC, REC_VERSION};
	as4_err err = as4_buf_append(b, head, sizeof(head));
	if (err == AS4_OK) {
		err = put_i64(b, E_TIME, ev->time_ms);
	}
	if (err == AS4_OK) {
		err = put_u64(b, E_FROM, (uint64_t)ev->from_state);
	}
	if (err == AS4_OK) {
		err = put_u64(b, E_TO, (uint64_t)ev->to_state);
	}
	if (err == AS4_OK) {
		err = put_str(b, E_REASON, ev->reason);
	}
	if (err == AS4_OK) {
		err = put_str(b, E_CODE, ev->ebms_code);
	}
	if (err == AS4_OK) {
		err = put_str(b, E_DETAIL, ev->detail);
	}
	return err;
}

void store_event_cleanup(struct as4_store_event *ev)
{
	free(ev->reason);
	free(ev->ebms_code);
	free(ev->detail);
	memset(ev, 0, sizeof(*ev));
}

as4_err store_ev_decode(const uint8_t *p, size_t n, struct as4_store_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	if (n < 2 || p[0] != EV_MAGIC || p[1] == 0 || p[1] > REC_VERSION) {
		return AS4_E_CORRUPT;
	}
	struct rd rd = {p + 2, n - 2}, f;
	unsigned tag;
	bool bad = false, nomem = false;
	while (!bad && next_field(&rd, &tag, &f, &bad)) {
		uint64_t u = 0;
		bool ok = true;
		switch (tag) {
		case E_TIME:
			ok = val_u64(&f, &u);
			ev->time_ms = unzigzag(u);
			break;
		case E_FROM:
			ok = val_u64(&f, &u) && u < AS4_ST__COUNT;
			ev->from_state = (enum as4_msg_state)u;
			break;
		case E_TO:
			ok = val_u64(&f, &u) && u < AS4_ST__COUNT;
			ev->to_state = (enum as4_msg_state)u;
			break;
		case E_REASON:
			ok = val_str(&f, &ev->reason, &nomem);
			break;
		case E_CODE:
			ok = val_str(&f, &ev->ebms_code, &nomem);
			break;
		case E_DETAIL:
			ok = val_str(&f, &ev->detail, &nomem);
			break;
		default:
			break;
		}
		bad = bad || !ok;
	}
	if (!bad && ev->reason == NULL) {
		bad = true;
	}
	if (bad || nomem) {
		store_event_cleanup(ev);
		return nomem ? AS4_E_NOMEM : AS4_E_CORRUPT;
	}
	return AS4_OK;
}

as4_err store_aud_encode(const struct as4_store_audit *a, struct as4_buf *b)
{
	const uint8_t head[2] = {AUD_MAGIC, REC_VERSION};
	as4_err err = as4_buf_append(b, head, sizeof(head));
	if (err == AS4_OK) {
		err = put_u64(b, A_SEQ, a->seq);
	}
	if (err == AS4_OK) {
		err = put_i64(b, A_TIME, a->time_ms);
	}
	if (err == AS4_OK) {
		err = put_str(b, A_WHO, a->who);
	}
	if (err == AS4_OK) {
		err = put_str(b, A_WHAT, a->what);
	}
	if (err == AS4_OK) {
		err = put_str(b, A_TARGET, a->target);
	}
	if (err == AS4_OK) {
		err = put_str(b, A_DETAIL, a->detail);
	}
	return err;
}

void store_audit_cleanup(struct as4_store_audit *a)
{
	free(a->who);
	free(a->what);
	free(a->target);
	free(a->detail);
	memset(a, 0, sizeof(*a));
}

as4_err store_aud_decode(const uint8_t *p, size_t n, struct as4_store_audit *a)
{
	memset(a, 0, sizeof(*a));
	if (n < 2 || p[0] != AUD_MAGIC || p[1] == 0 || p[1] > REC_VERSION) {
		return AS4_E_CORRUPT;
	}
	struct rd rd = {p + 2, n - 2}, f;
	unsigned tag;
	bool bad = false, nomem = false;
	while (!bad && next_field(&rd, &tag, &f, &bad)) {
		uint64_t u = 0;
		bool ok = true;
		switch (tag) {
		case A_SEQ:
			ok = val_u64(&f, &a->seq);
			break;
		case A_TIME:
			ok = val_u64(&f, &u);
			a->time_ms = unzigzag(u);
			break;
		case A_WHO:
			ok = val_str(&f, &a->who, &nomem);
			break;
		case A_WHAT:
			ok = val_str(&f, &a->what, &nomem);
			break;
		case A_TARGET:
			ok = val_str(&f, &a->target, &nomem);
			break;
		case A_DETAIL:
			ok = val_str(&f, &a->detail, &nomem);
			break;
		default:
			break;
		}
		bad = bad || !ok;
	}
	if (!bad && (a->who == NULL || a->what == NULL)) {
		bad = true;
	}
	if (bad || nomem) {
		store_audit_cleanup(a);
		return nomem ? AS4_E_NOMEM : AS4_E_CORRUPT;
	}
	return AS4_OK;
}

/* ---- Validation of what callers hand in ---- */

static as4_err check_str(const char *s, const char *field, size_t max, struct as4_diag *d)
{
	if (s != NULL && strlen(s) > max) {
		return as4_diag_set_field(d, AS4_E_LIMIT, field,
		                          "store: %s is longer than %zu bytes", field, max);
	}
	return AS4_OK;
}

as4_err store_rinfo_validate(const struct as4_store_receipt_info *ri, struct as4_diag *d)
{
	if (ri == NULL || !ri->known) {
		return AS4_OK;
	}
	if ((unsigned)ri->kind > AS4_STORE_SIGNAL_ERROR) {
		return as4_diag_set_field(d, AS4_E_INVAL, "receipt_info",
		                          "store: unknown signal kind %u", (unsigned)ri->kind);
	}
	as4_err err = check_str(ri->message_id, "receipt_info.message_id", STORE_STR_MAX, d);
	if (err == AS4_OK) {
		err = check_str(ri->ref_to_message_id, "receipt_info.ref_to_message_id",
		                STORE_STR_MAX, d);
	}
	return err;
}

static as4_err check_props(const struct as4_store_prop *p, size_t n, const char *field,
                           struct as4_diag *d)
{
	if (n > STORE_LIST_MAX) {
		return as4_diag_set_field(d, AS4_E_LIMIT, field, "store: more than %u %s",
		                          STORE_LIST_MAX, field);
	}
	if (n > 0 && p == NULL) {
		return as4_diag_set_field(d, AS4_E_INVAL, field, "store: %s missing", field);
	}
	for (size_t i = 0; i < n; i++) {
		as4_err err = check_str(p[i].name, "property name", STORE_STR_MAX, d);
		if (err == AS4_OK) {
			err = check_str(p[i].type, "property type", STORE_STR_MAX, d);
		}
		if (err == AS4_OK) {
			err = check_str(p[i].value, "property value", STORE_STR_MAX, d);
		}
		if (err != AS4_OK) {
			return err;
		}
	}
	return AS4_OK;
}

as4_err store_rec_validate(const struct as4_msgrec *r, struct as4_diag *d)
{
	if (r->message_id == NULL || r->message_id[0] == '\0') {
		return as4_diag_set_field(d, AS4_E_INVAL, "message_id",
		                          "store: message_id missing");
	}
	const struct {
		const char *s;
		const char *name;
	} strs[] = {
	        {r->pmode_id, "pmode_id"},
	        {r->from.type, "from.type"},
	        {r->from.value, "from.value"},
	        {r->from_role, "from_role"},
	        {r->to.type, "to.type"},
	        {r->to.value, "to.value"},
	        {r->to_role, "to_role"},
	        {r->original_sender, "original_sender"},
	        {r->final_recipient, "final_recipient"},
	        {r->service, "service"},
	        {r->service_type, "service_type"},
	        {r->action, "action"},
	        {r->agreement, "agreement"},
	        {r->agreement_type, "agreement_type"},
	        {r->conversation_id, "conversation_id"},
	        {r->message_id, "message_id"},
	        {r->ref_to_message_id, "ref_to_message_id"},
	        {r->mpc, "mpc"},
	        {r->endpoint_url, "endpoint_url"},
	        {r->receiver_cert_pem, "receiver_cert_pem"},
	        {r->sbdh_instance_id, "sbdh_instance_id"},
	        {r->medcom_message_id, "medcom_message_id"},
	        {r->submitted_by, "submitted_by"},
	};
	for (size_t i = 0; i < AS4_ARRAY_LEN(strs); i++) {
		as4_err err = check_str(strs[i].s, strs[i].name, STORE_STR_MAX, d);
		if (err != AS4_OK) {
			return err;
		}
	}
	if (strlen(as4_msgrec_peer_key(r)) > STORE_PEER_MAX) {
		return as4_diag_set_field(d, AS4_E_LIMIT, "endpoint_url",
		                          "store: peer key (endpoint or to party) over %u bytes",
		                          STORE_PEER_MAX);
	}
	as4_err err = check_props(r->props, r->n_props, "properties", d);
	if (err != AS4_OK) {
		return err;
	}
	if (r->n_payloads > STORE_LIST_MAX || (r->n_payloads > 0 && r->payloads == NULL)) {
		return as4_diag_set_field(d, AS4_E_LIMIT, "payloads", "store: %zu payloads",
		                          r->n_payloads);
	}
	for (size_t i = 0; i < r->n_payloads; i++) {
		const struct as4_store_payload *p = &r->payloads[i];
		err = check_str(p->content_id, "payload content_id", STORE_STR_MAX, d);
		if (err == AS4_OK) {
			err = check_str(p->mime_type, "payload mime_type", STORE_STR_MAX, d);
		}
		if (err == AS4_OK) {
			err = check_str(p->charset, "payload charset", STORE_STR_MAX, d);
		}
		if (err == AS4_OK) {
			err = check_props(p->props, p->n_props, "part properties", d);
		}
		if (err != AS4_OK) {
			as4_diag_prefix(d, "payload %zu: ", i);
			return err;
		}
	}
	if (r->n_signed_refs > STORE_LIST_MAX || (r->n_signed_refs > 0 && r->signed_refs == NULL)) {
		return as4_diag_set_field(d, AS4_E_LIMIT, "signed_refs",
		                          "store: %zu signed references", r->n_signed_refs);
	}
	for (size_t i = 0; i < r->n_signed_refs; i++) {
		const struct as4_store_sigref *s = &r->signed_refs[i];
		err = check_str(s->uri, "signed reference uri", STORE_STR_MAX, d);
		if (err == AS4_OK) {
			err = check_str(s->digest_method, "signed reference method", STORE_STR_MAX,
			                d);
		}
		if (err == AS4_OK) {
			err = check_str(s->digest_value, "signed reference digest", STORE_STR_MAX,
			                d);
		}
		if (err != AS4_OK) {
			return err;
		}
	}
	return AS4_OK;
}

/* ---- Deep copy ---- */

bool store_rinfo_copy(struct as4_store_receipt_info *dst, const struct as4_store_receipt_info *src)
{
	free(dst->message_id);
	free(dst->ref_to_message_id);
	memset(dst, 0, sizeof(*dst));
	if (src == NULL || !src->known) {
		return true;
	}
	*dst = *src;
	dst->message_id = dst->ref_to_message_id = NULL;
	if (!store_str_set(&dst->message_id, src->message_id) ||
	    !store_str_set(&dst->ref_to_message_id, src->ref_to_message_id)) {
		free(dst->message_id);
		memset(dst, 0, sizeof(*dst));
		return false;
	}
	return true;
}

static bool copy_props(struct as4_store_prop **dst, size_t *dn, const struct as4_store_prop *src,
                       size_t n)
{
	*dst = NULL;
	*dn = 0;
	if (n == 0) {
		return true;
	}
	*dst = calloc(n, sizeof(**dst));
	if (*dst == NULL) {
		return false;
	}
	*dn = n;
	for (size_t i = 0; i < n; i++) {
		if (!store_str_set(&(*dst)[i].name, src[i].name) ||
		    !store_str_set(&(*dst)[i].type, src[i].type) ||
		    !store_str_set(&(*dst)[i].value, src[i].value)) {
			return false;
		}
	}
	return true;
}

as4_err as4_msgrec_copy(struct as4_msgrec *dst, const struct as4_msgrec *src)
{
	*dst = *src;
	dst->payloads = NULL;
	dst->signed_refs = NULL;
	dst->props = NULL;
	dst->n_payloads = dst->n_signed_refs = dst->n_props = 0;
	dst->receipt_info.message_id = dst->receipt_info.ref_to_message_id = NULL;
	char **fields[] = {
	        &dst->pmode_id,          &dst->from.type,         &dst->from.value,
	        &dst->from_role,         &dst->to.type,           &dst->to.value,
	        &dst->to_role,           &dst->original_sender,   &dst->final_recipient,
	        &dst->service,           &dst->service_type,      &dst->action,
	        &dst->agreement,         &dst->agreement_type,    &dst->conversation_id,
	        &dst->message_id,        &dst->ref_to_message_id, &dst->mpc,
	        &dst->last_error_code,   &dst->last_error_detail, &dst->endpoint_url,
	        &dst->receiver_cert_pem, &dst->receipt_file,      &dst->raw_file,
	        &dst->sbdh_instance_id,  &dst->medcom_message_id, &dst->submitted_by,
	};
	/* dst's string pointers still alias src's: clear them all before copying any. */
	const char *orig[AS4_ARRAY_LEN(fields)];
	for (size_t i = 0; i < AS4_ARRAY_LEN(fields); i++) {
		orig[i] = *fields[i];
		*fields[i] = NULL;
	}
	bool ok = true;
	for (size_t i = 0; ok && i < AS4_ARRAY_LEN(fields); i++) {
		ok = store_str_set(fields[i], orig[i]);
	}
	if (ok) {
		ok = store_rinfo_copy(&dst->receipt_info, &src->receipt_info);
	}
	if (ok) {
		ok = copy_props(&dst->props, &dst->n_props, src->props, src->n_props);
	}
	if (ok && src->n_payloads > 0) {
		dst->payloads = calloc(src->n_payloads, sizeof(*dst->payloads));
		ok = dst->payloads != NULL;
		if (ok) {
			dst->n_payloads = src->n_payloads;
		}
		for (size_t i = 0; ok && i < src->n_payloads; i++) {
			const struct as4_store_payload *s = &src->payloads[i];
			struct as4_store_payload *p = &dst->payloads[i];
			p->compressed = s->compressed;
			p->size = s->size;
			memcpy(p->sha256, s->sha256, sizeof(p->sha256));
			ok = store_str_set(&p->content_id, s->content_id) &&
			     store_str_set(&p->mime_type, s->mime_type) &&
			     store_str_set(&p->charset, s->charset) &&
			     store_str_set(&p->file, s->file) &&
			     copy_props(&p->props, &p->n_props, s->props, s->n_props);
		}
	}
	if (ok && src->n_signed_refs > 0) {
		dst->signed_refs = calloc(src->n_signed_refs, sizeof(*dst->signed_refs));
		ok = dst->signed_refs != NULL;
		if (ok) {
			dst->n_signed_refs = src->n_signed_refs;
		}
		for (size_t i = 0; ok && i < src->n_signed_refs; i++) {
			const struct as4_store_sigref *s = &src->signed_refs[i];
			struct as4_store_sigref *q = &dst->signed_refs[i];
			ok = store_str_set(&q->uri, s->uri) &&
			     store_str_set(&q->digest_method, s->digest_method) &&
			     store_str_set(&q->digest_value, s->digest_value);
		}
	}
	if (!ok) {
		as4_msgrec_cleanup(dst);
		return AS4_E_NOMEM;
	}
	return AS4_OK;
}
