/*
 * bench/bench_chain.h: the four-city federation that bench_ledger and bench_proof both run on:
 * a genesis with one record type (pf.deposit), a store and a ledger in a directory, the node
 * keys, one agency key (370100 pf-centre), signed envelopes and the record.issue txs they
 * time. Benchmark code: any failure prints what failed and exits.
 */
#ifndef BENCH_CHAIN_H
#define BENCH_CHAIN_H

#include <stdint.h>

#include "cr_sign.h"
#include "genesis.h"
#include "ledger.h"
#include "store.h"
#include "tb_buf.h"
#include "wire.h"

#define BENCH_MAP_BYTES (UINT64_C(8) << 30)
#define BENCH_T0_S UINT64_C(1700000000)

struct bench_chain
{
    enum cr_suite suite;
    struct cfg_genesis g;
    uint8_t chain[32];
    struct cr_key *node[4]; /* node[0] is 370100's, which sorts first */
    struct cr_key *agency;
    struct store *store;
    struct ledger *ledger;
    uint64_t now_ms; /* the next block's parent time */
    uint64_t nonce;  /* of the last record.issue made */
};

extern char bench_errmsg[TB_ERRMSG_SIZE];

/* Prints "PROGRAM: what: code (bench_errmsg)" and exits 1. */
void bench_die(const char *what, int rv) __attribute__((noreturn));

#define BENCH_CHECK(what, expr)     \
    do {                            \
        int rv_ = (expr);           \
        if (rv_ != TB_OK)           \
            bench_die((what), rv_); \
    } while (0)

double bench_cpu_s(void); /* process CPU time, seconds */

/* Keys, genesis, store and ledger in dir (which exists). */
void bench_chain_open(struct bench_chain *c, enum cr_suite suite, const char *dir);
/* Closes and frees everything, and removes the store's files and dir. */
void bench_chain_close(struct bench_chain *c, const char *dir);

/* Signs body with key into env (replaced); the sign input into input and the tx id into id
 * when they are not NULL. */
void bench_envelope(const struct bench_chain *c, const struct wire_tx_body *body,
                    struct cr_key *key, struct tb_buf *env, struct tb_buf *input, uint8_t *id);

/* The agency.register of c->agency for pf.deposit, signed by node[0], into env. */
void bench_agency_register(const struct bench_chain *c, struct tb_buf *env);

/* The next record.issue (a fresh subject, nonce and balance at c->now_ms), signed by the
 * agency, into env; input and id as for bench_envelope. */
void bench_issue(struct bench_chain *c, struct tb_buf *env, struct tb_buf *input, uint8_t *id);

#endif
