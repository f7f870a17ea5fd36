/*
 * Custodial agencies (docs/operators.md "Custodial agencies"): API token authentication
 * against the node's agency directory, and POST /v1/records, where the node builds a
 * record.issue for such an agency, signs it with the agency's key and submits it as
 * POST /v1/tx does.
 *
 * The directory holds, per agency of the node's own city, `<city>-<agency>.key` (PKCS#8
 * PEM, unencrypted, 0600) and `<city>-<agency>.token` (the SHA-256 of the API token in hex,
 * never the token). Files are read per request: nothing is cached, so adding or removing an
 * agency needs no restart, and no key stays in memory between requests.
 *
 * Must never: store, log or echo an ID number (it is turned into the keyed subject at once
 * and every copy this file controls is wiped), keep a token, compare token hashes in
 * variable time, or sign for a city other than the node's own.
 */
#define _GNU_SOURCE /* O_NOFOLLOW, O_CLOEXEC */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "api_int.h"
#include "cr_sign.h"
#include "tb_alloc.h"
#include "tb_assert.h"
#include "tb_hex.h"

#define API_AGENCY_FILES_MAX 4096u /* directory entries looked at per authentication */
#define API_TOKEN_FILE_BYTES_MAX 80u
#define API_SUBJECT_KEY_FILE_BYTES_MAX 80u
#define API_ID_NUMBER_BYTES_MAX 64u
#define API_RECORDS_JSON_BYTES_MAX (TB_BASE64_ENCODED_SIZE(API_DOCUMENT_BYTES_MAX) + 64u * 1024u)

/* ------------------------------------------------------------- directory */

int api_agency_dir(const struct cfg_config *cfg, char out[CFG_PATH_MAX])
{
    /* [node] agency_dir, already resolved against the config file's directory. */
    size_t n = strnlen(cfg->node.agency_dir, CFG_PATH_MAX);
    if (n == 0 || n >= CFG_PATH_MAX)
        return TB_ELIMIT;
    memcpy(out, cfg->node.agency_dir, n + 1);
    return TB_OK;
}

/* Reads a small file (at most max bytes); flags adds O_NOFOLLOW for the token files. */
static int api_file_read_small(int dirfd, const char *path, int flags, uint8_t *buf, size_t max,
                               size_t *len)
{
    TB_ASSERT(max > 0);
    TB_ASSERT(path != NULL);
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | flags);
    if (fd < 0)
        return errno == ENOENT ? TB_ENOTFOUND : TB_EIO;
    size_t have = 0;
    int rv = TB_OK;
    for (;;) {
        ssize_t r = read(fd, buf + have, max + 1 - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rv = TB_EIO;
            break;
        }
        if (r == 0)
            break;
        have += (size_t)r;
        if (have > max) {
            rv = TB_ELIMIT;
            break;
        }
    }
    close(fd);
    *len = have;
    return rv;
}

/* 32 bytes from 64 hex digits with an optional final newline. */
static int api_hex32_file(const uint8_t *buf, size_t len, uint8_t out[32])
{
    if (len == 65 && buf[64] == '\n')
        len = 64;
    if (len != 64)
        return TB_EMALFORMED;
    return tb_hex_decode((const char *)buf, 64, out, 32);
}

/* The agency code of "<city>-<agency>.token", or false for any other name. */
static bool api_token_name(const char *name, const char *city,
                           char agency[WIRE_AGENCY_BYTES_MAX + 1])
{
    static const char suffix[] = ".token";
    size_t n = strlen(name), c = strlen(city), s = sizeof(suffix) - 1;
    if (n <= c + 1 + s || strncmp(name, city, c) != 0 || name[c] != '-' ||
        strcmp(name + n - s, suffix) != 0)
        return false;
    size_t a = n - s - c - 1;
    if (a > WIRE_AGENCY_BYTES_MAX)
        return false;
    for (size_t i = 0; i < a; i++) {
        char ch = name[c + 1 + i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              ch == '_' || ch == '-'))
            return false;
    }
    memcpy(agency, name + c + 1, a);
    agency[a] = '\0';
    return true;
}

/*
 * Compares H(token) with every token file of the city: all of them, whatever matched
 * before, so that the time taken does not tell which agency (if any) a token belongs to.
 * *matches counts the files that matched (2 or more is an operator's mistake).
 */
static int api_token_scan(const char *dir, const char *city, const uint8_t hash[32],
                          struct api_agency_cred *out, unsigned *matches)
{
    DIR *d = opendir(dir);
    *matches = 0;
    if (d == NULL)
        return errno == ENOENT ? TB_OK : TB_EIO; /* no directory: nobody is custodial */
    struct dirent *e;
    for (unsigned seen = 0; seen < API_AGENCY_FILES_MAX && (e = readdir(d)) != NULL; seen++) {
        char agency[WIRE_AGENCY_BYTES_MAX + 1];
        uint8_t buf[API_TOKEN_FILE_BYTES_MAX + 1], stored[32];
        size_t len = 0;
        if (!api_token_name(e->d_name, city, agency))
            continue;
        if (api_file_read_small(dirfd(d), e->d_name, O_NOFOLLOW, buf, API_TOKEN_FILE_BYTES_MAX,
                                &len) != TB_OK ||
            api_hex32_file(buf, len, stored) != TB_OK)
            continue; /* an unreadable token file authenticates nobody */
        if (tb_memeq_ct(stored, hash, 32)) {
            (*matches)++;
            snprintf(out->agency, sizeof(out->agency), "%s", agency);
        }
    }
    closedir(d);
    return TB_OK;
}

/* The token of "Bearer <b64token>" (RFC 6750 2.1), or NULL. */
static const char *api_bearer_token(const char *h, size_t *len)
{
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    const char *t = h + 7;
    size_t n = strlen(t), i = 0;
    while (i < n && (strchr("-._~+/", t[i]) != NULL || (t[i] >= '0' && t[i] <= '9') ||
                     (t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z')))
        i++;
    while (i < n && t[i] == '=')
        i++;
    if (i != n || n < API_TOKEN_BYTES_MIN || n > API_TOKEN_BYTES_MAX)
        return NULL;
    *len = n;
    return t;
}

int api_req_agency(struct http_req *req, struct node *n, struct api_agency_cred *out)
{
    const struct cfg_config *cfg = node_config(n);
    char dir[CFG_PATH_MAX];
    uint8_t hash[32];
    size_t len = 0;
    unsigned matches = 0;
    memset(out, 0, sizeof(*out));
    const char *token = api_bearer_token(http_req_header(req, "Authorization"), &len);
    if (token == NULL) {
        http_reply_error(req, 401, "unauthorised", "expected Authorization: Bearer <agency token>");
        return TB_EAUTH;
    }
    /* Always SHA-256, whatever the suite: the token files are the operator's, not the ledger's. */
    cr_hash(CR_SUITE_ED25519_SHA256, token, len, hash);
    snprintf(out->city, sizeof(out->city), "%s", cfg->node.city);
    int rv = api_agency_dir(cfg, dir);
    if (rv == TB_OK)
        rv = api_token_scan(dir, out->city, hash, out, &matches);
    tb_wipe(hash, sizeof(hash));
    if (rv != TB_OK) {
        http_reply_error(req, 500, "internal", "the agency directory cannot be read");
        return rv;
    }
    if (matches != 1) {
        /* Two files with one token would make the signer ambiguous: refuse both. */
        http_reply_error(req, 401, "unauthorised", "unknown agency token");
        return TB_EAUTH;
    }
    TB_ASSERT(out->agency[0] != '\0');
    return TB_OK;
}

/* ------------------------------------------------------- POST /v1/records */

/* The subject key file: exactly 32 raw bytes, or 64 hex digits and an optional newline. */
static int api_subject_key_load(const struct cfg_config *cfg, uint8_t key[32])
{
    uint8_t buf[API_SUBJECT_KEY_FILE_BYTES_MAX + 1];
    size_t len = 0;
    int rv = api_file_read_small(AT_FDCWD, cfg->node.subject_key_file, 0, buf,
                                 API_SUBJECT_KEY_FILE_BYTES_MAX, &len);
    if (rv == TB_OK && len == 32)
        memcpy(key, buf, 32);
    else if (rv == TB_OK)
        rv = api_hex32_file(buf, len, key) == TB_OK ? TB_OK : TB_ECONFIG;
    tb_wipe(buf, sizeof(buf));
    return rv;
}

/* The issue being built: views into the request's JSON, which must outlive it. */
struct api_issue
{
    struct wire_record_issue rec;
    uint8_t subject[WIRE_HASH_BYTES];
    uint8_t *doc; /* the decoded "document" (tb_malloc'd, wiped and freed by the handler) */
    size_t doc_len;
};

static int api_claim_cmp(const void *a, const void *b)
{
    const struct wire_claim *x = a, *y = b;
    size_t n = x->key.len < y->key.len ? x->key.len : y->key.len;
    int c = memcmp(x->key.ptr, y->key.ptr, n);
    if (c != 0)
        return c;
    return x->key.len < y->key.len ? -1 : x->key.len > y->key.len;
}

/* claims: an object of strings and non-negative integers, sorted bytewise for the wire. */
static int api_issue_claims(json_t *claims, struct wire_record_issue *r, char *errmsg)
{
    const char *key;
    json_t *v;
    if (claims == NULL)
        return TB_OK;
    if (!json_is_object(claims))
        return tb_fail(errmsg, TB_EINVAL, "claims: expected an object");
    if (json_object_size(claims) > WIRE_CLAIMS_MAX)
        return tb_fail(errmsg, TB_EINVAL, "claims: more than %u", WIRE_CLAIMS_MAX);
    json_object_foreach(claims, key, v)
    {
        struct wire_claim *c = &r->claims[r->claim_count++];
        TB_ASSERT(r->claim_count <= WIRE_CLAIMS_MAX);
        c->key.ptr = (const uint8_t *)key;
        c->key.len = strlen(key);
        /* A key with an escaped NUL would be cut short here: refuse it rather than sign a
         * different claim than the one sent. */
        if (c->key.len != json_object_iter_key_len(json_object_key_to_iter(key)))
            return tb_fail(errmsg, TB_EINVAL, "claims: a key contains NUL");
        if (json_is_string(v)) {
            c->str_value.ptr = (const uint8_t *)json_string_value(v);
            c->str_value.len = json_string_length(v);
        } else if (json_is_integer(v) && json_integer_value(v) >= 0) {
            c->is_uint = true;
            c->uint_value = (uint64_t)json_integer_value(v);
        } else {
            return tb_fail(errmsg, TB_EINVAL, "claims: values are strings or integers >= 0");
        }
    }
    qsort(r->claims, r->claim_count, sizeof(r->claims[0]), api_claim_cmp);
    return TB_OK;
}

/* subject or id_number (exactly one); the ID number's only copies are wiped here. */
static int api_issue_subject(struct node *n, json_t *j, struct api_issue *is, char *errmsg)
{
    json_t *subject = json_object_get(j, "subject"), *idn = json_object_get(j, "id_number");
    TB_ASSERT(json_is_object(j));
    if ((subject == NULL) == (idn == NULL))
        return tb_fail(errmsg, TB_EINVAL, "give exactly one of subject and id_number");
    if (subject != NULL) {
        if (!json_is_string(subject) ||
            api_hex32_parse(json_string_value(subject), json_string_length(subject), is->subject) !=
                TB_OK)
            return tb_fail(errmsg, TB_EINVAL, "subject: expected 64 lowercase hex digits");
        return TB_OK;
    }
    if (!json_is_string(idn))
        return tb_fail(errmsg, TB_EINVAL, "id_number: expected a string");
    /* jansson's copy of the number, to be wiped: it owns the buffer and frees it unwiped. */
    char *number = (char *)json_string_value(idn);
    size_t len = json_string_length(idn);
    uint8_t key[32];
    int rv = TB_OK;
    if (len > API_ID_NUMBER_BYTES_MAX || strlen(number) != len)
        rv = tb_fail(errmsg, TB_EINVAL, "id_number: not an ID number");
    else if (api_subject_key_load(node_config(n), key) != TB_OK)
        rv = tb_fail(errmsg, TB_ECONFIG, "the node's subject key file is unusable");
    else
        rv = cr_subject(ledger_suite(node_ledger(n)), key, number, is->subject, errmsg);
    if (rv == TB_EINVAL)
        tb_errmsg_wrapf(errmsg, "id_number");
    tb_wipe(key, sizeof(key));
    tb_wipe(number, len);
    return rv;
}

/* doc_digest or document (at most one; neither: the digest of an empty document). */
static int api_issue_digest(struct node *n, json_t *j, struct api_issue *is, char *errmsg)
{
    json_t *dd = json_object_get(j, "doc_digest"), *doc = json_object_get(j, "document");
    enum cr_suite suite = ledger_suite(node_ledger(n));
    TB_ASSERT(json_is_object(j));
    if (dd != NULL && doc != NULL)
        return tb_fail(errmsg, TB_EINVAL, "give at most one of doc_digest and document");
    if (dd != NULL) {
        if (!json_is_string(dd) || api_hex32_parse(json_string_value(dd), json_string_length(dd),
                                                   is->rec.doc_digest) != TB_OK)
            return tb_fail(errmsg, TB_EINVAL, "doc_digest: expected 64 lowercase hex digits");
        return TB_OK;
    }
    if (doc == NULL) {
        cr_hash(suite, "", 0, is->rec.doc_digest);
        return TB_OK;
    }
    if (!json_is_string(doc))
        return tb_fail(errmsg, TB_EINVAL, "document: expected base64");
    uint8_t *bytes = tb_malloc(API_DOCUMENT_BYTES_MAX);
    size_t len = 0;
    if (bytes == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "out of memory");
    int rv = tb_base64_decode(json_string_value(doc), json_string_length(doc), bytes,
                              API_DOCUMENT_BYTES_MAX, &len);
    if (rv == TB_OK) {
        cr_hash(suite, bytes, len, is->rec.doc_digest);
        is->doc = bytes; /* stored sealed once signed (api_document_attach) */
        is->doc_len = len;
        return TB_OK;
    }
    rv = tb_fail(errmsg, TB_EINVAL, "document: padded standard base64 of at most %u bytes",
                 API_DOCUMENT_BYTES_MAX);
    tb_free(bytes);
    return rv;
}

/* Fills the record.issue from the request (400 material on TB_EINVAL). */
static int api_issue_build(struct node *n, json_t *j, const struct api_agency_cred *cred,
                           struct api_issue *is, char *errmsg)
{
    json_t *type = json_object_get(j, "type"), *exp = json_object_get(j, "expires_at");
    struct wire_record_issue *r = &is->rec;
    TB_ASSERT(cred->city[0] != '\0' && cred->agency[0] != '\0');
    TB_ASSERT(r->claim_count == 0); /* a fresh, zeroed issue */
    if (!json_is_string(type))
        return tb_fail(errmsg, TB_EINVAL, "type: expected a string");
    r->type.ptr = (const uint8_t *)json_string_value(type);
    r->type.len = json_string_length(type);
    r->city.ptr = (const uint8_t *)cred->city;
    r->city.len = strlen(cred->city);
    r->agency.ptr = (const uint8_t *)cred->agency;
    r->agency.len = strlen(cred->agency);
    if (exp != NULL && (!json_is_integer(exp) || json_integer_value(exp) < 0))
        return tb_fail(errmsg, TB_EINVAL, "expires_at: expected an integer >= 0");
    r->expires_at = exp != NULL ? (uint64_t)json_integer_value(exp) : 0;
    int rv = api_issue_claims(json_object_get(j, "claims"), r, errmsg);
    if (rv == TB_OK)
        rv = api_issue_subject(n, j, is, errmsg);
    if (rv == TB_OK)
        rv = api_issue_digest(n, j, is, errmsg);
    if (rv != TB_OK)
        return rv;
    memcpy(r->subject, is->subject, WIRE_HASH_BYTES);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now); /* issued_at is the issuer's claim; the ledger bounds it */
    r->issued_at = (uint64_t)now.tv_sec;
    if (cr_random(r->nonce, sizeof(r->nonce)) != TB_OK)
        return tb_fail(errmsg, TB_ECRYPTO, "no randomness for the nonce");
    return TB_OK;
}

/* Signs the body with the agency's key and encodes the envelope into env. */
static int api_issue_sign(struct node *n, const struct api_agency_cred *cred,
                          const struct api_issue *is, struct tb_buf *env, char *errmsg)
{
    struct wire_tx_body body = {.kind = WIRE_KIND_RECORD_ISSUE};
    struct wire_tx tx = {.kind = WIRE_KIND_RECORD_ISSUE, .sig_count = 1};
    struct tb_buf bb, in;
    struct cr_key *key = NULL;
    char dir[CFG_PATH_MAX], path[CFG_PATH_MAX + WIRE_AGENCY_BYTES_MAX + 32];
    uint8_t chain_id[WIRE_HASH_BYTES], sig[CR_SIG_MAX];
    size_t sig_len = 0;
    TB_ASSERT(is->rec.city.len > 0 && is->rec.agency.len > 0);
    TB_ASSERT(memcmp(is->rec.subject, is->subject, WIRE_HASH_BYTES) == 0);
    body.u.issue = is->rec;
    tb_buf_init(&bb, WIRE_TX_BYTES_MAX);
    tb_buf_init(&in, WIRE_TX_BYTES_MAX + 64);
    int rv = wire_tx_body_encode(&body, &bb, errmsg); /* TB_EINVAL / TB_ELIMIT: the request */
    if (rv == TB_OK && api_agency_dir(node_config(n), dir) == TB_OK)
        snprintf(path, sizeof(path), "%s/%s-%s.key", dir, cred->city, cred->agency);
    else if (rv == TB_OK)
        rv = tb_fail(errmsg, TB_ECONFIG, "agency directory path too long");
    if (rv == TB_OK &&
        (cr_key_load_pem(path, NULL, &key, NULL) != TB_OK || !cr_key_has_private(key) ||
         cr_key_suite(key) != ledger_suite(node_ledger(n))))
        rv = tb_fail(errmsg, TB_ECONFIG, "the key file of agency %s is unusable", cred->agency);
    ledger_chain_id(node_ledger(n), chain_id);
    if (rv == TB_OK)
        rv = wire_tx_sign_input(chain_id, tx.kind, bb.data, bb.len, &in);
    if (rv == TB_OK)
        rv = cr_sign(key, in.data, in.len, sig, &sig_len);
    /* Verified before it leaves: a key file whose halves disagree must not reach the ledger. */
    if (rv == TB_OK && cr_verify(key, in.data, in.len, sig, sig_len) != TB_OK)
        rv = tb_fail(errmsg, TB_ECRYPTO, "the key of agency %s does not verify its signature",
                     cred->agency);
    if (rv == TB_OK) {
        cr_key_id(key, tx.sigs[0].key_id);
        tx.sigs[0].sig.ptr = sig;
        tx.sigs[0].sig.len = sig_len;
        tx.body.ptr = bb.data;
        tx.body.len = bb.len;
        rv = wire_tx_encode(&tx, env, errmsg);
    }
    cr_key_free(key);
    tb_buf_release(&bb);
    tb_buf_release(&in);
    return rv;
}

/*
 * Wipes the request's id_number wherever the handler stopped (a bad claim or an extra field
 * returns before api_issue_subject): jansson frees its strings unwiped. The request body
 * itself is wiped by the HTTP layer once answered (node/http.c).
 */
static void api_id_number_wipe(json_t *j)
{
    json_t *idn = json_object_get(j, "id_number");
    if (json_is_string(idn))
        tb_wipe((char *)(uintptr_t)json_string_value(idn), json_string_length(idn));
}

void api_h_records_post(struct http_req *req, void *arg)
{
    static const char *const fields[] = {"type",   "subject",    "id_number", "expires_at",
                                         "claims", "doc_digest", "document",  NULL};
    struct node *n = arg;
    struct api_agency_cred cred;
    struct tb_buf env;
    json_t *j = NULL;
    char errmsg[TB_ERRMSG_SIZE] = "";
    if (api_req_agency(req, n, &cred) != TB_OK)
        return;
    if (api_req_json(req, API_RECORDS_JSON_BYTES_MAX, &j) != TB_OK ||
        api_req_fields(req, j, fields) != TB_OK) {
        if (j != NULL)
            api_id_number_wipe(j);
        json_decref(j);
        return;
    }
    struct api_issue *is = tb_calloc(1, sizeof(*is));
    tb_buf_init(&env, WIRE_TX_BYTES_MAX);
    int rv = is != NULL ? api_issue_build(n, j, &cred, is, errmsg) : TB_ENOMEM;
    if (rv == TB_OK)
        rv = api_issue_sign(n, &cred, is, &env, errmsg);
    if (rv == TB_EINVAL || rv == TB_ELIMIT) {
        http_reply_error(req, 400, "bad_request", "%s", errmsg);
    } else if (rv != TB_OK) {
        http_reply_error(req, 500, "internal", "%s", errmsg[0] != '\0' ? errmsg : tb_strerror(rv));
    } else {
        struct tb_bytes e = {.ptr = env.data, .len = env.len};
        if (is->doc == NULL || api_document_attach(req, n, e, is->doc, is->doc_len) == TB_OK)
            api_submit_reply(req, n, e, is->subject);
    }
    tb_buf_release(&env);
    if (is != NULL && is->doc != NULL) {
        tb_wipe(is->doc, is->doc_len); /* a citizen's document: not left in freed memory */
        tb_free(is->doc);
    }
    tb_free(is);
    api_id_number_wipe(j);
    json_decref(j);
}
