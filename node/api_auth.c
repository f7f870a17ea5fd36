/*
 * The agency request gate (node/api_auth.h): an RFC 9421-signed request (crypto/cr_httpsig.h,
 * profile D9) checked against the agency keys registered on the ledger, with the node's
 * replay cache and the created-before-start rule.
 *
 * Key lookup reads the ledger's own layout (ledger.h): meta "ledger/k" || key id gives the
 * public key, the agencies database its registration. Activity and expiry are judged at the
 * latest block time, as the ledger judges the txs the key signs; a key that is retired or
 * expired is refused only AFTER its signature verified (403: a proven but inactive agency),
 * so an unsigned request learns nothing a signed one would not.
 *
 * Must never: accept a request whose signature did not verify, answer 2xx itself, log or
 * keep the request body, or hold its read transaction past its return.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api_auth.h"
#include "api_int.h"
#include "tb_alloc.h"
#include "tb_assert.h"

#define API_AUTH_META_KEY_BYTES 8u /* "ledger/k" */

struct api_auth
{
    enum cr_suite suite;
    int64_t start_s;
    struct cr_httpsig_replay *replay;
};

int api_auth_new(enum cr_suite suite, size_t capacity, int64_t start_s, struct api_auth **out,
                 char *errmsg)
{
    TB_ASSERT(out != NULL);
    *out = NULL;
    if (start_s < 0 || capacity == 0 || capacity > CR_HTTPSIG_REPLAY_CAPACITY_MAX)
        return tb_fail(errmsg, TB_EINVAL, "agency gate: bad start time or replay capacity");
    struct api_auth *a = tb_calloc(1, sizeof(*a));
    if (a == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "agency gate: out of memory");
    a->suite = suite;
    a->start_s = start_s;
    int rv = cr_httpsig_replay_new(capacity, &a->replay);
    if (rv != TB_OK) {
        tb_free(a);
        return tb_fail(errmsg, rv, "agency gate: replay cache of %zu entries: %s", capacity,
                       tb_strerror(rv));
    }
    *out = a;
    return TB_OK;
}

void api_auth_free(struct api_auth *a)
{
    if (a == NULL)
        return;
    cr_httpsig_replay_free(a->replay);
    tb_free(a);
}

bool api_agency_has_type(const struct api_agency *who, const char *type)
{
    TB_ASSERT(who != NULL && type != NULL);
    TB_ASSERT(who->type_count <= WIRE_AGENCY_TYPES_MAX);
    for (size_t i = 0; i < who->type_count; i++) {
        if (strcmp(who->types[i], type) == 0)
            return true;
    }
    return false;
}

/* ------------------------------------------------------------- key lookup */

/* What the lookup callback needs and what it found. */
struct api_auth_lookup
{
    struct ledger *ledger;
    struct store_txn *txn;
    uint64_t tip_s;           /* latest block time, seconds */
    struct ledger_agency *ag; /* the registration of the key found */
    bool found;
    bool inactive; /* retired, or expired at tip_s */
    char why[TB_ERRMSG_SIZE];
};

static int api_auth_lookup_cb(void *ctx, const uint8_t key_id[CR_HASH_BYTES],
                              struct cr_httpsig_agency_key *out)
{
    struct api_auth_lookup *lk = ctx;
    enum cr_suite suite = ledger_suite(lk->ledger);
    uint8_t mkey[API_AUTH_META_KEY_BYTES + CR_HASH_BYTES];
    size_t pub_len = suite == CR_SUITE_SM2_SM3 ? CR_SM2_PUBKEY_BYTES : CR_ED25519_PUBKEY_BYTES;
    TB_ASSERT(pub_len <= sizeof(out->pub) && pub_len <= WIRE_PUBKEY_BYTES_MAX);
    memcpy(mkey, "ledger/k", API_AUTH_META_KEY_BYTES);
    memcpy(mkey + API_AUTH_META_KEY_BYTES, key_id, CR_HASH_BYTES);
    struct tb_bytes kb = {.ptr = mkey, .len = sizeof(mkey)};
    int rv = store_get_exact(lk->txn, STORE_DB_META, kb, out->pub, pub_len, lk->why);
    if (rv != TB_OK)
        return rv; /* TB_ENOTFOUND: unknown key; the rest: storage */
    struct tb_bytes pb = {.ptr = out->pub, .len = pub_len};
    rv = ledger_agency_get(lk->ledger, lk->txn, pb, lk->ag, lk->why);
    if (rv == TB_ENOTFOUND)
        rv = tb_fail(lk->why, TB_EIO, "agency key id without its registration (corrupt store)");
    if (rv != TB_OK)
        return rv;
    if (strlen(lk->ag->city) > CR_HTTPSIG_CITY_MAX ||
        strlen(lk->ag->agency) > CR_HTTPSIG_AGENCY_MAX)
        return tb_fail(lk->why, TB_EIO, "a registered agency code is longer than the profile's");
    out->suite = suite;
    out->pub_len = pub_len;
    snprintf(out->city, sizeof(out->city), "%s", lk->ag->city);
    snprintf(out->agency, sizeof(out->agency), "%s", lk->ag->agency);
    lk->found = true;
    if (lk->ag->state != 1) {
        lk->inactive = true;
        tb_errmsg_setf(lk->why, "agency key of %s/%s was retired at height %" PRIu64, lk->ag->city,
                       lk->ag->agency, lk->ag->retired_height);
    } else if (lk->ag->not_after <= lk->tip_s) {
        lk->inactive = true;
        tb_errmsg_setf(lk->why,
                       "agency key of %s/%s expired at %" PRIu64 " (latest block %" PRIu64 " s)",
                       lk->ag->city, lk->ag->agency, lk->ag->not_after, lk->tip_s);
    }
    return TB_OK;
}

/* ---------------------------------------------------------------- the check */

/* Fills the refusal: message = prefix followed by reason. */
static int api_auth_refuse(struct api_auth_refusal *r, int rc, int status, const char *code,
                           const char *prefix, const char *reason)
{
    TB_ASSERT(rc != TB_OK);
    r->status = status;
    r->code = code;
    int w = snprintf(r->message, sizeof(r->message), "%s%s", prefix, reason);
    if (w < 0 || (size_t)w >= sizeof(r->message))
        r->message[sizeof(r->message) - 1] = '\0'; /* a long reason loses its end, no more */
    return rc;
}

/* Maps a verifier error to the answer (docs/authentication.md 1.4, issue 6: 401/403/503). */
static int api_auth_verify_refusal(int rv, const struct api_auth_lookup *lk, const char *errmsg,
                                   struct api_auth_refusal *r)
{
    switch (rv) {
    case TB_EMALFORMED:
    case TB_EAUTH:
    case TB_EBADSIG:
        return api_auth_refuse(r, rv, 401, "unauthorised", "agency signature: ", errmsg);
    case TB_ELIMIT:
        return api_auth_refuse(r, rv, 503, "unavailable", "agency signature: ", errmsg);
    case TB_ENOSPC:
        return api_auth_refuse(r, rv, 503, "unavailable", "agency key lookup: ", lk->why);
    default:
        return api_auth_refuse(r, rv, 500, "internal",
                               "agency key lookup: ", lk->why[0] != '\0' ? lk->why : errmsg);
    }
}

static void api_auth_fill(const struct ledger_agency *ag, const struct cr_httpsig_result *res,
                          struct api_agency *out)
{
    TB_ASSERT(ag->public_key_len <= sizeof(out->public_key));
    TB_ASSERT(ag->type_count <= WIRE_AGENCY_TYPES_MAX);
    memset(out, 0, sizeof(*out));
    snprintf(out->city, sizeof(out->city), "%s", ag->city);
    snprintf(out->agency, sizeof(out->agency), "%s", ag->agency);
    memcpy(out->key_id, res->key_id, CR_HASH_BYTES);
    memcpy(out->public_key, ag->public_key, ag->public_key_len);
    out->public_key_len = ag->public_key_len;
    out->not_after = ag->not_after;
    out->type_count = ag->type_count;
    for (size_t i = 0; i < ag->type_count; i++)
        snprintf(out->types[i], sizeof(out->types[i]), "%s", ag->types[i]);
    out->created_s = res->created_s;
}

/* Verifies inside the read transaction lk->txn; the caller ends it. */
static int api_auth_verify(struct api_auth *a, struct api_auth_lookup *lk,
                           const struct cr_httpsig_request *hreq, int64_t now_s,
                           struct api_agency *out, struct api_auth_refusal *r)
{
    struct cr_httpsig_result res;
    struct ledger_tip tip;
    char errmsg[TB_ERRMSG_SIZE] = "";
    int rv = ledger_tip_get(lk->ledger, lk->txn, &tip, errmsg);
    if (rv != TB_OK)
        return api_auth_refuse(r, rv, 500, "internal", "latest block: ", errmsg);
    lk->tip_s = tip.time_ms / 1000u;
    struct cr_httpsig_verifier v = {
        .suite = a->suite, .lookup = api_auth_lookup_cb, .lookup_ctx = lk, .replay = a->replay};
    rv = cr_httpsig_verify(&v, hreq, now_s, &res, errmsg);
    if (rv != TB_OK)
        return api_auth_verify_refusal(rv, lk, errmsg, r);
    TB_ASSERT(lk->found);
    if (lk->inactive)
        return api_auth_refuse(r, TB_EAUTH, 403, "forbidden", "", lk->why);
    if (now_s <= a->start_s + CR_HTTPSIG_SKEW_S && res.created_s < a->start_s)
        return api_auth_refuse(r, TB_EAUTH, 401, "unauthorised", "",
                               "agency signature: created before this node started; sign anew");
    api_auth_fill(lk->ag, &res, out);
    return TB_OK;
}

int api_auth_check(struct api_auth *a, struct ledger *l, struct store *store,
                   const struct cr_httpsig_request *hreq, int64_t now_s, struct api_agency *out,
                   struct api_auth_refusal *refusal)
{
    char errmsg[TB_ERRMSG_SIZE] = "";
    TB_ASSERT(a != NULL && l != NULL && store != NULL && hreq != NULL);
    TB_ASSERT(out != NULL && refusal != NULL);
    TB_ASSERT(ledger_suite(l) == a->suite);
    memset(refusal, 0, sizeof(*refusal));
    struct api_auth_lookup lk = {.ledger = l};
    lk.ag = tb_calloc(1, sizeof(*lk.ag)); /* ~5 KB with its types: not the stack */
    if (lk.ag == NULL)
        return api_auth_refuse(refusal, TB_ENOMEM, 500, "internal", "", "out of memory");
    int rv = store_begin_read(store, &lk.txn, errmsg);
    if (rv != TB_OK) {
        tb_free(lk.ag);
        return api_auth_refuse(refusal, rv, rv == TB_ENOSPC ? 503 : 500,
                               rv == TB_ENOSPC ? "unavailable" : "internal",
                               "read transaction: ", errmsg);
    }
    rv = api_auth_verify(a, &lk, hreq, now_s, out, refusal);
    store_abort(lk.txn);
    tb_free(lk.ag);
    return rv;
}
