/*
 * bench/presign.c: signs the ingest benchmark's record.issue envelopes in one process
 * (`tongban issue --out` costs a process start per record: 100,000 records took ~20 minutes).
 *
 *   presign GENESIS OUT_DIR FROM TO AGENCY_KEY_0 CITY_0 AGENCY_0 [KEY CITY AGENCY]...
 *
 * Record k (FROM <= k < TO) is signed by agency k mod (number of agencies given), typed
 * provident.deposit, for subject H(k) (a stand-in for a keyed subject: the benchmark never
 * touches an ID number), with claims employer and seq=k, issued now, never expiring. It
 * appends the envelopes to OUT_DIR/envelopes.bin and one line "k RECORD_ID_HEX OFFSET LENGTH"
 * per record to OUT_DIR/index.txt (two files, not two per record: creating a file costs about
 * a millisecond on this machine's disk). The bodies are what `tongban issue` builds
 * (DESIGN 3.4), through the same wire/ and crypto/ code.
 *
 * Benchmark code: errors end the program with a message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cr_hash.h"
#include "cr_sign.h"
#include "genesis.h"
#include "tb_buf.h"
#include "tb_hex.h"
#include "wire.h"

#define PS_AGENCIES_MAX 16

struct ps_agency
{
    struct cr_key *key;
    const char *city, *agency;
};

static void ps_die(const char *what, const char *err)
{
    fprintf(stderr, "presign: %s: %s\n", what, err);
    exit(1);
}

struct ps_out
{
    FILE *envelopes, *index;
    unsigned long offset;
};

static FILE *ps_open(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "ab");
    if (f == NULL)
        ps_die(path, "cannot open");
    return f;
}

static void ps_sign_one(enum cr_suite suite, const uint8_t chain_id[WIRE_HASH_BYTES],
                        const struct ps_agency *a, unsigned long k, uint64_t now_s,
                        struct ps_out *out)
{
    static const char type[] = "provident.deposit", employer[] = "某公司";
    char err[TB_ERRMSG_SIZE] = "";
    uint8_t sig[CR_SIG_MAX], id[WIRE_HASH_BYTES];
    char id_hex[2 * WIRE_HASH_BYTES + 1], line[160];
    size_t sig_len = 0;
    struct tb_buf body, input, env;
    tb_buf_init(&body, WIRE_TX_BYTES_MAX);
    tb_buf_init(&input, WIRE_TX_BYTES_MAX + 64);
    tb_buf_init(&env, WIRE_TX_BYTES_MAX);
    struct wire_tx_body b = {.kind = WIRE_KIND_RECORD_ISSUE};
    struct wire_record_issue *r = &b.u.issue;
    r->type = (struct tb_bytes){(const uint8_t *)type, sizeof(type) - 1};
    r->city = (struct tb_bytes){(const uint8_t *)a->city, strlen(a->city)};
    r->agency = (struct tb_bytes){(const uint8_t *)a->agency, strlen(a->agency)};
    cr_hash(suite, &k, sizeof(k), r->subject);
    r->issued_at = now_s;
    r->claim_count = 2; /* sorted by key */
    r->claims[0] =
        (struct wire_claim){.key = {(const uint8_t *)"employer", 8},
                            .str_value = {(const uint8_t *)employer, sizeof(employer) - 1}};
    r->claims[1] =
        (struct wire_claim){.key = {(const uint8_t *)"seq", 3}, .is_uint = true, .uint_value = k};
    cr_hash(suite, r->subject, sizeof(r->subject), r->doc_digest);
    if (cr_random(r->nonce, sizeof(r->nonce)) != TB_OK)
        ps_die("nonce", "no randomness");
    if (wire_tx_body_encode(&b, &body, err) != TB_OK)
        ps_die("body", err);
    if (wire_tx_sign_input(chain_id, b.kind, body.data, body.len, &input) != TB_OK ||
        cr_sign(a->key, input.data, input.len, sig, &sig_len) != TB_OK)
        ps_die("sign", "failed");
    struct wire_tx tx = {.kind = b.kind, .body = {body.data, body.len}, .sig_count = 1};
    cr_key_id(a->key, tx.sigs[0].key_id);
    tx.sigs[0].sig = (struct tb_bytes){sig, sig_len};
    if (wire_tx_encode(&tx, &env, err) != TB_OK)
        ps_die("envelope", err);
    wire_tx_id(suite, chain_id, b.kind, body.data, body.len, id);
    tb_hex_encode(id, sizeof(id), id_hex);
    int n = snprintf(line, sizeof(line), "%lu %s %lu %zu\n", k, id_hex, out->offset, env.len);
    if (fwrite(env.data, 1, env.len, out->envelopes) != env.len ||
        fwrite(line, 1, (size_t)n, out->index) != (size_t)n)
        ps_die("output", "cannot write");
    out->offset += env.len;
    tb_buf_release(&body);
    tb_buf_release(&input);
    tb_buf_release(&env);
}

int main(int argc, char **argv)
{
    struct cfg_genesis g;
    struct ps_agency ag[PS_AGENCIES_MAX];
    uint8_t chain_id[WIRE_HASH_BYTES];
    char err[TB_ERRMSG_SIZE] = "";
    size_t count = argc >= 8 ? (size_t)(argc - 5) / 3 : 0;
    if (count == 0 || count > PS_AGENCIES_MAX || (argc - 5) % 3 != 0) {
        fprintf(stderr,
                "usage: presign GENESIS OUT_DIR FROM TO KEY CITY AGENCY [KEY CITY "
                "AGENCY]...\n");
        return 2;
    }
    unsigned long from = strtoul(argv[3], NULL, 10), to = strtoul(argv[4], NULL, 10);
    if (cfg_genesis_load(argv[1], &g, err) != TB_OK)
        ps_die(argv[1], err);
    if (cfg_genesis_chain_id(&g, chain_id) != TB_OK)
        ps_die("chain id", "cannot compute");
    for (size_t i = 0; i < count; i++) {
        ag[i].city = argv[5 + 3 * i + 1];
        ag[i].agency = argv[5 + 3 * i + 2];
        if (cr_key_load_pem(argv[5 + 3 * i], NULL, &ag[i].key, err) != TB_OK)
            ps_die(argv[5 + 3 * i], err);
    }
    uint64_t now_s = (uint64_t)time(NULL);
    struct ps_out out = {.envelopes = ps_open(argv[2], "envelopes.bin"),
                         .index = ps_open(argv[2], "index.txt")};
    if (fseek(out.envelopes, 0, SEEK_END) != 0 || ftell(out.envelopes) < 0)
        ps_die("envelopes.bin", "cannot seek");
    out.offset = (unsigned long)ftell(out.envelopes); /* a second batch appends */
    for (unsigned long k = from; k < to; k++)
        ps_sign_one(g.suite, chain_id, &ag[k % count], k, now_s, &out);
    if (fclose(out.envelopes) != 0 || fclose(out.index) != 0)
        ps_die("output", "cannot close");
    for (size_t i = 0; i < count; i++)
        cr_key_free(ag[i].key);
    cfg_genesis_release(&g);
    return 0;
}
