/*
 * node/proof_verify.c: the offline check of a proof bundle against a genesis the caller
 * trusts (proof.h gives the order of the checks and the verdicts).
 *
 * Everything is recomputed from bytes: the record id from the envelope, the block hash from
 * the header bytes, the validator set and its hash from the genesis, every precommit
 * signature over the DESIGN 3.3 vote input, the log paths up to the header's log_root, the
 * status proofs up to its state_root, and the agency's registration up to the city's node
 * key. A field of the bundle is believed only after the check that covers it.
 *
 * Must never: read a clock, a file or the network, keep state between calls, or assert on
 * anything in the bundle.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cr_sign.h"
#include "proof.h"
#include "tb_alloc.h"
#include "tb_assert.h"
#include "tb_hex.h"

#define PROOF_VALIDATORS_TAG "tongban/validators/v1" /* node/ledger.h: the set's hash */

static const char *const proof_verdict_names[PROOF_VERDICT_COUNT] = {
    [PROOF_VALID] = "valid",
    [PROOF_REVOKED] = "revoked",
    [PROOF_EXPIRED] = "expired",
    [PROOF_UNKNOWN_ISSUER] = "unknown_issuer",
    [PROOF_BAD_SIGNATURE] = "bad_signature",
    [PROOF_NOT_ON_LEDGER] = "not_on_ledger",
    [PROOF_STALE] = "stale",
    [PROOF_MALFORMED] = "malformed",
};

static const int proof_exit_statuses[PROOF_VERDICT_COUNT] = {
    [PROOF_VALID] = 0,          [PROOF_REVOKED] = 3,       [PROOF_EXPIRED] = 4,
    [PROOF_UNKNOWN_ISSUER] = 5, [PROOF_BAD_SIGNATURE] = 6, [PROOF_NOT_ON_LEDGER] = 7,
    [PROOF_STALE] = 8,          [PROOF_MALFORMED] = 9,
};

const char *proof_verdict_name(enum proof_verdict v)
{
    if ((int)v < 0 || v >= PROOF_VERDICT_COUNT)
        return "unknown";
    return proof_verdict_names[v];
}

int proof_verdict_exit_status(enum proof_verdict v)
{
    if ((int)v < 0 || v >= PROOF_VERDICT_COUNT)
        return 1;
    return proof_exit_statuses[v];
}

/* What the checks decode once and share. */
/*
 * What a genesis gives every check: the chain id, the validator set in DESIGN 4 order (by
 * key id) as indexes into g->members, its hash, and (for a kept verifier) each member's
 * parsed node key by set index (NULL: built from the public bytes at each use).
 */
struct proof_verifier
{
    const struct cfg_genesis *g;
    uint8_t chain_id[WIRE_HASH_BYTES];
    size_t order[CFG_MEMBERS_MAX];
    uint8_t ids[CFG_MEMBERS_MAX][WIRE_HASH_BYTES];
    uint8_t set_hash[WIRE_HASH_BYTES];
    struct cr_key *keys[CFG_MEMBERS_MAX];
};

struct proof_check
{
    struct proof_verifier *v;
    const struct cfg_genesis *g;
    const struct proof_bundle *b;
    const struct proof_verify_opts *opts;
    struct proof_result *r;
    struct wire_tx rec_tx, reg_tx;
    struct wire_tx_body rec, reg;
    struct wire_header h;
    struct wire_cert cert;
    struct wire_status rec_st, ag_st;
    uint8_t block_hash[WIRE_HASH_BYTES];
    uint8_t reg_id[WIRE_HASH_BYTES];
    char errmsg[TB_ERRMSG_SIZE];
};

/* ----------------------------------------------------------------- reasons */

/* Records a check that passed (kept after reasons[0], while there is room). */
static void proof_note(struct proof_result *r, const char *fmt, ...) TB_PRINTF(2, 3);
static void proof_note(struct proof_result *r, const char *fmt, ...)
{
    if (r->reason_count >= PROOF_REASONS_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reasons[r->reason_count++], PROOF_REASON_BYTES, fmt, ap);
    va_end(ap);
}

/* Decides the verdict with its reason (reasons[0]); returns true so checks can `return`. */
static bool proof_decide(struct proof_result *r, enum proof_verdict v, const char *fmt, ...)
    TB_PRINTF(3, 4);
static bool proof_decide(struct proof_result *r, enum proof_verdict v, const char *fmt, ...)
{
    va_list ap;
    r->verdict = v;
    va_start(ap, fmt);
    vsnprintf(r->reasons[0], PROOF_REASON_BYTES, fmt, ap);
    va_end(ap);
    return true;
}

static void proof_cstr(char *out, size_t size, struct tb_bytes b)
{
    size_t n = b.len < size - 1 ? b.len : size - 1;
    memcpy(out, b.ptr, n);
    out[n] = '\0';
}

static bool proof_bytes_eq(struct tb_bytes a, struct tb_bytes b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* --------------------------------------------------------- 1. malformed */

static bool proof_decode_record(struct proof_check *c)
{
    const struct proof_bundle *b = c->b;
    struct proof_facts *f = &c->r->facts;
    uint8_t id[WIRE_HASH_BYTES];
    if (wire_tx_decode(b->record.data, b->record.len, &c->rec_tx, c->errmsg) != TB_OK)
        return proof_decide(c->r, PROOF_MALFORMED, "record envelope: %s", c->errmsg);
    if (c->rec_tx.kind != WIRE_KIND_RECORD_ISSUE)
        return proof_decide(c->r, PROOF_MALFORMED, "record envelope is a %s, not a record.issue",
                            wire_kind_name(c->rec_tx.kind));
    if (c->rec_tx.sig_count != 1)
        return proof_decide(c->r, PROOF_MALFORMED, "record carries %zu signatures, not one",
                            c->rec_tx.sig_count);
    if (wire_tx_body_decode(c->rec_tx.kind, c->rec_tx.body.ptr, c->rec_tx.body.len, &c->rec,
                            c->errmsg) != TB_OK)
        return proof_decide(c->r, PROOF_MALFORMED, "record body: %s", c->errmsg);
    wire_tx_id(b->suite, b->chain_id, c->rec_tx.kind, c->rec_tx.body.ptr, c->rec_tx.body.len, id);
    if (memcmp(id, b->record_id, WIRE_HASH_BYTES) != 0)
        return proof_decide(c->r, PROOF_MALFORMED, "record_id is not the id of the envelope");
    const struct wire_record_issue *is = &c->rec.u.issue;
    f->has_record = true;
    memcpy(f->record_id, id, WIRE_HASH_BYTES);
    proof_cstr(f->type, sizeof(f->type), is->type);
    proof_cstr(f->city, sizeof(f->city), is->city);
    proof_cstr(f->agency, sizeof(f->agency), is->agency);
    f->expires_at = is->expires_at;
    return false;
}

static bool proof_decode_header(struct proof_check *c)
{
    const struct proof_bundle *b = c->b;
    const struct proof_header_view *v = &b->header_view;
    struct proof_facts *f = &c->r->facts;
    if (wire_header_decode(b->header.data, b->header.len, &c->h, c->errmsg) != TB_OK)
        return proof_decide(c->r, PROOF_MALFORMED, "header: %s", c->errmsg);
    wire_block_hash(b->suite, b->header.data, b->header.len, c->block_hash);
    if (memcmp(c->h.chain_id, b->chain_id, WIRE_HASH_BYTES) != 0)
        return proof_decide(c->r, PROOF_MALFORMED, "the header's chain id is not the bundle's");
    if (v->height != c->h.height || v->time_ms != c->h.time_ms || v->log_size != c->h.log_size ||
        memcmp(v->log_root, c->h.log_root, WIRE_HASH_BYTES) != 0 ||
        memcmp(v->state_root, c->h.state_root, WIRE_HASH_BYTES) != 0 ||
        memcmp(v->block_hash, c->block_hash, WIRE_HASH_BYTES) != 0)
        return proof_decide(c->r, PROOF_MALFORMED, "header_view disagrees with the header bytes");
    f->has_header = true;
    f->height = c->h.height;
    f->time_ms = c->h.time_ms;
    memcpy(f->block_hash, c->block_hash, WIRE_HASH_BYTES);
    memcpy(f->chain_id, c->h.chain_id, WIRE_HASH_BYTES);
    if (wire_cert_decode(b->certificate.data, b->certificate.len, &c->cert, c->errmsg) != TB_OK)
        return proof_decide(c->r, PROOF_MALFORMED, "certificate: %s", c->errmsg);
    return false;
}

/* An inclusion path's shape, and a status value's decoding and presence. */
static bool proof_decode_paths(struct proof_check *c, const char *what,
                               const struct proof_inclusion *inc, const struct proof_status *st,
                               struct wire_status *value)
{
    if (inc->present && inc->tree_size != c->h.log_size)
        return proof_decide(c->r, PROOF_MALFORMED,
                            "%s inclusion: tree_size %" PRIu64
                            " is not the header's log_size %" PRIu64,
                            what, inc->tree_size, c->h.log_size);
    if (inc->present && inc->path.count > CR_LOG_PATH_MAX)
        return proof_decide(c->r, PROOF_MALFORMED, "%s inclusion: path too long", what);
    memset(value, 0, sizeof(*value));
    if (!st->has_value)
        return false;
    if (st->value_len > sizeof(st->value) ||
        wire_status_decode(st->value, st->value_len, value, c->errmsg) != TB_OK)
        return proof_decide(c->r, PROOF_MALFORMED, "%s status value: %s", what, c->errmsg);
    return false;
}

static bool proof_decode_agency(struct proof_check *c)
{
    const struct proof_bundle *b = c->b;
    struct proof_facts *f = &c->r->facts;
    if (wire_tx_decode(b->agency_register.data, b->agency_register.len, &c->reg_tx, c->errmsg) !=
        TB_OK)
        return proof_decide(c->r, PROOF_MALFORMED, "agency register envelope: %s", c->errmsg);
    if (c->reg_tx.kind != WIRE_KIND_AGENCY_REGISTER)
        return proof_decide(c->r, PROOF_MALFORMED,
                            "agency envelope is a %s, not an agency.register",
                            wire_kind_name(c->reg_tx.kind));
    if (c->reg_tx.sig_count != 1)
        return proof_decide(c->r, PROOF_MALFORMED,
                            "agency.register carries %zu signatures, not one", c->reg_tx.sig_count);
    if (wire_tx_body_decode(c->reg_tx.kind, c->reg_tx.body.ptr, c->reg_tx.body.len, &c->reg,
                            c->errmsg) != TB_OK)
        return proof_decide(c->r, PROOF_MALFORMED, "agency register body: %s", c->errmsg);
    wire_tx_id(b->suite, b->chain_id, c->reg_tx.kind, c->reg_tx.body.ptr, c->reg_tx.body.len,
               c->reg_id);
    f->has_issuer = true;
    proof_cstr(f->agency_name, sizeof(f->agency_name), c->reg.u.reg.name);
    cr_hash(b->suite, c->reg.u.reg.public_key.ptr, c->reg.u.reg.public_key.len, f->signer_key_id);
    return false;
}

static bool proof_check_malformed(struct proof_check *c)
{
    const struct proof_bundle *b = c->b;
    if (b->version != PROOF_VERSION)
        return proof_decide(c->r, PROOF_MALFORMED, "bundle version %u is not %u", b->version,
                            PROOF_VERSION);
    if (!cr_suite_valid((int)b->suite))
        return proof_decide(c->r, PROOF_MALFORMED, "unknown suite");
    if (b->validator_count < 1 || b->validator_count > WIRE_VALIDATORS_MAX)
        return proof_decide(c->r, PROOF_MALFORMED, "%zu validators", b->validator_count);
    if (proof_decode_record(c) || proof_decode_header(c))
        return true;
    if (proof_decode_paths(c, "record", &b->record_inclusion, &b->record_status, &c->rec_st))
        return true;
    if (b->record_inclusion.present != b->record_status.has_value)
        return proof_decide(
            c->r, PROOF_MALFORMED,
            "record inclusion path and status value must be both present or both absent");
    if (proof_decode_agency(c))
        return true;
    return proof_decode_paths(c, "agency", &b->agency_inclusion, &b->agency_status, &c->ag_st);
}

/* ---------------------------------------------------- 2. the certified header */

/* Chain id, validator set and its hash from g (keys left NULL). TB_EINVAL, TB_ENOMEM. */
static int proof_verifier_setup(struct proof_verifier *v, const struct cfg_genesis *g)
{
    memset(v, 0, sizeof(*v));
    v->g = g;
    if (g->member_count < 1 || g->member_count > CFG_MEMBERS_MAX || !cr_suite_valid((int)g->suite))
        return TB_EINVAL;
    int rv = cfg_genesis_chain_id(g, v->chain_id);
    if (rv != TB_OK)
        return rv;
    struct tb_bytes parts[CFG_MEMBERS_MAX];
    for (size_t i = 0; i < g->member_count; i++) {
        uint8_t id[WIRE_HASH_BYTES];
        cr_hash(g->suite, g->members[i].node_key, g->members[i].node_key_len, id);
        size_t j = i; /* insertion sort by key id */
        while (j > 0 && memcmp(v->ids[j - 1], id, WIRE_HASH_BYTES) > 0) {
            memcpy(v->ids[j], v->ids[j - 1], WIRE_HASH_BYTES);
            v->order[j] = v->order[j - 1];
            j--;
        }
        memcpy(v->ids[j], id, WIRE_HASH_BYTES);
        v->order[j] = i;
    }
    for (size_t i = 0; i < g->member_count; i++)
        parts[i] = (struct tb_bytes){v->ids[i], WIRE_HASH_BYTES};
    cr_hash_tagged(g->suite, PROOF_VALIDATORS_TAG, parts, g->member_count, v->set_hash);
    return TB_OK;
}

/* The set index of genesis member m. */
static size_t proof_set_index(const struct proof_verifier *v, const struct cfg_member *m)
{
    size_t member = (size_t)(m - v->g->members);
    TB_ASSERT(member < v->g->member_count);
    for (size_t i = 0; i < v->g->member_count; i++)
        if (v->order[i] == member)
            return i;
    TB_UNREACHABLE();
}

static bool proof_check_federation(struct proof_check *c)
{
    const struct proof_bundle *b = c->b;
    const struct proof_verifier *v = c->v;
    char hex[2 * WIRE_HASH_BYTES + 1];
    if (b->suite != c->g->suite)
        return proof_decide(c->r, PROOF_BAD_SIGNATURE,
                            "bundle is for suite %s, the genesis is %s (another federation)",
                            cr_suite_name(b->suite), cr_suite_name(c->g->suite));
    if (memcmp(b->chain_id, v->chain_id, WIRE_HASH_BYTES) != 0) {
        tb_hex_encode(b->chain_id, 8, hex);
        return proof_decide(
            c->r, PROOF_BAD_SIGNATURE,
            "bundle is for chain %s..., not this genesis' chain (another federation)", hex);
    }
    if (b->validator_count != c->g->member_count)
        return proof_decide(c->r, PROOF_BAD_SIGNATURE,
                            "validator set of %zu members, the genesis has %zu", b->validator_count,
                            c->g->member_count);
    for (size_t i = 0; i < b->validator_count; i++) {
        const struct cfg_member *m = &c->g->members[v->order[i]];
        const struct proof_validator *pv = &b->validators[i];
        if (strcmp(pv->city, m->city) != 0 || pv->node_key_len != m->node_key_len ||
            memcmp(pv->node_key, m->node_key, m->node_key_len) != 0)
            return proof_decide(c->r, PROOF_BAD_SIGNATURE,
                                "validator %zu is not the genesis member %s with its node key", i,
                                m->city);
    }
    if (memcmp(v->set_hash, c->h.validator_set_hash, WIRE_HASH_BYTES) != 0)
        return proof_decide(c->r, PROOF_BAD_SIGNATURE,
                            "the header's validator_set_hash is not the genesis set's");
    return false;
}

/* One signature by a genesis member (set index idx): its kept key, or its public bytes. */
static int proof_member_sig(struct proof_check *c, size_t idx, const uint8_t *msg, size_t len,
                            struct tb_bytes sig)
{
    TB_ASSERT(idx < c->g->member_count);
    if (c->v->keys[idx] != NULL)
        return cr_verify(c->v->keys[idx], msg, len, sig.ptr, sig.len);
    const struct cfg_member *m = &c->g->members[c->v->order[idx]];
    return cr_verify_public(c->g->suite, m->node_key, m->node_key_len, msg, len, sig.ptr, sig.len);
}

/* Every precommit of the certificate over [2, height, round, block_hash]. */
static bool proof_check_cert(struct proof_check *c, int *err)
{
    const struct wire_cert *cert = &c->cert;
    size_t n = c->b->validator_count;
    if (cert->height != c->h.height)
        return proof_decide(c->r, PROOF_BAD_SIGNATURE,
                            "certificate is for height %" PRIu64 ", the header is %" PRIu64,
                            cert->height, c->h.height);
    if (memcmp(cert->block_hash, c->block_hash, WIRE_HASH_BYTES) != 0)
        return proof_decide(c->r, PROOF_BAD_SIGNATURE, "certificate is for another block");
    if (3 * cert->sig_count <= 2 * n)
        return proof_decide(c->r, PROOF_BAD_SIGNATURE,
                            "certificate has %zu of %zu precommits, more than two thirds needed",
                            cert->sig_count, n);
    struct wire_vote v = {.type = WIRE_VOTE_PRECOMMIT,
                          .height = cert->height,
                          .round = cert->round,
                          .has_block_hash = true};
    memcpy(v.block_hash, c->block_hash, WIRE_HASH_BYTES);
    struct tb_buf vote, input;
    tb_buf_init(&vote, WIRE_SMALL_BYTES_MAX);
    tb_buf_init(&input, WIRE_SMALL_BYTES_MAX + 64);
    *err = wire_vote_encode(&v, &vote, c->errmsg);
    if (*err == TB_OK)
        *err = wire_vote_sign_input(c->b->chain_id, vote.data, vote.len, &input);
    bool decided = false;
    uint64_t seen = 0;
    for (size_t i = 0; *err == TB_OK && !decided && i < cert->sig_count; i++) {
        uint32_t idx = cert->sigs[i].validator_index;
        if (idx >= n || (seen >> idx) & 1u) {
            decided = proof_decide(c->r, PROOF_BAD_SIGNATURE,
                                   "certificate signer %u is outside the set or repeated", idx);
            break;
        }
        seen |= UINT64_C(1) << idx;
        const struct proof_validator *pv = &c->b->validators[idx]; /* = the genesis member */
        int rv = proof_member_sig(c, idx, input.data, input.len, cert->sigs[i].sig);
        if (rv == TB_ENOMEM)
            *err = rv;
        else if (rv != TB_OK)
            decided =
                proof_decide(c->r, PROOF_BAD_SIGNATURE,
                             "the precommit of validator %u (%s) does not verify", idx, pv->city);
    }
    tb_buf_release(&vote);
    tb_buf_release(&input);
    if (*err != TB_OK || decided)
        return true;
    c->r->facts.signers = (uint32_t)cert->sig_count;
    proof_note(c->r, "header %" PRIu64 " certified by %zu of %zu validators", c->h.height,
               cert->sig_count, n);
    return false;
}

/* ------------------------------------------------------- 3. on the ledger */

static bool proof_path_ok(const struct proof_check *c, const struct proof_inclusion *inc,
                          const uint8_t tx_id[WIRE_HASH_BYTES])
{
    uint8_t leaf[CR_HASH_BYTES];
    if (!inc->present)
        return false;
    cr_log_leaf_hash(c->b->suite, tx_id, WIRE_HASH_BYTES, leaf);
    return cr_log_verify_inclusion(c->b->suite, leaf, inc->leaf_index, inc->tree_size, &inc->path,
                                   c->h.log_root) == TB_OK;
}

/* The status proof of key: 1 member (value verified), 0 absent (verified), -1 no proof. */
static int proof_status_of(const struct proof_check *c, const uint8_t key[WIRE_HASH_BYTES],
                           const struct proof_status *st)
{
    uint8_t vh[CR_HASH_BYTES];
    if (st->has_value) {
        cr_hash(c->b->suite, st->value, st->value_len, vh);
        return cr_smt_verify(c->b->suite, c->h.state_root, key, vh, &st->proof) == TB_OK ? 1 : -1;
    }
    return cr_smt_verify(c->b->suite, c->h.state_root, key, NULL, &st->proof) == TB_OK ? 0 : -1;
}

static bool proof_check_ledger(struct proof_check *c)
{
    const struct proof_bundle *b = c->b;
    struct proof_facts *f = &c->r->facts;
    const struct wire_status *s = &c->rec_st;
    int st = proof_status_of(c, b->record_id, &b->record_status);
    if (st < 0)
        return proof_decide(
            c->r, PROOF_NOT_ON_LEDGER,
            "the record's status proof does not verify against the state root of height %" PRIu64,
            c->h.height);
    f->has_status = true;
    if (st == 0)
        return proof_decide(c->r, PROOF_NOT_ON_LEDGER,
                            "the record is absent from the status tree at height %" PRIu64,
                            c->h.height);
    if (!proof_path_ok(c, &b->record_inclusion, b->record_id))
        return proof_decide(c->r, PROOF_NOT_ON_LEDGER,
                            "the record's log inclusion path does not verify against the log root "
                            "of height %" PRIu64,
                            c->h.height);
    f->state = s->state;
    f->issued_height = s->height_a;
    f->revoked_height = s->height_b;
    /* Committed by a quorum, so these hold on an honest ledger; checked all the same. */
    if (s->height_a < 1 || s->height_a > c->h.height || s->time_s != c->rec.u.issue.expires_at ||
        (s->state == 1 && s->height_b != 0) ||
        (s->state == 2 && (s->height_b < s->height_a || s->height_b > c->h.height)))
        return proof_decide(c->r, PROOF_MALFORMED,
                            "the record's status value contradicts the record or the header");
    proof_note(c->r,
               "record in the log at leaf %" PRIu64 " of %" PRIu64
               ", status %s since height %" PRIu64,
               b->record_inclusion.leaf_index, b->record_inclusion.tree_size,
               s->state == 1 ? "valid" : "revoked", s->state == 1 ? s->height_a : s->height_b);
    return false;
}

/* ------------------------------------------------------------ 4. the issuer */

static bool proof_check_register(struct proof_check *c)
{
    const struct wire_agency_register *reg = &c->reg.u.reg;
    const struct wire_record_issue *is = &c->rec.u.issue;
    const struct proof_facts *f = &c->r->facts;
    if (!proof_bytes_eq(reg->city, is->city) || !proof_bytes_eq(reg->agency, is->agency))
        return proof_decide(c->r, PROOF_UNKNOWN_ISSUER,
                            "the agency registration is for %.*s/%.*s, not the record's %s/%s",
                            (int)reg->city.len, reg->city.ptr, (int)reg->agency.len,
                            reg->agency.ptr, f->city, f->agency);
    bool typed = false;
    for (size_t i = 0; i < reg->type_count && i < WIRE_AGENCY_TYPES_MAX; i++)
        typed = typed || proof_bytes_eq(reg->types[i], is->type);
    if (!typed)
        return proof_decide(c->r, PROOF_UNKNOWN_ISSUER,
                            "agency %s/%s is not registered for type %s", f->city, f->agency,
                            f->type);
    if (memcmp(f->signer_key_id, c->rec_tx.sigs[0].key_id, WIRE_HASH_BYTES) != 0)
        return proof_decide(c->r, PROOF_UNKNOWN_ISSUER,
                            "the record is signed by a key that is not the registered agency key");
    const struct cfg_member *m = cfg_genesis_member_by_city(c->g, f->city);
    if (m == NULL)
        return proof_decide(c->r, PROOF_UNKNOWN_ISSUER, "city %s is not a genesis member", f->city);
    uint8_t node_id[WIRE_HASH_BYTES];
    cr_hash(c->g->suite, m->node_key, m->node_key_len, node_id);
    if (memcmp(node_id, c->reg_tx.sigs[0].key_id, WIRE_HASH_BYTES) != 0)
        return proof_decide(c->r, PROOF_UNKNOWN_ISSUER,
                            "the agency registration is not signed by city %s's node key", f->city);
    return false;
}

/*
 * A tx's signature over the DESIGN 3.3 input, by the genesis member of set index `member`
 * (SIZE_MAX: by the public key pub): TB_OK, TB_EBADSIG, TB_ENOMEM.
 */
static int proof_tx_sig(struct proof_check *c, const struct wire_tx *tx, size_t member,
                        const uint8_t *pub, size_t pub_len)
{
    struct tb_buf in;
    tb_buf_init(&in, WIRE_TX_BYTES_MAX + 64);
    int rv = wire_tx_sign_input(c->b->chain_id, tx->kind, tx->body.ptr, tx->body.len, &in);
    if (rv == TB_OK && member != SIZE_MAX)
        rv = proof_member_sig(c, member, in.data, in.len, tx->sigs[0].sig);
    else if (rv == TB_OK)
        rv = cr_verify_public(c->b->suite, pub, pub_len, in.data, in.len, tx->sigs[0].sig.ptr,
                              tx->sigs[0].sig.len);
    tb_buf_release(&in);
    return rv;
}

static bool proof_check_issuer(struct proof_check *c, int *err)
{
    const struct proof_bundle *b = c->b;
    struct proof_facts *f = &c->r->facts;
    const struct wire_status *s = &c->ag_st;
    if (proof_check_register(c))
        return true;
    const struct cfg_member *m = cfg_genesis_member_by_city(c->g, f->city);
    TB_ASSERT(m != NULL); /* proof_check_register found it */
    int rv = proof_tx_sig(c, &c->reg_tx, proof_set_index(c->v, m), NULL, 0);
    if (rv == TB_ENOMEM || rv == TB_ELIMIT)
        return (*err = rv), true;
    if (rv != TB_OK)
        return proof_decide(
            c->r, PROOF_UNKNOWN_ISSUER,
            "the agency registration's signature by city %s's node key does not verify", f->city);
    if (!proof_path_ok(c, &b->agency_inclusion, c->reg_id))
        return proof_decide(c->r, PROOF_UNKNOWN_ISSUER,
                            "the agency registration is not in the log at height %" PRIu64
                            " (no valid inclusion path)",
                            c->h.height);
    uint8_t key[WIRE_HASH_BYTES];
    const struct tb_bytes pk = c->reg.u.reg.public_key;
    wire_agency_key_id(b->suite, pk.ptr, pk.len, key);
    if (proof_status_of(c, key, &b->agency_status) != 1)
        return proof_decide(c->r, PROOF_UNKNOWN_ISSUER,
                            "no verified status of the agency key at height %" PRIu64, c->h.height);
    f->agency_registered_height = s->height_a;
    f->agency_retired_height = s->height_b;
    f->agency_not_after = s->time_s;
    if (s->time_s != c->reg.u.reg.not_after || s->height_a > f->issued_height ||
        (s->state == 2 && s->height_b < f->issued_height))
        return proof_decide(
            c->r, PROOF_UNKNOWN_ISSUER,
            "the agency key (registered at height %" PRIu64
            ", state %u) was not active when the record was issued at height %" PRIu64,
            s->height_a, s->state, f->issued_height);
    proof_note(c->r, "issued by %s/%s (%s), registered at height %" PRIu64 " by city %s's node key",
               f->city, f->agency, f->agency_name, s->height_a, f->city);
    return false;
}

/* ---------------------------------------------------------------- the order */

static bool proof_check_record_sig(struct proof_check *c, int *err)
{
    const struct tb_bytes pk = c->reg.u.reg.public_key;
    int rv = proof_tx_sig(c, &c->rec_tx, SIZE_MAX, pk.ptr, pk.len);
    if (rv == TB_ENOMEM || rv == TB_ELIMIT)
        return (*err = rv), true;
    if (rv != TB_OK)
        return proof_decide(c->r, PROOF_BAD_SIGNATURE,
                            "the record's signature by agency %s/%s does not verify",
                            c->r->facts.city, c->r->facts.agency);
    proof_note(c->r, "the record's signature verifies");
    return false;
}

static void proof_check_status(struct proof_check *c)
{
    const struct proof_facts *f = &c->r->facts;
    char id[2 * WIRE_HASH_BYTES + 1];
    tb_hex_encode(f->record_id, WIRE_HASH_BYTES, id);
    if (f->state == 2) {
        proof_decide(c->r, PROOF_REVOKED, "record %.16s... was revoked at height %" PRIu64, id,
                     f->revoked_height);
        return;
    }
    if (f->expires_at != 0 && f->expires_at <= c->h.time_ms / 1000u) {
        proof_decide(c->r, PROOF_EXPIRED,
                     "record %.16s... expired at %" PRIu64 " (header time %" PRIu64 " s)", id,
                     f->expires_at, c->h.time_ms / 1000u);
        return;
    }
    const struct proof_verify_opts *o = c->opts;
    if (o != NULL && o->has_max_age) {
        uint64_t age_ms = o->now_ms > c->h.time_ms ? o->now_ms - c->h.time_ms : 0;
        if (age_ms / 1000u > o->max_age_s || (age_ms / 1000u == o->max_age_s && age_ms % 1000u)) {
            proof_decide(c->r, PROOF_STALE,
                         "header %" PRIu64 " is %" PRIu64 " s old, more than the %" PRIu64
                         " s allowed",
                         c->h.height, age_ms / 1000u, o->max_age_s);
            return;
        }
    }
    proof_decide(c->r, PROOF_VALID, "record %.16s... (%s of %s/%s) is valid at height %" PRIu64, id,
                 f->type, f->city, f->agency, c->h.height);
}

/* The checks in order (proof.h), through verifier v. */
static int proof_run(struct proof_verifier *v, const struct proof_bundle *b,
                     const struct proof_verify_opts *opts, struct proof_result *out)
{
    struct proof_check c;
    int err = TB_OK;
    memset(&c, 0, sizeof(c));
    c.v = v;
    c.g = v->g;
    c.b = b;
    c.opts = opts;
    c.r = out;
    if (proof_check_malformed(&c))
        return TB_OK;
    proof_note(out, "bundle decodes: record %s of %s/%s at header %" PRIu64, out->facts.type,
               out->facts.city, out->facts.agency, c.h.height);
    if (proof_check_federation(&c) || proof_check_cert(&c, &err) || proof_check_ledger(&c) ||
        proof_check_issuer(&c, &err) || proof_check_record_sig(&c, &err)) {
        if (err != TB_OK)
            proof_decide(out, PROOF_MALFORMED, "could not finish the check: %s", tb_strerror(err));
        return err;
    }
    proof_check_status(&c);
    return TB_OK;
}

static void proof_result_reset(struct proof_result *out)
{
    memset(out, 0, sizeof(*out));
    out->reason_count = 1; /* reasons[0] is the decision */
}

int proof_verify_bundle(const struct cfg_genesis *g, const struct proof_bundle *b,
                        const struct proof_verify_opts *opts, struct proof_result *out)
{
    struct proof_verifier v;
    proof_result_reset(out);
    int err = proof_verifier_setup(&v, g);
    if (err != TB_OK) {
        proof_decide(out, PROOF_MALFORMED, "the genesis is not usable: %s", tb_strerror(err));
        return err;
    }
    return proof_run(&v, b, opts, out);
}

int proof_verifier_new(const struct cfg_genesis *g, struct proof_verifier **out, char *errmsg)
{
    struct proof_verifier *v = tb_malloc(sizeof(*v));
    if (v == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "verifier: out of memory");
    int rv = proof_verifier_setup(v, g);
    if (rv != TB_OK) {
        tb_free(v);
        return tb_fail(errmsg, rv, "verifier: the genesis is not usable: %s", tb_strerror(rv));
    }
    for (size_t i = 0; i < g->member_count; i++) {
        const struct cfg_member *m = &g->members[v->order[i]];
        rv = cr_key_from_public(g->suite, m->node_key, m->node_key_len, &v->keys[i]);
        if (rv != TB_OK) {
            proof_verifier_free(v);
            return tb_fail(errmsg, rv == TB_ENOMEM ? rv : TB_EINVAL,
                           "verifier: node key of %s does not parse", m->city);
        }
    }
    *out = v;
    return TB_OK;
}

void proof_verifier_free(struct proof_verifier *v)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < CFG_MEMBERS_MAX; i++)
        cr_key_free(v->keys[i]);
    tb_free(v);
}

int proof_verifier_check(struct proof_verifier *v, const struct proof_bundle *b,
                         const struct proof_verify_opts *opts, struct proof_result *out)
{
    TB_ASSERT(v != NULL && v->g != NULL);
    proof_result_reset(out);
    return proof_run(v, b, opts, out);
}

/* proof_bundle_from_json, then check (v == NULL: a verifier for g made for this call). */
static int proof_json_run(struct proof_verifier *v, const struct cfg_genesis *g, const char *text,
                          size_t len, const struct proof_verify_opts *opts,
                          struct proof_result *out)
{
    char errmsg[TB_ERRMSG_SIZE];
    struct proof_bundle *b = proof_bundle_new();
    proof_result_reset(out);
    if (b == NULL) {
        proof_decide(out, PROOF_MALFORMED, "out of memory");
        return TB_ENOMEM;
    }
    int rv = proof_bundle_from_json(text, len, b, errmsg);
    if (rv == TB_ENOMEM) {
        proof_decide(out, PROOF_MALFORMED, "out of memory");
    } else if (rv != TB_OK) {
        proof_decide(out, PROOF_MALFORMED, "%s", errmsg);
        rv = TB_OK;
    } else if (v != NULL) {
        rv = proof_verifier_check(v, b, opts, out);
    } else {
        rv = proof_verify_bundle(g, b, opts, out);
    }
    proof_bundle_free(b);
    return rv;
}

int proof_verify_json(const struct cfg_genesis *g, const char *text, size_t len,
                      const struct proof_verify_opts *opts, struct proof_result *out)
{
    return proof_json_run(NULL, g, text, len, opts, out);
}

int proof_verifier_check_json(struct proof_verifier *v, const char *text, size_t len,
                              const struct proof_verify_opts *opts, struct proof_result *out)
{
    TB_ASSERT(v != NULL);
    return proof_json_run(v, v->g, text, len, opts, out);
}
