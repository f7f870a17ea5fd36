/*
 * `tongban demo`: a walk-through of what the foundation does, for real, in both suites:
 * keys for two cities, a genesis and its chain id, an agency, a signed record for a
 * citizen (whose ID number becomes a keyed hash), its place in the append-only log with
 * an inclusion proof, and its status with a proof before and after a revocation.
 *
 * Everything printed is computed here; nothing is canned. Files go to --dir (or a
 * temporary directory that is removed at the end).
 *
 * This is the offline walk-through (`tongban demo --offline`): no node runs and nothing
 * is sent anywhere. The live federation of four cities on loopback is ./scripts/demo,
 * which drives `tongban init`, `genesis`, `node`, `agency add`, `issue` and `revoke`.
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "cr_hash.h"
#include "cr_log.h"
#include "cr_sign.h"
#include "cr_smt.h"
#include "genesis.h"
#include "tb_hex.h"
#include "wire.h"

#define DEMO_CITIES 2
#define DEMO_OTHER_TXS 6

struct demo_city
{
    const char *code;
    const char *name;
    const char *endpoint;
};

static const struct demo_city demo_cities[DEMO_CITIES] = {
    {"371500", "聊城", "http://127.0.0.1:7101"},
    {"370100", "济南", "http://127.0.0.1:7102"},
};

/* A made-up ID number with a valid GB 11643 check character. Only its keyed hash is kept. */
static const char demo_id_number[] = "371502199001011234";

struct demo
{
    enum cr_suite suite;
    const char *dir;
    struct cr_key *city_keys[DEMO_CITIES];
    struct cr_key *agency_key;
    struct cfg_genesis genesis;
    uint8_t chain_id[CR_HASH_BYTES];
    uint8_t subject_key[32];
    uint8_t record_id[CR_HASH_BYTES];
    char errmsg[TB_ERRMSG_SIZE];
};

static void demo_hex(const char *label, const uint8_t *data, size_t len)
{
    char hex[2 * 128 + 1];
    if (len > 128)
        len = 128;
    tb_hex_encode(data, len, hex);
    printf("  %-22s %s\n", label, hex);
}

static int demo_check(struct demo *d, int rv, const char *what)
{
    if (rv != TB_OK)
        return cli_fail("demo", "%s: %s%s%s", what, tb_strerror(rv), d->errmsg[0] ? ": " : "",
                        d->errmsg);
    return CLI_EXIT_OK;
}

/* Step 1: a node key per city, saved as PEM, and a member descriptor for each. */
static int demo_cities_make(struct demo *d, struct cfg_member *members)
{
    for (int i = 0; i < DEMO_CITIES; i++) {
        char path[4096];
        uint8_t id[CR_HASH_BYTES];
        int rv = cr_key_generate(d->suite, &d->city_keys[i]);
        if (demo_check(d, rv, "generate a city key") != CLI_EXIT_OK)
            return CLI_EXIT_FAIL;
        snprintf(path, sizeof(path), "%s/%s-%s.key", d->dir, demo_cities[i].code,
                 cr_suite_name(d->suite));
        rv = cr_key_save_pem(d->city_keys[i], path, NULL, d->errmsg);
        if (demo_check(d, rv, "save a city key") != CLI_EXIT_OK)
            return CLI_EXIT_FAIL;
        memset(&members[i], 0, sizeof(members[i]));
        snprintf(members[i].city, sizeof(members[i].city), "%s", demo_cities[i].code);
        snprintf(members[i].name, sizeof(members[i].name), "%s", demo_cities[i].name);
        snprintf(members[i].endpoint, sizeof(members[i].endpoint), "%s", demo_cities[i].endpoint);
        members[i].node_key_len = cr_key_public(d->city_keys[i], members[i].node_key);
        cr_key_id(d->city_keys[i], id);
        printf("  city %s %s: node key in %s\n", demo_cities[i].code, demo_cities[i].name, path);
        demo_hex("    key id", id, sizeof(id));
    }
    return CLI_EXIT_OK;
}

/* Step 2: the genesis every node starts from, and its chain id. */
static int demo_genesis(struct demo *d)
{
    static const struct cfg_record_type types[] = {
        {"police.no-criminal-record", CFG_SHARING_CLOSED},
        {"provident.deposit", CFG_SHARING_CONSENT},
        {"social-security.card", CFG_SHARING_OPEN},
    };
    struct cfg_member members[DEMO_CITIES];
    struct tb_buf json;
    char path[4096];
    int rv;

    printf("\n1. Two cities make their node keys (%s)\n", cr_suite_name(d->suite));
    if (demo_cities_make(d, members) != CLI_EXIT_OK)
        return CLI_EXIT_FAIL;
    printf("\n2. They agree on a genesis: members, record types and how each may be shared\n");
    rv = cfg_genesis_build(d->suite, "黄河流域通办联盟 (demo)", (uint64_t)time(NULL), members,
                           DEMO_CITIES, types, sizeof(types) / sizeof(types[0]), &d->genesis,
                           d->errmsg);
    if (demo_check(d, rv, "build the genesis") != CLI_EXIT_OK)
        return CLI_EXIT_FAIL;
    tb_buf_init(&json, CFG_GENESIS_FILE_MAX);
    snprintf(path, sizeof(path), "%s/genesis-%s.json", d->dir, cr_suite_name(d->suite));
    rv = cfg_genesis_to_json(&d->genesis, &json);
    if (rv == TB_OK)
        rv = cli_write_file(path, json.data, json.len, 0644, d->errmsg);
    tb_buf_release(&json);
    if (demo_check(d, rv, "write the genesis") != CLI_EXIT_OK)
        return CLI_EXIT_FAIL;
    rv = cfg_genesis_chain_id(&d->genesis, d->chain_id);
    if (demo_check(d, rv, "compute the chain id") != CLI_EXIT_OK)
        return CLI_EXIT_FAIL;
    printf("  genesis file           %s\n", path);
    demo_hex("chain id", d->chain_id, sizeof(d->chain_id));
    for (size_t i = 0; i < d->genesis.type_count; i++)
        printf("  record type            %s (%s)\n", d->genesis.types[i].type,
               cfg_sharing_name(d->genesis.types[i].sharing));
    return CLI_EXIT_OK;
}

/* Signs `body` of `kind` with `key` and encodes the envelope; writes the tx id. */
static int demo_envelope(struct demo *d, struct cr_key *key, uint8_t kind,
                         const struct tb_buf *body, struct tb_buf *envelope,
                         uint8_t tx_id[CR_HASH_BYTES])
{
    struct tb_buf input;
    struct wire_tx tx = {0};
    uint8_t sig[CR_SIG_MAX];
    size_t sig_len = 0;
    int rv;

    tb_buf_init(&input, WIRE_TX_BYTES_MAX + 128);
    rv = wire_tx_sign_input(d->chain_id, kind, body->data, body->len, &input);
    if (rv == TB_OK)
        rv = cr_sign(key, input.data, input.len, sig, &sig_len);
    tb_buf_release(&input);
    if (rv != TB_OK)
        return rv;
    tx.kind = kind;
    tx.body.ptr = body->data;
    tx.body.len = body->len;
    tx.sig_count = 1;
    cr_key_id(key, tx.sigs[0].key_id);
    tx.sigs[0].sig.ptr = sig;
    tx.sigs[0].sig.len = sig_len;
    rv = wire_tx_encode(&tx, envelope, d->errmsg);
    if (rv == TB_OK)
        wire_tx_id(d->suite, d->chain_id, kind, body->data, body->len, tx_id);
    return rv;
}

/* Step 3: 聊城's node registers its housing provident fund centre as an agency. */
static int demo_agency(struct demo *d)
{
    static const char *types[] = {"provident.deposit"};
    struct wire_tx_body body = {.kind = WIRE_KIND_AGENCY_REGISTER};
    struct wire_agency_register *reg = &body.u.reg;
    uint8_t pub[CR_PUBKEY_MAX];
    uint8_t tx_id[CR_HASH_BYTES];
    struct tb_buf bytes, envelope;
    int rv;

    printf("\n3. 聊城 registers its housing provident fund centre as an agency\n");
    rv = cr_key_generate(d->suite, &d->agency_key);
    if (demo_check(d, rv, "generate the agency key") != CLI_EXIT_OK)
        return CLI_EXIT_FAIL;
    reg->city = (struct tb_bytes){(const uint8_t *)"371500", 6};
    reg->agency = (struct tb_bytes){(const uint8_t *)"hpf", 3};
    reg->name = (struct tb_bytes){(const uint8_t *)"聊城市住房公积金管理中心",
                                  strlen("聊城市住房公积金管理中心")};
    reg->public_key = (struct tb_bytes){pub, cr_key_public(d->agency_key, pub)};
    reg->types[0] = (struct tb_bytes){(const uint8_t *)types[0], strlen(types[0])};
    reg->type_count = 1;
    reg->not_after = (uint64_t)time(NULL) + 5 * 365 * 86400ULL;
    tb_buf_init(&bytes, WIRE_TX_BYTES_MAX);
    tb_buf_init(&envelope, WIRE_TX_BYTES_MAX);
    rv = wire_tx_body_encode(&body, &bytes, d->errmsg);
    if (rv == TB_OK)
        rv = demo_envelope(d, d->city_keys[0], WIRE_KIND_AGENCY_REGISTER, &bytes, &envelope, tx_id);
    if (rv == TB_OK) {
        printf("  agency.register signed by the city's node key, %zu bytes\n", envelope.len);
        demo_hex("tx id", tx_id, sizeof(tx_id));
    }
    tb_buf_release(&bytes);
    tb_buf_release(&envelope);
    return demo_check(d, rv, "sign the agency registration");
}

static void demo_issue_body(struct demo *d, const uint8_t subject[CR_HASH_BYTES],
                            const uint8_t doc_digest[CR_HASH_BYTES], struct wire_tx_body *body)
{
    struct wire_record_issue *r = &body->u.issue;
    uint64_t now = (uint64_t)time(NULL);

    memset(body, 0, sizeof(*body));
    body->kind = WIRE_KIND_RECORD_ISSUE;
    r->type = (struct tb_bytes){(const uint8_t *)"provident.deposit", 17};
    r->city = (struct tb_bytes){(const uint8_t *)"371500", 6};
    r->agency = (struct tb_bytes){(const uint8_t *)"hpf", 3};
    memcpy(r->subject, subject, CR_HASH_BYTES);
    r->issued_at = now;
    r->expires_at = now + 365 * 86400ULL;
    /* Claims: str keys sorted bytewise (the codec checks it). */
    r->claims[0] = (struct wire_claim){
        .key = {(const uint8_t *)"balance_fen", 11}, .is_uint = true, .uint_value = 12345600};
    r->claims[1] = (struct wire_claim){
        .key = {(const uint8_t *)"months_paid", 11}, .is_uint = true, .uint_value = 96};
    r->claim_count = 2;
    memcpy(r->doc_digest, doc_digest, CR_HASH_BYTES);
    (void)d;
}

/* Step 4: the agency issues a provident-fund deposit certificate for a citizen. */
static int demo_record(struct demo *d, struct tb_buf *envelope)
{
    static const char document[] = "住房公积金缴存证明 (demo document)";
    struct wire_tx_body body;
    uint8_t subject[CR_HASH_BYTES];
    uint8_t digest[CR_HASH_BYTES];
    struct tb_buf bytes;
    int rv;

    printf("\n4. The centre issues a provident-fund deposit certificate\n");
    rv = cr_random(d->subject_key, sizeof(d->subject_key));
    if (rv == TB_OK)
        rv = cr_subject(d->suite, d->subject_key, demo_id_number, subject, d->errmsg);
    if (demo_check(d, rv, "derive the subject") != CLI_EXIT_OK)
        return CLI_EXIT_FAIL;
    printf("  the citizen's ID number becomes a keyed hash; the number itself is never stored\n");
    demo_hex("subject", subject, sizeof(subject));
    cr_hash(d->suite, document, sizeof(document) - 1, digest);
    demo_issue_body(d, subject, digest, &body);
    rv = cr_random(body.u.issue.nonce, sizeof(body.u.issue.nonce));
    tb_buf_init(&bytes, WIRE_TX_BYTES_MAX);
    if (rv == TB_OK)
        rv = wire_tx_body_encode(&body, &bytes, d->errmsg);
    if (rv == TB_OK)
        rv =
            demo_envelope(d, d->agency_key, WIRE_KIND_RECORD_ISSUE, &bytes, envelope, d->record_id);
    tb_buf_release(&bytes);
    if (demo_check(d, rv, "sign the record") != CLI_EXIT_OK)
        return CLI_EXIT_FAIL;
    printf("  record.issue envelope  %zu bytes (canonical MessagePack)\n", envelope->len);
    demo_hex("record id", d->record_id, sizeof(d->record_id));
    return CLI_EXIT_OK;
}

/* Step 5: anyone holding the envelope checks the signature (decode strictly, then verify). */
static int demo_verify_record(struct demo *d, const struct tb_buf *envelope)
{
    struct wire_tx tx;
    struct wire_tx_body body;
    struct tb_buf input;
    uint8_t pub[CR_PUBKEY_MAX];
    size_t pub_len = cr_key_public(d->agency_key, pub);
    int rv;

    printf("\n5. A verifier decodes the envelope strictly and checks the agency's signature\n");
    rv = wire_tx_decode(envelope->data, envelope->len, &tx, d->errmsg);
    if (rv == TB_OK)
        rv = wire_tx_body_decode(tx.kind, tx.body.ptr, tx.body.len, &body, d->errmsg);
    if (demo_check(d, rv, "decode the record") != CLI_EXIT_OK)
        return CLI_EXIT_FAIL;
    tb_buf_init(&input, WIRE_TX_BYTES_MAX + 128);
    rv = wire_tx_sign_input(d->chain_id, tx.kind, tx.body.ptr, tx.body.len, &input);
    if (rv == TB_OK)
        rv = cr_verify_public(d->suite, pub, pub_len, input.data, input.len, tx.sigs[0].sig.ptr,
                              tx.sigs[0].sig.len);
    if (rv == TB_OK) {
        /* A one-byte change anywhere in the body must break the signature. */
        input.data[input.len - 1] ^= 1;
        int forged = cr_verify_public(d->suite, pub, pub_len, input.data, input.len,
                                      tx.sigs[0].sig.ptr, tx.sigs[0].sig.len);
        printf("  type %.*s, city %.*s, agency %.*s: signature valid; one flipped bit: %s\n",
               (int)body.u.issue.type.len, (const char *)body.u.issue.type.ptr,
               (int)body.u.issue.city.len, (const char *)body.u.issue.city.ptr,
               (int)body.u.issue.agency.len, (const char *)body.u.issue.agency.ptr,
               forged == TB_EBADSIG ? "refused" : "ACCEPTED (bug)");
        if (forged != TB_EBADSIG)
            rv = TB_EBADSIG;
    }
    tb_buf_release(&input);
    return demo_check(d, rv, "verify the record");
}

/* Step 6: the record's id joins the append-only log; its inclusion proof is checked. */
static int demo_log(struct demo *d)
{
    struct cr_log_mem mem;
    struct cr_log_store store;
    struct cr_log log;
    struct cr_log_path path;
    uint8_t leaf[CR_HASH_BYTES], root[CR_HASH_BYTES];
    uint64_t index = DEMO_OTHER_TXS / 2;
    int rv;

    printf("\n6. The record id joins the federation's append-only log (RFC 9162 Merkle tree)\n");
    cr_log_mem_init(&mem);
    store = cr_log_mem_store(&mem);
    rv = cr_log_init(&log, d->suite, &store, NULL, 0);
    for (uint64_t i = 0; rv == TB_OK && i <= DEMO_OTHER_TXS; i++) {
        uint8_t other[CR_HASH_BYTES];
        /* Other cities' records around ours: ids of made-up bodies. */
        cr_hash(d->suite, &i, sizeof(i), other);
        cr_log_leaf_hash(d->suite, i == index ? d->record_id : other, CR_HASH_BYTES, leaf);
        rv = cr_log_append(&log, NULL, leaf);
    }
    if (rv == TB_OK)
        rv = cr_log_root(&log, NULL, log.size, root);
    if (rv == TB_OK)
        rv = cr_log_inclusion_proof(&log, NULL, index, log.size, &path);
    if (rv == TB_OK) {
        cr_log_leaf_hash(d->suite, d->record_id, CR_HASH_BYTES, leaf);
        rv = cr_log_verify_inclusion(d->suite, leaf, index, log.size, &path, root);
    }
    if (rv == TB_OK) {
        printf("  leaf index %" PRIu64 " of %" PRIu64 ", inclusion path of %u hashes:\n", index,
               log.size, path.count);
        for (uint32_t i = 0; i < path.count; i++)
            demo_hex("    sibling", path.hashes[i], CR_HASH_BYTES);
        demo_hex("log root", root, sizeof(root));
        printf("  the path leads from the record id to the root: verified\n");
    }
    cr_log_release(&log);
    cr_log_mem_release(&mem);
    return demo_check(d, rv, "prove inclusion in the log");
}

/*
 * Sets the record's status in one batch; with `with_others`, the batch also holds the
 * other records of the log (same status), so that the proof has some depth.
 */
static int demo_status_set(struct demo *d, struct cr_smt *tree, const uint8_t root[CR_HASH_BYTES],
                           const struct wire_status *status, int with_others,
                           uint8_t new_root[CR_HASH_BYTES])
{
    struct cr_smt_op ops[DEMO_OTHER_TXS + 1];
    size_t count = 1;
    struct tb_buf value;
    int rv;

    memset(ops, 0, sizeof(ops));
    tb_buf_init(&value, WIRE_SMALL_BYTES_MAX);
    rv = wire_status_encode(status, &value, d->errmsg);
    if (rv != TB_OK)
        return rv;
    memcpy(ops[0].key, d->record_id, CR_HASH_BYTES);
    cr_hash(d->suite, value.data, value.len, ops[0].value_hash);
    for (uint64_t i = 0; with_others && i < DEMO_OTHER_TXS; i++, count++) {
        cr_hash(d->suite, &i, sizeof(i), ops[count].key);
        memcpy(ops[count].value_hash, ops[0].value_hash, CR_HASH_BYTES);
    }
    rv = cr_smt_update(tree, NULL, root, ops, count, new_root);
    tb_buf_release(&value);
    return rv;
}

static int demo_status_prove(struct demo *d, struct cr_smt *tree, const uint8_t root[32],
                             const char *label)
{
    struct cr_smt_proof *proof = calloc(1, sizeof(*proof));
    uint8_t value_hash[CR_HASH_BYTES];
    int found = 0;
    int rv = proof == NULL ? TB_ENOMEM : TB_OK;
    if (rv == TB_OK)
        rv = cr_smt_get(tree, NULL, root, d->record_id, value_hash, &found);
    if (rv == TB_OK && !found)
        rv = TB_ENOTFOUND;
    if (rv == TB_OK)
        rv = cr_smt_prove(tree, NULL, root, d->record_id, proof);
    if (rv == TB_OK)
        rv = cr_smt_verify(d->suite, root, d->record_id, value_hash, proof);
    if (rv == TB_OK)
        printf("  %-8s status root %02x%02x%02x%02x..., proof depth %u: verified\n", label, root[0],
               root[1], root[2], root[3], proof->depth);
    free(proof);
    return rv;
}

/* Step 7: the status tree says "valid"; after a revocation a new root says "revoked". */
static int demo_status(struct demo *d)
{
    static const uint8_t empty[CR_HASH_BYTES] = {0};
    struct wire_status status = {.state = 1, .height_a = 1, .height_b = 0};
    struct cr_smt_mem mem;
    struct cr_smt_store store;
    struct cr_smt tree;
    uint8_t valid_root[CR_HASH_BYTES], revoked_root[CR_HASH_BYTES];
    int rv;

    printf("\n7. Its status lives in a sparse Merkle tree; a revocation gives a new root\n");
    status.time_s = (uint64_t)time(NULL) + 365 * 86400ULL;
    cr_smt_mem_init(&mem);
    store = cr_smt_mem_store(&mem);
    rv = cr_smt_init(&tree, d->suite, &store);
    if (rv == TB_OK)
        rv = demo_status_set(d, &tree, empty, &status, 1, valid_root);
    if (rv == TB_OK)
        rv = demo_status_prove(d, &tree, valid_root, "valid");
    status.state = 2;
    status.height_b = 2;
    if (rv == TB_OK)
        rv = demo_status_set(d, &tree, valid_root, &status, 0, revoked_root);
    if (rv == TB_OK)
        rv = demo_status_prove(d, &tree, revoked_root, "revoked");
    if (rv == TB_OK)
        printf("  both roots stay provable: a header names the root it was committed with\n");
    cr_smt_release(&tree);
    cr_smt_mem_release(&mem);
    return demo_check(d, rv, "prove the record's status");
}

static int demo_run_suite(enum cr_suite suite, const char *dir)
{
    struct demo *d = calloc(1, sizeof(*d));
    struct tb_buf envelope;
    int rv;

    if (d == NULL)
        return cli_fail("demo", "out of memory");
    d->suite = suite;
    d->dir = dir;
    printf("\n=== suite %s ===\n", cr_suite_name(suite));
    tb_buf_init(&envelope, WIRE_TX_BYTES_MAX);
    rv = demo_genesis(d);
    if (rv == CLI_EXIT_OK)
        rv = demo_agency(d);
    if (rv == CLI_EXIT_OK)
        rv = demo_record(d, &envelope);
    if (rv == CLI_EXIT_OK)
        rv = demo_verify_record(d, &envelope);
    if (rv == CLI_EXIT_OK)
        rv = demo_log(d);
    if (rv == CLI_EXIT_OK)
        rv = demo_status(d);
    tb_buf_release(&envelope);
    for (int i = 0; i < DEMO_CITIES; i++)
        cr_key_free(d->city_keys[i]);
    cr_key_free(d->agency_key);
    cfg_genesis_release(&d->genesis);
    tb_wipe(d->subject_key, sizeof(d->subject_key));
    free(d);
    return rv;
}

static int demo_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void demo_usage(FILE *out)
{
    fprintf(out,
            "usage: tongban demo --offline [--suite SUITE] [--dir DIR] [--once]\n"
            "\n"
            "The live demo, four cities' nodes on loopback, is ./scripts/demo in the source\n"
            "tree. This command is its offline companion (--offline is the default):\n"
            "Walks through what tongban does, computing everything for real: city keys, a\n"
            "genesis and its chain id, an agency, a signed record for a citizen, its inclusion\n"
            "proof in the append-only log, and its status proof before and after revocation.\n"
            "\n"
            "  --suite SUITE  only this suite (ed25519-sha256 or sm2-sm3); default: both\n"
            "  --dir DIR      keep the files made (keys, genesis) in DIR; default: a temporary\n"
            "                 directory removed at the end\n"
            "  --offline      no nodes, nothing sent: everything computed in this process\n"
            "  --once         end after the walk-through (always the case offline)\n");
}

int cli_demo(int argc, char **argv)
{
    static const struct option options[] = {
        {"suite", required_argument, NULL, 's'}, {"dir", required_argument, NULL, 'd'},
        {"once", no_argument, NULL, 'o'},        {"offline", no_argument, NULL, 'O'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    const char *suite_name = NULL;
    const char *dir = NULL;
    char tmp[] = "/tmp/tongban-demo-XXXXXX";
    enum cr_suite suite;
    int opt;
    int rv = CLI_EXIT_OK;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 's':
            suite_name = optarg;
            break;
        case 'd':
            dir = optarg;
            break;
        case 'o':
        case 'O':
            break;
        case 'h':
            demo_usage(stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("demo", "unknown option");
        }
    }
    if (optind != argc)
        return cli_usage_error("demo", "unexpected argument '%s'", argv[optind]);
    if (suite_name != NULL && cr_suite_parse(suite_name, &suite) != TB_OK)
        return cli_usage_error("demo", "unknown suite '%s'", suite_name);
    if (dir == NULL && (dir = mkdtemp(tmp)) == NULL)
        return cli_fail("demo", "cannot create a temporary directory");
    if (dir != tmp && mkdir(dir, 0700) != 0 && access(dir, W_OK) != 0)
        return cli_fail("demo", "cannot use directory '%s'", dir);
    printf("tongban demo: what one city's node does, computed for real (files in %s)\n", dir);
    printf("(offline walk-through; ./scripts/demo runs four cities' nodes on loopback)\n");
    if (suite_name == NULL || suite == CR_SUITE_ED25519_SHA256)
        rv = demo_run_suite(CR_SUITE_ED25519_SHA256, dir);
    if (rv == CLI_EXIT_OK && (suite_name == NULL || suite == CR_SUITE_SM2_SM3))
        rv = demo_run_suite(CR_SUITE_SM2_SM3, dir);
    if (dir == tmp && nftw(tmp, demo_remove_entry, 8, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "tongban demo: could not remove %s\n", tmp);
    if (rv == CLI_EXIT_OK)
        printf(
            "\ndemo complete. Next: ./scripts/demo runs it for real, four cities on loopback.\n");
    return rv;
}
