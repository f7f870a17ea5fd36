/*
 * The federation's genesis file (DESIGN 3.3): a strict JSON document naming the suite,
 * the federation, its member cities with their node keys and endpoints, and the record
 * types with their sharing classes. Every node must derive the same chain id from it.
 *
 * This module reads and validates the file, builds the canonical body (through wire/)
 * and the chain id, and writes the file back in one stable layout. It never opens
 * anything but the one file it is asked to load, never trusts a field it did not check,
 * and never accepts a document with keys it does not know.
 *
 * Ownership: struct cfg_genesis owns its member and type arrays (allocated by the
 * parse functions, freed by cfg_genesis_release). Pointers returned by the lookup
 * functions borrow from the genesis and live until cfg_genesis_release.
 */
#ifndef CFG_GENESIS_H
#define CFG_GENESIS_H

#include <stddef.h>
#include <stdint.h>

#include "cr_hash.h"
#include "tb_buf.h"
#include "tb_err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CFG_GENESIS_FILE_MAX (1024u * 1024u) /* bytes of JSON */
#define CFG_MEMBER_FILE_MAX (16u * 1024u)    /* bytes of one member descriptor */
#define CFG_GENESIS_TAG "tongban/genesis/v1"

#define CFG_MEMBERS_MAX 64
#define CFG_TYPES_MAX 256
#define CFG_CITY_MAX 16       /* bytes, [0-9A-Za-z_-] */
#define CFG_NAME_MAX 64       /* bytes of UTF-8 (member name) */
#define CFG_FEDERATION_MAX 64 /* bytes of UTF-8 (federation name) */
#define CFG_ENDPOINT_MAX 255  /* bytes, http(s)://host:port[/path] */
#define CFG_TYPE_MAX 64       /* bytes, [a-z0-9._-] */
#define CFG_NODE_KEY_MAX 65   /* SM2 uncompressed point; Ed25519 is 32 */

enum cfg_sharing {
    CFG_SHARING_OPEN = 1,    /* anyone holding a record id may verify it */
    CFG_SHARING_CONSENT = 2, /* the document leaves its city only with consent */
    CFG_SHARING_CLOSED = 3,  /* verification only, never the document */
};

struct cfg_member
{
    char city[CFG_CITY_MAX + 1];
    char name[CFG_NAME_MAX + 1];
    uint8_t node_key[CFG_NODE_KEY_MAX];
    size_t node_key_len; /* the suite's public key length */
    char endpoint[CFG_ENDPOINT_MAX + 1];
};

struct cfg_record_type
{
    char type[CFG_TYPE_MAX + 1];
    enum cfg_sharing sharing;
};

struct cfg_genesis
{
    enum cr_suite suite;
    char federation[CFG_FEDERATION_MAX + 1];
    uint64_t created_at;           /* unix seconds */
    struct cfg_member *members;    /* owned; sorted by city (bytewise), unique */
    size_t member_count;           /* 1..CFG_MEMBERS_MAX */
    struct cfg_record_type *types; /* owned; sorted by type (bytewise), unique */
    size_t type_count;             /* 1..CFG_TYPES_MAX */
};

/* "open" / "consent" / "closed"; NULL for an unknown value. */
const char *cfg_sharing_name(enum cfg_sharing sharing);

/*
 * Parses and validates genesis JSON from memory. `source_name` prefixes every error
 * ("genesis.json: members[2].node_key: expected 64 hex digits for ed25519-sha256, got
 * 63"; syntax errors carry line and column). On success `out` owns its arrays; on
 * failure `out` holds nothing to release.
 * TB_ELIMIT (larger than CFG_GENESIS_FILE_MAX), TB_EMALFORMED (JSON syntax, duplicate
 * keys), TB_ECONFIG (valid JSON, invalid genesis), TB_ENOMEM.
 */
TB_MUST_CHECK int cfg_genesis_parse(const char *text, size_t len, const char *source_name,
                                    struct cfg_genesis *out, char *errmsg);

/* Reads `path` (at most CFG_GENESIS_FILE_MAX bytes) and parses it; TB_EIO as well. */
TB_MUST_CHECK int cfg_genesis_load(const char *path, struct cfg_genesis *out, char *errmsg);

/* Frees the arrays and zeroes the struct; safe on a zeroed struct. */
void cfg_genesis_release(struct cfg_genesis *g);

/*
 * Appends the canonical genesis body (DESIGN 3.3 msgpack array) to `out`.
 * TB_ELIMIT / TB_ENOMEM from the buffer; TB_EINVAL if `g` is not a validated genesis.
 */
TB_MUST_CHECK int cfg_genesis_body(const struct cfg_genesis *g, struct tb_buf *out);

/*
 * chain_id = H("tongban/genesis/v1\0" || body) under the genesis suite.
 * TB_ENOMEM; TB_EINVAL if `g` is not a validated genesis.
 */
TB_MUST_CHECK int cfg_genesis_chain_id(const struct cfg_genesis *g, uint8_t out[CR_HASH_BYTES]);

/*
 * Appends the genesis as pretty JSON (2-space indent, fixed key order, members and
 * types in canonical order, UTF-8 kept as is, final newline) to `out`. Parsing the
 * output gives an identical struct. TB_ELIMIT / TB_ENOMEM.
 */
TB_MUST_CHECK int cfg_genesis_to_json(const struct cfg_genesis *g, struct tb_buf *out);

/* Lookups; NULL when absent. The result borrows from `g`. */
const struct cfg_member *cfg_genesis_member_by_city(const struct cfg_genesis *g, const char *city);
const struct cfg_member *cfg_genesis_member_by_key(const struct cfg_genesis *g,
                                                   const uint8_t *node_key, size_t len);
const struct cfg_record_type *cfg_genesis_type(const struct cfg_genesis *g, const char *type);

/*
 * A single member descriptor {"city", "name", "node_key", "endpoint"}: the file
 * `tongban init` writes and `tongban genesis` collects. The suite decides the key
 * length. Same error conventions as cfg_genesis_parse; the file limit is
 * CFG_MEMBER_FILE_MAX.
 */
TB_MUST_CHECK int cfg_member_parse(const char *text, size_t len, const char *source_name,
                                   enum cr_suite suite, struct cfg_member *out, char *errmsg);
TB_MUST_CHECK int cfg_member_load(const char *path, enum cr_suite suite, struct cfg_member *out,
                                  char *errmsg);

/* Appends one member descriptor as pretty JSON with a final newline. */
TB_MUST_CHECK int cfg_member_to_json(const struct cfg_member *m, struct tb_buf *out);

/*
 * Builds a genesis from parts (what `tongban genesis` does after reading member files):
 * copies, validates exactly as the parser does (uniqueness, formats), and sorts.
 * Names in errors are "members[i]" and "record_types[i]" in the order given.
 */
TB_MUST_CHECK int cfg_genesis_build(enum cr_suite suite, const char *federation,
                                    uint64_t created_at, const struct cfg_member *members,
                                    size_t member_count, const struct cfg_record_type *types,
                                    size_t type_count, struct cfg_genesis *out, char *errmsg);

#ifdef __cplusplus
}
#endif
#endif
