/*
 * node/proof.c: builds a proof bundle (proof.h) for one record at one committed height from
 * the node's store: the header and certificate of that height, the validator set, the log
 * inclusion paths of the record and of its signer's agency.register tx, and the status-tree
 * proofs of both keys against that header's state_root (the tree keeps every old root).
 *
 * The small ledger queries it needs (the log index of a committed tx, a block's header, the
 * agency key behind a signature's key id, the register tx behind an agency) are read here
 * through store.h and ledger.h, following the layouts ledger.h documents; nothing in
 * ledger*.c changes for proofs.
 *
 * Every path and proof it builds is checked against the header before it is handed out, so a
 * corrupt store gives TB_EIO rather than a bundle that will not verify.
 *
 * Must never: write to the store, or take anything from the tip when a height was asked for.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ledger.h"
#include "proof.h"
#include "store.h"
#include "tb_alloc.h"
#include "tb_assert.h"

#define PROOF_LEDGER_KEY_PREFIX "ledger/k" /* meta: "ledger/k" || key id -> public key */
#define PROOF_LEDGER_REC_PREFIX "ledger/r" /* meta: "ledger/r" || record id -> record entry */
#define PROOF_LEDGER_KEY_PREFIX_BYTES 8u
#define PROOF_REC_ENTRY_BYTES_MAX 512u /* status, subject and three names: ~230 bytes at most */

_Static_assert(sizeof(PROOF_LEDGER_KEY_PREFIX) - 1 == PROOF_LEDGER_KEY_PREFIX_BYTES,
               "the ledger's meta prefixes are 8 bytes");

/* ------------------------------------------------------------------ bundle */

void proof_bundle_init(struct proof_bundle *b)
{
    memset(b, 0, sizeof(*b));
    b->version = PROOF_VERSION;
    tb_buf_init(&b->record, WIRE_TX_BYTES_MAX);
    tb_buf_init(&b->header, PROOF_HEADER_BYTES_MAX);
    tb_buf_init(&b->certificate, WIRE_CERT_BYTES_MAX);
    tb_buf_init(&b->agency_register, WIRE_TX_BYTES_MAX);
}

void proof_bundle_release(struct proof_bundle *b)
{
    tb_buf_release(&b->record);
    tb_buf_release(&b->header);
    tb_buf_release(&b->certificate);
    tb_buf_release(&b->agency_register);
    proof_bundle_init(b);
}

struct proof_bundle *proof_bundle_new(void)
{
    struct proof_bundle *b = tb_malloc(sizeof(*b));
    if (b != NULL)
        proof_bundle_init(b);
    return b;
}

void proof_bundle_free(struct proof_bundle *b)
{
    if (b == NULL)
        return;
    proof_bundle_release(b);
    tb_free(b);
}

/* ----------------------------------------------------------- store reads */

/*
 * Reading one header or one tx out of a stored block without decoding the whole block: a
 * block of 1,000 records is ~300 KB, and a full strict decode (every envelope re-encoded)
 * costs far more than the rest of a bundle. The walk (wire_block_spans) only measures spans of the
 * canonical msgpack subset a block is made of (uints, bins, strs, arrays; nil); the spans
 * it finds are then decoded strictly by wire_header_decode / wire_tx_decode, and the block
 * was checked in full when it was applied. The value is borrowed from LMDB through a
 * store_scan visitor, so only the header and the one envelope are copied.
 */
/* What to take out of a block, and what was found. */
struct proof_pick
{
    uint32_t index;         /* the tx wanted, or UINT32_MAX for none */
    struct tb_buf *header;  /* header bytes out (NULL: not wanted) */
    struct tb_buf *tx;      /* envelope bytes out (when index != UINT32_MAX) */
    struct wire_header hdr; /* the decoded header */
    size_t tx_count;
    bool found;
};

static int proof_pick_visit(void *arg, struct tb_bytes key, struct tb_bytes value, char *errmsg)
{
    struct proof_pick *pk = arg;
    struct tb_bytes header = {0}, tx = {0};
    (void)key;
    int rv = wire_block_spans(value.ptr, value.len, pk->index == UINT32_MAX ? SIZE_MAX : pk->index,
                              &header, pk->index == UINT32_MAX ? NULL : &tx, &pk->tx_count);
    if (rv == TB_ENOTFOUND)
        return tb_fail(errmsg, TB_EIO, "tx %" PRIu32 " of a block of %zu (corrupt store)",
                       pk->index, pk->tx_count);
    if (rv != TB_OK)
        return tb_fail(errmsg, TB_EIO, "stored block does not parse (corrupt store)");
    if (wire_header_decode(header.ptr, header.len, &pk->hdr, errmsg) != TB_OK)
        return tb_fail(errmsg, TB_EIO, "stored block header does not decode (corrupt store)");
    rv = pk->header != NULL ? tb_buf_append(pk->header, header.ptr, header.len) : TB_OK;
    if (rv == TB_OK && pk->index != UINT32_MAX)
        rv = tb_buf_append(pk->tx, tx.ptr, tx.len);
    pk->found = rv == TB_OK;
    return rv;
}

/*
 * The header of the committed block at height (into pk->hdr, and its bytes into pk->header
 * when set) and its tx pk->index (into pk->tx). The buffers are appended to: reset them.
 * TB_ENOTFOUND (no block at height), TB_EIO (corrupt store), TB_ELIMIT / TB_ENOMEM.
 */
static int proof_block_pick(struct store_txn *txn, uint64_t height, struct proof_pick *pk,
                            char *errmsg)
{
    struct store_key key;
    struct store_visitor v = {.arg = pk, .visit = proof_pick_visit};
    uint32_t visited = 0;
    store_key_u64(&key, height);
    pk->found = false;
    int rv = store_scan(txn, STORE_DB_BLOCKS, store_key_bytes(&key), NULL, 1, &v, &visited, errmsg);
    if (rv != TB_OK)
        return rv;
    if (!pk->found)
        return tb_fail(errmsg, TB_ENOTFOUND, "no committed block at height %" PRIu64, height);
    if (pk->hdr.height != height)
        return tb_fail(errmsg, TB_EIO, "stored block %" PRIu64 " says height %" PRIu64, height,
                       pk->hdr.height);
    return TB_OK;
}

/*
 * A copy of the envelope of the tx at loc and its log leaf index. Every tx of a block is
 * appended to the log in block order, so the block's txs are the leaves
 * [log_size - tx_count, log_size) of its header's log size.
 */
static int proof_tx_at(struct store_txn *txn, const struct store_txloc *loc, uint64_t *leaf_index,
                       struct tb_buf *envelope, char *errmsg)
{
    struct proof_pick pk = {.index = loc->index, .tx = envelope};
    tb_buf_reset(envelope);
    int rv = proof_block_pick(txn, loc->height, &pk, errmsg);
    if (rv != TB_OK)
        return rv;
    if (pk.tx_count > pk.hdr.log_size)
        return tb_fail(errmsg, TB_EIO, "block %" PRIu64 " holds more txs than its log",
                       loc->height);
    *leaf_index = pk.hdr.log_size - pk.tx_count + loc->index;
    return TB_OK;
}

/*
 * The inclusion path of leaf_index (the tx committed at loc_height) in the log as it was
 * after the bundle's header h. A tx committed after h has no path (present stays false).
 */
static int proof_inclusion_make(enum cr_suite suite, struct store_txn *txn, uint64_t loc_height,
                                uint64_t leaf_index, const uint8_t tx_id[WIRE_HASH_BYTES],
                                const struct wire_header *h, struct proof_inclusion *out,
                                char *errmsg)
{
    memset(out, 0, sizeof(*out));
    if (loc_height > h->height)
        return TB_OK; /* not in the log yet at that header */
    out->leaf_index = leaf_index;
    out->tree_size = h->log_size;
    if (out->leaf_index >= out->tree_size)
        return tb_fail(errmsg, TB_EIO,
                       "leaf %" PRIu64 " is past the log of height %" PRIu64 " (corrupt store)",
                       leaf_index, h->height);
    struct cr_log log;
    struct cr_log_store ls = store_log_tree(store_txn_store(txn));
    int rv = cr_log_init(&log, suite, &ls, txn, h->log_size);
    if (rv != TB_OK)
        return tb_fail(errmsg, rv == TB_ENOMEM ? rv : TB_EIO, "log tree: %s", log.errmsg);
    rv = cr_log_inclusion_proof(&log, txn, out->leaf_index, out->tree_size, &out->path);
    if (rv != TB_OK)
        rv = tb_fail(errmsg, rv == TB_ENOMEM ? rv : TB_EIO, "log tree: %s", log.errmsg);
    cr_log_release(&log);
    if (rv != TB_OK)
        return rv;
    uint8_t leaf[CR_HASH_BYTES];
    cr_log_leaf_hash(suite, tx_id, WIRE_HASH_BYTES, leaf);
    if (cr_log_verify_inclusion(suite, leaf, out->leaf_index, out->tree_size, &out->path,
                                h->log_root) != TB_OK)
        return tb_fail(errmsg, TB_EIO,
                       "log path of leaf %" PRIu64 " does not reach the root of height %" PRIu64
                       " (corrupt store)",
                       out->leaf_index, h->height);
    out->present = true;
    return TB_OK;
}

/*
 * The status proof of key against root. value (the canonical status the ledger says the
 * key had at that height, or NULL when it had none) must match the tree.
 */
static int proof_status_make(enum cr_suite suite, struct store_txn *txn,
                             const uint8_t root[CR_HASH_BYTES], const uint8_t key[CR_SMT_KEY_BYTES],
                             const struct wire_status *value, struct proof_status *out,
                             char *errmsg)
{
    struct cr_smt tree;
    struct cr_smt_store ss = store_smt_tree(store_txn_store(txn));
    memset(out, 0, sizeof(*out));
    int rv = cr_smt_init(&tree, suite, &ss);
    if (rv != TB_OK)
        return tb_fail(errmsg, rv, "status tree: out of memory");
    rv = cr_smt_prove(&tree, txn, root, key, &out->proof);
    if (rv != TB_OK)
        rv = tb_fail(errmsg, rv == TB_ENOMEM ? rv : TB_EIO, "status tree: %s", tree.errmsg);
    cr_smt_release(&tree);
    if (rv != TB_OK)
        return rv;
    uint8_t vh[CR_HASH_BYTES];
    if (value != NULL) {
        struct tb_buf vb;
        tb_buf_init(&vb, sizeof(out->value));
        rv = wire_status_encode(value, &vb, errmsg);
        if (rv != TB_OK)
            return tb_fail(errmsg, TB_EIO, "status value from the ledger does not encode");
        memcpy(out->value, vb.data, vb.len);
        out->value_len = vb.len;
        out->has_value = true;
        tb_buf_release(&vb);
        cr_hash(suite, out->value, out->value_len, vh);
    }
    if (cr_smt_verify(suite, root, key, value != NULL ? vh : NULL, &out->proof) != TB_OK)
        return tb_fail(
            errmsg, TB_EIO, "status tree and ledger disagree on a key (%s)",
            value != NULL ? "tree lacks the ledger's value" : "tree has a key the ledger does not");
    return TB_OK;
}

/* --------------------------------------------------------------- the parts */

/* Header, view, certificate, validator set, suite and chain id of `height`. */
static int proof_header_part(struct ledger *l, struct store_txn *txn, uint64_t height,
                             struct proof_bundle *out, struct wire_header *h, char *errmsg)
{
    struct proof_pick pk = {.index = UINT32_MAX, .header = &out->header};
    tb_buf_reset(&out->header);
    int rv = proof_block_pick(txn, height, &pk, errmsg);
    if (rv != TB_OK)
        return rv;
    *h = pk.hdr;
    wire_block_hash(ledger_suite(l), out->header.data, out->header.len,
                    out->header_view.block_hash);
    uint8_t stored[WIRE_HASH_BYTES];
    rv = store_block_hash_get(txn, height, stored, errmsg);
    if (rv == TB_OK && memcmp(stored, out->header_view.block_hash, WIRE_HASH_BYTES) != 0)
        rv = tb_fail(errmsg, TB_EIO,
                     "block %" PRIu64 " hashes differently from its stored hash (corrupt store)",
                     height);
    if (rv != TB_OK)
        return rv == TB_ENOTFOUND ? TB_EIO : rv;
    out->header_view.height = h->height;
    out->header_view.time_ms = h->time_ms;
    out->header_view.log_size = h->log_size;
    memcpy(out->header_view.log_root, h->log_root, WIRE_HASH_BYTES);
    memcpy(out->header_view.state_root, h->state_root, WIRE_HASH_BYTES);
    rv = store_cert_get(txn, height, &out->certificate, errmsg);
    if (rv == TB_ENOTFOUND)
        return tb_fail(errmsg, rv, "no commit certificate stored for height %" PRIu64, height);
    if (rv != TB_OK)
        return rv;
    out->suite = ledger_suite(l);
    ledger_chain_id(l, out->chain_id);
    out->validator_count = ledger_validator_count(l);
    TB_ASSERT(out->validator_count >= 1 && out->validator_count <= WIRE_VALIDATORS_MAX);
    for (size_t i = 0; i < out->validator_count; i++) {
        const struct cfg_member *m = ledger_validator(l, i, NULL);
        struct proof_validator *v = &out->validators[i];
        snprintf(v->city, sizeof(v->city), "%s", m->city);
        memcpy(v->node_key, m->node_key, m->node_key_len);
        v->node_key_len = m->node_key_len;
    }
    return TB_OK;
}

/* A committed record as the ledger keeps it (meta "ledger/r" || id, ledger.h). */
struct proof_rec
{
    uint64_t issued_height, revoked_height, expires_at;
    struct store_txloc loc;
    struct wire_tx tx; /* views into the bundle's record buffer */
};

/*
 * The ledger's status entry of a committed record: 1(version) || state(1) || issued u64 ||
 * revoked u64 || expires u64 || ... (ledger.h). Only the fixed prefix is read here; the
 * status proof then checks the values against the tree. TB_ENOTFOUND, TB_EIO.
 */
static int proof_rec_status(struct store_txn *txn, const uint8_t id[WIRE_HASH_BYTES],
                            struct proof_rec *rec, char *errmsg)
{
    uint8_t k[PROOF_LEDGER_KEY_PREFIX_BYTES + WIRE_HASH_BYTES];
    uint8_t v[PROOF_REC_ENTRY_BYTES_MAX];
    struct tb_buf buf;
    memcpy(k, PROOF_LEDGER_REC_PREFIX, PROOF_LEDGER_KEY_PREFIX_BYTES);
    memcpy(k + PROOF_LEDGER_KEY_PREFIX_BYTES, id, WIRE_HASH_BYTES);
    tb_buf_init(&buf, sizeof(v));
    int rv = store_get(txn, STORE_DB_META, (struct tb_bytes){k, sizeof(k)}, &buf, errmsg);
    if (rv == TB_ELIMIT)
        return tb_fail(errmsg, TB_EIO, "record entry too long (corrupt store)");
    if (rv != TB_OK)
        return rv;
    if (buf.len < 26 || buf.data[0] != 1 || (buf.data[1] != 1 && buf.data[1] != 2))
        rv = tb_fail(errmsg, TB_EIO, "record entry: corrupt value (%zu bytes)", buf.len);
    if (rv == TB_OK) {
        rec->issued_height = store_be64(buf.data + 2);
        rec->revoked_height = store_be64(buf.data + 10);
        rec->expires_at = store_be64(buf.data + 18);
        if ((buf.data[1] == 2) != (rec->revoked_height != 0))
            rv = tb_fail(errmsg, TB_EIO, "record entry: state and revocation disagree");
    }
    tb_buf_release(&buf);
    return rv;
}

/* The record's envelope, inclusion path and status proof at the header. */
static int proof_record_part(struct store_txn *txn, const uint8_t record_id[WIRE_HASH_BYTES],
                             const struct wire_header *h, struct proof_bundle *out,
                             struct proof_rec *rec, char *errmsg)
{
    uint64_t leaf = 0;
    int rv = store_txloc_get(txn, record_id, &rec->loc, errmsg);
    if (rv == TB_ENOTFOUND) {
        rv = store_pending_get(txn, record_id, NULL, errmsg);
        if (rv == TB_OK)
            return tb_fail(errmsg, TB_ESTATE, "the record is pending: not committed yet");
        return rv == TB_ENOTFOUND ? tb_fail(errmsg, rv, "no record with that id") : rv;
    }
    if (rv == TB_OK)
        rv = proof_rec_status(txn, record_id, rec, errmsg);
    if (rv == TB_ENOTFOUND) /* a committed tx of another kind */
        return tb_fail(errmsg, rv, "no record with that id (a tx of another kind)");
    if (rv == TB_OK)
        rv = proof_tx_at(txn, &rec->loc, &leaf, &out->record, errmsg);
    if (rv == TB_OK &&
        (wire_tx_decode(out->record.data, out->record.len, &rec->tx, errmsg) != TB_OK ||
         rec->tx.kind != WIRE_KIND_RECORD_ISSUE || rec->tx.sig_count != 1 ||
         rec->issued_height != rec->loc.height))
        rv = tb_fail(errmsg, TB_EIO, "the stored record envelope is not the record (corrupt)");
    if (rv == TB_OK)
        rv = proof_inclusion_make(out->suite, txn, rec->loc.height, leaf, record_id, h,
                                  &out->record_inclusion, errmsg);
    if (rv != TB_OK)
        return rv;
    memcpy(out->record_id, record_id, WIRE_HASH_BYTES);
    struct wire_status st = {.state = 1, .height_a = rec->issued_height, .time_s = rec->expires_at};
    if (rec->revoked_height != 0 && rec->revoked_height <= h->height) {
        st.state = 2;
        st.height_b = rec->revoked_height;
    }
    bool present = rec->issued_height <= h->height;
    TB_ASSERT(present == out->record_inclusion.present);
    return proof_status_make(out->suite, txn, h->state_root, record_id, present ? &st : NULL,
                             &out->record_status, errmsg);
}

/* The public key behind a signature's key id (meta "ledger/k" || key id, ledger.h). */
static int proof_signer_key(struct store_txn *txn, const uint8_t key_id[WIRE_HASH_BYTES],
                            uint8_t pub[WIRE_PUBKEY_BYTES_MAX], size_t *pub_len, char *errmsg)
{
    uint8_t k[PROOF_LEDGER_KEY_PREFIX_BYTES + WIRE_HASH_BYTES];
    struct tb_buf buf;
    memcpy(k, PROOF_LEDGER_KEY_PREFIX, PROOF_LEDGER_KEY_PREFIX_BYTES);
    memcpy(k + PROOF_LEDGER_KEY_PREFIX_BYTES, key_id, WIRE_HASH_BYTES);
    struct tb_bytes key = {k, sizeof(k)};
    tb_buf_init(&buf, WIRE_PUBKEY_BYTES_MAX);
    int rv = store_get(txn, STORE_DB_META, key, &buf, errmsg);
    if (rv == TB_OK && buf.len == 0)
        rv = tb_fail(errmsg, TB_EIO, "empty agency key entry");
    if (rv == TB_OK) {
        memcpy(pub, buf.data, buf.len);
        *pub_len = buf.len;
    } else if (rv == TB_ENOTFOUND || rv == TB_ELIMIT) {
        rv = tb_fail(errmsg, TB_EIO,
                     "the record's signer key is not a registered agency key (corrupt store)");
    }
    tb_buf_release(&buf);
    return rv;
}

/*
 * The agency.register envelope of agency a (its body re-encoded: one encoding per value), its
 * tx id, location and log leaf index.
 */
static int proof_register_tx(struct store_txn *txn, const struct ledger_agency *a,
                             struct proof_bundle *out, uint8_t tx_id[WIRE_HASH_BYTES],
                             struct store_txloc *loc, uint64_t *leaf, char *errmsg)
{
    struct wire_tx_body body;
    struct tb_buf bb;
    memset(&body, 0, sizeof(body));
    body.kind = WIRE_KIND_AGENCY_REGISTER;
    body.u.reg.city = (struct tb_bytes){(const uint8_t *)a->city, strlen(a->city)};
    body.u.reg.agency = (struct tb_bytes){(const uint8_t *)a->agency, strlen(a->agency)};
    body.u.reg.name = (struct tb_bytes){(const uint8_t *)a->name, strlen(a->name)};
    body.u.reg.public_key = (struct tb_bytes){a->public_key, a->public_key_len};
    TB_ASSERT(a->type_count <= WIRE_AGENCY_TYPES_MAX);
    for (size_t i = 0; i < a->type_count; i++)
        body.u.reg.types[i] = (struct tb_bytes){(const uint8_t *)a->types[i], strlen(a->types[i])};
    body.u.reg.type_count = a->type_count;
    body.u.reg.not_after = a->not_after;
    tb_buf_init(&bb, WIRE_TX_BYTES_MAX);
    int rv = wire_tx_body_encode(&body, &bb, errmsg);
    if (rv != TB_OK)
        return tb_fail(errmsg, TB_EIO, "stored agency does not encode (corrupt store)");
    wire_tx_id(out->suite, out->chain_id, WIRE_KIND_AGENCY_REGISTER, bb.data, bb.len, tx_id);
    rv = store_txloc_get(txn, tx_id, loc, errmsg);
    if (rv == TB_ENOTFOUND)
        rv = tb_fail(errmsg, TB_EIO, "agency %s/%s: its register tx is not located", a->city,
                     a->agency);
    if (rv == TB_OK)
        rv = proof_tx_at(txn, loc, leaf, &out->agency_register, errmsg);
    tb_buf_release(&bb);
    return rv;
}

/* The signer's agency.register tx, its inclusion path and its key's status proof. */
static int proof_agency_part(struct ledger *l, struct store_txn *txn, const struct wire_header *h,
                             const struct proof_rec *rec, struct proof_bundle *out, char *errmsg)
{
    uint8_t pub[WIRE_PUBKEY_BYTES_MAX], tx_id[WIRE_HASH_BYTES], tree_key[WIRE_HASH_BYTES];
    size_t pub_len = 0;
    struct ledger_agency a;
    struct store_txloc loc;
    TB_ASSERT(rec->tx.sig_count == 1); /* proof_record_part checked */
    int rv = proof_signer_key(txn, rec->tx.sigs[0].key_id, pub, &pub_len, errmsg);
    if (rv == TB_OK)
        rv = ledger_agency_get(l, txn, (struct tb_bytes){pub, pub_len}, &a, errmsg);
    if (rv == TB_ENOTFOUND)
        rv = tb_fail(errmsg, TB_EIO, "the record's signer has no agency entry (corrupt store)");
    uint64_t leaf = 0;
    if (rv == TB_OK)
        rv = proof_register_tx(txn, &a, out, tx_id, &loc, &leaf, errmsg);
    if (rv == TB_OK)
        rv = proof_inclusion_make(out->suite, txn, loc.height, leaf, tx_id, h,
                                  &out->agency_inclusion, errmsg);
    if (rv != TB_OK)
        return rv;
    struct wire_status st = {.state = 1, .height_a = a.registered_height, .time_s = a.not_after};
    if (a.retired_height != 0 && a.retired_height <= h->height) {
        st.state = 2;
        st.height_b = a.retired_height;
    }
    bool present = a.registered_height <= h->height;
    wire_agency_key_id(out->suite, pub, pub_len, tree_key);
    return proof_status_make(out->suite, txn, h->state_root, tree_key, present ? &st : NULL,
                             &out->agency_status, errmsg);
}

/* ------------------------------------------------------------------- build */

int proof_build(struct ledger *l, struct store_txn *txn, const uint8_t record_id[WIRE_HASH_BYTES],
                uint64_t height, struct proof_bundle *out, char *errmsg)
{
    struct ledger_tip tip;
    struct wire_header h;
    struct proof_rec rec;
    TB_ASSERT(out->record.max == WIRE_TX_BYTES_MAX); /* init'ed */
    proof_bundle_release(out);
    int rv = ledger_tip_get(l, txn, &tip, errmsg);
    if (rv != TB_OK)
        return rv;
    if (height == 0)
        height = tip.state.height;
    if (height == 0)
        return tb_fail(errmsg, TB_ENOTFOUND, "no block is committed yet");
    if (height > tip.state.height)
        return tb_fail(errmsg, TB_ENOTFOUND,
                       "height %" PRIu64 " is not committed (latest %" PRIu64 ")", height,
                       tip.state.height);
    rv = proof_header_part(l, txn, height, out, &h, errmsg);
    if (rv == TB_OK)
        rv = proof_record_part(txn, record_id, &h, out, &rec, errmsg);
    if (rv == TB_OK)
        rv = proof_agency_part(l, txn, &h, &rec, out, errmsg);
    if (rv != TB_OK)
        return rv;
    TB_ASSERT(out->header_view.height == height);
    TB_ASSERT(out->record_inclusion.present == out->record_status.has_value);
    return TB_OK;
}
