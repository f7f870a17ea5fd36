/*
 * node/mempool: the pending-tx set, against a naive model (an array in arrival order) under
 * seeded random add/remove/lookup sequences, with ids crafted to collide in the table so the
 * probe chains and the backward-shift deletion are exercised; then dedupe and the count and
 * byte bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mempool.h"
#include "t_util.h"

#define MODEL_MAX 256u

struct model_tx
{
    uint8_t id[WIRE_HASH_BYTES];
    size_t len;
};

struct model
{
    struct model_tx txs[MODEL_MAX]; /* arrival order */
    size_t count;
};

static int model_find(const struct model *m, const uint8_t *id)
{
    for (size_t i = 0; i < m->count; i++) {
        if (memcmp(m->txs[i].id, id, WIRE_HASH_BYTES) == 0)
            return (int)i;
    }
    return -1;
}

/* Ids share their first 8 bytes in a few groups, so many land in the same home slot; the
 * groups sit at both ends of the table (512 slots for 256 txs) so chains wrap around. */
static void make_id(struct t_rng *rng, uint8_t id[WIRE_HASH_BYTES])
{
    static const uint16_t homes[] = {0, 1, 3, 507, 509, 510, 511};
    t_rng_bytes(rng, id, WIRE_HASH_BYTES);
    uint16_t home = homes[t_rng_below(rng, sizeof(homes) / sizeof(homes[0]))];
    memset(id, 0, 6);
    id[6] = (uint8_t)(home >> 8);
    id[7] = (uint8_t)home;
}

static void check_against(const struct mempool *mp, const struct model *m)
{
    static const struct mempool_entry *order[MODEL_MAX];
    static struct tb_bytes views[MODEL_MAX];
    static uint8_t ids[MODEL_MAX][WIRE_HASH_BYTES];
    assert_int_equal(mp->count, m->count);
    size_t bytes = 0;
    for (size_t i = 0; i < m->count; i++) {
        bytes += m->txs[i].len;
        assert_true(mempool_has(mp, m->txs[i].id));
    }
    assert_int_equal(mp->bytes, bytes);
    size_t n = mempool_oldest(mp, order, views, ids, MODEL_MAX);
    assert_int_equal(n, m->count);
    for (size_t i = 0; i < n; i++) {
        assert_memory_equal(ids[i], m->txs[i].id, WIRE_HASH_BYTES);
        assert_int_equal(views[i].len, m->txs[i].len);
        assert_int_equal(views[i].ptr[0], m->txs[i].id[8]); /* the envelope we stored */
    }
}

static void random_ops_match_model(void **state)
{
    (void)state;
    static uint8_t env[WIRE_TX_BYTES_MAX];
    for (uint64_t seed = 1; seed <= 40; seed++) {
        struct t_rng rng;
        struct mempool mp;
        struct model m = {.count = 0};
        t_rng_seed(&rng, seed);
        assert_int_equal(mempool_init(&mp, MODEL_MAX, 64u * 1024u * 1024u), TB_OK);
        for (int op = 0; op < 600; op++) {
            uint64_t r = t_rng_below(&rng, 10);
            if (r < 6 && m.count < MODEL_MAX) {
                struct model_tx tx;
                make_id(&rng, tx.id);
                tx.len = 1 + t_rng_below(&rng, 200);
                env[0] = tx.id[8];
                int rc = mempool_add(&mp, tx.id, 3, (struct tb_bytes){env, tx.len});
                if (model_find(&m, tx.id) >= 0) {
                    assert_int_equal(rc, TB_EEXIST);
                } else {
                    assert_int_equal(rc, TB_OK);
                    m.txs[m.count++] = tx;
                }
            } else if (m.count > 0) {
                size_t k = (size_t)t_rng_below(&rng, m.count);
                assert_true(mempool_remove(&mp, m.txs[k].id));
                assert_false(mempool_remove(&mp, m.txs[k].id));
                memmove(&m.txs[k], &m.txs[k + 1], (m.count - k - 1) * sizeof(m.txs[0]));
                m.count--;
            }
            if (op % 37 == 0)
                check_against(&mp, &m);
        }
        check_against(&mp, &m);
        mempool_release(&mp);
    }
}

static void dedupe_keeps_first(void **state)
{
    (void)state;
    struct mempool mp;
    uint8_t id[WIRE_HASH_BYTES] = {1, 2, 3};
    uint8_t a[4] = {0xaa, 0, 0, 0}, b[8] = {0xbb};
    assert_int_equal(mempool_init(&mp, 4, WIRE_TX_BYTES_MAX), TB_OK);
    assert_int_equal(mempool_add(&mp, id, 1, (struct tb_bytes){a, sizeof(a)}), TB_OK);
    assert_int_equal(mempool_add(&mp, id, 1, (struct tb_bytes){b, sizeof(b)}), TB_EEXIST);
    assert_int_equal(mp.count, 1);
    assert_int_equal(mp.bytes, sizeof(a));
    const struct mempool_entry *order[4];
    struct tb_bytes v[4];
    assert_int_equal(mempool_oldest(&mp, order, v, NULL, 4), 1);
    assert_int_equal(v[0].ptr[0], 0xaa);
    mempool_release(&mp);
}

static void bounds_are_enforced(void **state)
{
    (void)state;
    struct mempool mp;
    static uint8_t env[WIRE_TX_BYTES_MAX + 1];
    uint8_t id[WIRE_HASH_BYTES] = {0};
    assert_int_equal(mempool_init(&mp, 0, WIRE_TX_BYTES_MAX), TB_EINVAL);
    assert_int_equal(mempool_init(&mp, 3, WIRE_TX_BYTES_MAX * 2), TB_OK);
    assert_int_equal(mempool_add(&mp, id, 1, (struct tb_bytes){env, 0}), TB_EINVAL);
    assert_int_equal(mempool_add(&mp, id, 1, (struct tb_bytes){env, sizeof(env)}), TB_EINVAL);
    /* bytes: two full-size envelopes fit, a third byte does not */
    id[0] = 1;
    assert_int_equal(mempool_add(&mp, id, 1, (struct tb_bytes){env, WIRE_TX_BYTES_MAX}), TB_OK);
    id[0] = 2;
    assert_int_equal(mempool_add(&mp, id, 1, (struct tb_bytes){env, WIRE_TX_BYTES_MAX}), TB_OK);
    id[0] = 3;
    assert_int_equal(mempool_add(&mp, id, 1, (struct tb_bytes){env, 1}), TB_ELIMIT);
    assert_false(mempool_has(&mp, id));
    /* count: after freeing bytes, the third fits and a fourth does not */
    id[0] = 1;
    assert_true(mempool_remove(&mp, id));
    id[0] = 3;
    assert_int_equal(mempool_add(&mp, id, 1, (struct tb_bytes){env, 1}), TB_OK);
    id[0] = 4;
    assert_int_equal(mempool_add(&mp, id, 1, (struct tb_bytes){env, 1}), TB_OK);
    id[0] = 5;
    assert_int_equal(mempool_add(&mp, id, 1, (struct tb_bytes){env, 1}), TB_ELIMIT);
    assert_int_equal(mp.count, 3);
    mempool_release(&mp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_ops_match_model),
        cmocka_unit_test(dedupe_keeps_first),
        cmocka_unit_test(bounds_are_enforced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
