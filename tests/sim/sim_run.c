/*
 * One simulated run: the fault mixes, the seeded network (loss, duplication, delay and
 * reordering, clogging, partitions), crashes and restarts, the chaos and healed phases, and the
 * event loop that pops the heap in (time, sequence) order and checks after every step.
 *
 * Every choice comes from the run's PRNG in event order, so one seed gives one trace; nothing
 * here may read the wall clock, iterate in an order that depends on addresses, or keep state
 * from one run to the next.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sim_world.h"
#include "tb_alloc.h"
#include "tb_assert.h"

/*
 * loss: max percent (drawn in 1..max per run); dup, clog, crash, csign: percent; skew: +-percent
 * of clock rate; twin, eqv, garb: Byzantine validators of each kind, 99 meaning "as many as f
 * allows", the total always capped at f and the kinds shuffled per seed.
 *   name          loss dup dmin dmax clog partition         crash csign skew twin eqv garb
 */
const struct sim_mix sim_mixes[] = {
    {"lossy", 20, 10, 1, 80, 0, SIM_PART_NONE, 0, 0, 0, 0, 0, 0},
    {"partition", 5, 2, 1, 40, 0, SIM_PART_ROTATING, 0, 0, 0, 0, 0, 0},
    {"crash", 5, 5, 1, 40, 0, SIM_PART_NONE, 40, 3, 0, 0, 0, 0},
    {"twins", 2, 0, 1, 40, 0, SIM_PART_HALVES, 0, 0, 0, 99, 0, 0},
    {"equivocate", 5, 5, 1, 60, 0, SIM_PART_NONE, 0, 0, 0, 0, 99, 1},
    {"clog-skew", 3, 3, 1, 150, 30, SIM_PART_NONE, 0, 0, 40, 0, 0, 0},
    {"everything", 10, 5, 1, 100, 10, SIM_PART_ROTATING, 20, 3, 20, 1, 1, 1},
    /* Mixes aimed at one seeded bug each (used by --mutation unless --mix says otherwise). */
    {"split", 0, 0, 1, 30, 0, SIM_PART_HALVES, 0, 0, 0, 0, 0, 0},
    {"lock", 10, 0, 1, 60, 0, SIM_PART_ROTATING, 0, 0, 0, 99, 0, 0},
    {"crash-sign", 10, 0, 1, 40, 0, SIM_PART_NONE, 0, 25, 0, 0, 0, 0},
};
const uint32_t sim_mix_count = sizeof(sim_mixes) / sizeof(sim_mixes[0]);
#define SIM_MIX_GENERAL 7u /* seeds draw among the first seven */

#define SIM_TIMEOUT_PROPOSE_MS 300u
#define SIM_TIMEOUT_VOTE_MS 150u
#define SIM_TIMEOUT_DELTA_MS 100u
#define SIM_EVENTS_MAX 20000000u

const char *sim_mutation_name(enum sim_mutation mutation)
{
    switch (mutation) {
    case SIM_MUT_NONE:
        return "none";
    case SIM_MUT_QUORUM_2F:
        return "quorum-2f";
    case SIM_MUT_IGNORE_LOCK:
        return "ignore-lock";
    case SIM_MUT_SEND_BEFORE_PERSIST:
        return "send-before-persist";
    }
    return "?";
}

void sim_violation(struct sim_world *w, const char *fmt, ...)
{
    if (w->result->violation)
        return; /* the first one is the one to replay */
    w->result->violation = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->result->what, sizeof(w->result->what), fmt, ap);
    va_end(ap);
}

uint64_t sim_rand(struct sim_world *w, uint64_t bound)
{
    TB_ASSERT(bound > 0);
    return t_rng_below(&w->rng, bound);
}

void sim_push(struct sim_world *w, struct sim_ev *ev)
{
    TB_ASSERT(ev->time_ms >= w->now_ms);
    TB_ASSERT(ev->proc < w->proc_count || ev->kind == SIM_EV_PERIOD ||
              ev->kind == SIM_EV_CRASH_TICK || ev->kind == SIM_EV_HEAL);
    int rv = sim_heap_push(&w->heap, ev);
    if (rv != TB_OK)
        sim_violation(w, "harness: event queue: %s", tb_strerror(rv));
}

void sim_net_send(struct sim_world *w, uint32_t src, uint32_t dst, const struct sim_msg *msg)
{
    TB_ASSERT(src < w->proc_count);
    TB_ASSERT(dst < w->proc_count);
    TB_ASSERT(src != dst);
    if (!w->healed) {
        if (w->blocked[src][dst])
            return;
        if (w->loss_pct > 0 && sim_rand(w, 100) < w->loss_pct)
            return;
    }
    uint32_t copies = 1;
    if (!w->healed && w->mix.dup_pct > 0 && sim_rand(w, 100) < w->mix.dup_pct)
        copies = 2;
    for (uint32_t c = 0; c < copies; c++) {
        uint64_t span = (uint64_t)w->mix.delay_ms_max - w->mix.delay_ms_min + 1;
        struct sim_ev ev = {.kind = SIM_EV_DELIVER, .proc = dst};
        ev.time_ms = w->now_ms + w->mix.delay_ms_min + sim_rand(w, span);
        if (!w->healed && w->clog_until_ms[src][dst] > ev.time_ms)
            ev.time_ms = w->clog_until_ms[src][dst] + sim_rand(w, span);
        ev.msg = *msg;
        ev.msg.src = src;
        sim_push(w, &ev);
    }
}

/* ---- faults ---- */

static void sim_partition_draw(struct sim_world *w)
{
    memset(w->blocked, 0, sizeof(w->blocked));
    enum sim_part_mode mode = w->mix.partition;
    if (mode == SIM_PART_ROTATING)
        mode = (enum sim_part_mode)sim_rand(w, SIM_PART_ROTATING);
    uint32_t x = (uint32_t)sim_rand(w, w->proc_count);
    bool deaf = sim_rand(w, 2) == 0;
    bool side[SIM_PROCS_MAX];
    for (uint32_t i = 0; i < w->proc_count; i++)
        side[i] = sim_rand(w, 2) == 0;
    for (uint32_t i = 0; i < w->proc_count; i++) {
        for (uint32_t j = 0; j < w->proc_count; j++) {
            bool cut = false;
            if (mode == SIM_PART_ISOLATE)
                cut = i == x || j == x;
            else if (mode == SIM_PART_HALVES)
                cut = side[i] != side[j];
            else if (mode == SIM_PART_ASYMMETRIC)
                cut = deaf ? j == x : i == x;
            w->blocked[i][j] = cut && i != j;
        }
    }
    if (w->config->verbose)
        printf("  t=%llu partition mode %d around proc %u\n", (unsigned long long)w->now_ms,
               (int)mode, x);
}

static void sim_on_period(struct sim_world *w)
{
    if (w->healed)
        return;
    uint64_t period_ms = 300 + sim_rand(w, 2700);
    if (w->mix.partition != SIM_PART_NONE)
        sim_partition_draw(w);
    if (w->mix.clog_pct > 0) {
        for (uint32_t i = 0; i < w->proc_count; i++) {
            for (uint32_t j = 0; j < w->proc_count; j++) {
                if (i != j && sim_rand(w, 100) < w->mix.clog_pct)
                    w->clog_until_ms[i][j] = w->now_ms + sim_rand(w, period_ms);
            }
        }
    }
    struct sim_ev next = {.kind = SIM_EV_PERIOD, .time_ms = w->now_ms + period_ms};
    sim_push(w, &next);
}

static void sim_on_crash_tick(struct sim_world *w)
{
    if (w->healed)
        return;
    uint32_t down = 0;
    for (uint32_t i = 0; i < w->proc_count; i++)
        down += w->procs[i]->up ? 0 : 1;
    if (sim_rand(w, 100) < w->mix.crash_pct && 2 * (down + 1) < w->proc_count) {
        const struct sim_proc *p = w->procs[sim_rand(w, w->proc_count)];
        struct sim_ev crash = {.kind = SIM_EV_CRASH, .proc = p->id, .time_ms = w->now_ms};
        crash.incarnation = p->incarnation;
        sim_push(w, &crash);
    }
    struct sim_ev next = {.kind = SIM_EV_CRASH_TICK, .time_ms = w->now_ms + 500};
    sim_push(w, &next);
}

static void sim_on_crash(struct sim_world *w, struct sim_proc *p, uint32_t incarnation)
{
    if (!p->up || incarnation != p->incarnation)
        return;
    if (w->config->verbose)
        printf("  t=%llu crash proc %u at h=%llu r=%u\n", (unsigned long long)w->now_ms, p->id,
               (unsigned long long)p->height, p->core.state.round);
    sim_proc_crash(w, p);
    struct sim_ev restart = {.kind = SIM_EV_RESTART, .proc = p->id};
    restart.time_ms = w->now_ms + (w->healed ? 1 : 50 + sim_rand(w, 1500));
    restart.incarnation = p->incarnation;
    sim_push(w, &restart);
}

static void sim_world_dump(const struct sim_world *w)
{
    for (uint32_t i = 0; i < w->proc_count; i++) {
        const struct sim_proc *p = w->procs[i];
        const struct cs_persist *s = &p->core.state;
        printf(
            "  proc %u index %u byz %d %s committed %llu core h=%llu r=%u step %d locked %u "
            "valid %u skew %d\n",
            p->id, p->index, (int)p->byz, p->up ? "up" : "down", (unsigned long long)p->committed,
            (unsigned long long)s->height, s->round, (int)s->step, s->locked_round, s->valid_round,
            p->skew_pct);
    }
}

static void sim_on_heal(struct sim_world *w)
{
    TB_ASSERT(!w->healed);
    w->healed = true;
    w->heal_ms = w->now_ms;
    w->loss_pct = 0;
    memset(w->blocked, 0, sizeof(w->blocked));
    memset(w->clog_until_ms, 0, sizeof(w->clog_until_ms));
    uint64_t top = 0;
    for (uint32_t i = 0; i < w->proc_count; i++) {
        struct sim_proc *p = w->procs[i];
        if (sim_proc_honest(w, p) && p->committed > top)
            top = p->committed;
        if (!p->up) {
            struct sim_ev restart = {.kind = SIM_EV_RESTART, .proc = p->id};
            restart.time_ms = w->now_ms;
            restart.incarnation = p->incarnation;
            sim_push(w, &restart);
        }
    }
    w->target = top + w->config->heights;
    /* Generous: round-0 timeouts are well under a second, rounds reset at every height. */
    w->deadline_ms = w->now_ms + 60000 + 5000 * (uint64_t)w->config->heights;
    if (w->config->verbose) {
        printf("  t=%llu heal: target height %llu\n", (unsigned long long)w->now_ms,
               (unsigned long long)w->target);
        sim_world_dump(w);
    }
}

/* ---- setup ---- */

static void sim_roles_draw(struct sim_world *w)
{
    enum sim_byz wanted[3 * SIM_NODES_MAX];
    uint32_t count = 0;
    uint32_t kinds[3] = {w->mix.twins, w->mix.equivocators, w->mix.garbage};
    enum sim_byz kind_of[3] = {SIM_BYZ_TWIN, SIM_BYZ_EQUIV, SIM_BYZ_GARBAGE};
    for (int k = 0; k < 3; k++) {
        for (uint32_t i = 0; i < kinds[k] && i < w->f; i++)
            wanted[count++] = kind_of[k];
    }
    /* At most f Byzantine validators, the kinds shuffled so that each gets its turn. */
    for (uint32_t i = count; i > 1; i--) {
        uint32_t j = (uint32_t)sim_rand(w, i);
        enum sim_byz tmp = wanted[i - 1];
        wanted[i - 1] = wanted[j];
        wanted[j] = tmp;
    }
    if (count > w->f)
        count = w->f;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t index;
        do {
            index = (uint32_t)sim_rand(w, w->n);
        } while (w->byz_of[index] != SIM_BYZ_NONE);
        w->byz_of[index] = wanted[i];
    }
}

static int sim_world_procs(struct sim_world *w)
{
    uint32_t count = 0;
    for (uint32_t index = 0; index < w->n; index++) {
        uint32_t copies = w->byz_of[index] == SIM_BYZ_TWIN ? 2 : 1;
        for (uint32_t c = 0; c < copies; c++) {
            TB_ASSERT(count < SIM_PROCS_MAX);
            struct sim_proc *p = tb_calloc(1, sizeof(*p));
            if (p == NULL)
                return TB_ENOMEM;
            w->procs[count] = p;
            p->blocks = tb_calloc(SIM_HEIGHTS_MAX + 1, sizeof(*p->blocks));
            if (p->blocks == NULL)
                return TB_ENOMEM;
            p->id = count++;
            p->index = index;
            p->byz = w->byz_of[index];
            if (w->mix.skew_pct > 0)
                p->skew_pct =
                    (int32_t)sim_rand(w, 2 * w->mix.skew_pct + 1) - (int32_t)w->mix.skew_pct;
            p->clock_offset_ms = sim_rand(w, 1000000);
        }
    }
    w->proc_count = count;
    return TB_OK;
}

static void sim_world_release(struct sim_world *w)
{
    for (uint32_t i = 0; i < SIM_PROCS_MAX; i++) {
        struct sim_proc *p = w->procs[i];
        if (p == NULL)
            continue;
        cs_core_release(&p->core);
        tb_free(p->blocks);
        tb_free(p);
    }
    sim_heap_release(&w->heap);
    sim_sign_log_release(&w->signs);
    sim_pol_set_release(&w->pols);
    tb_free(w);
}

static uint32_t sim_mix_pick(const struct sim_config *config)
{
    if (config->mix_forced >= 0)
        return (uint32_t)config->mix_forced;
    switch (config->mutation) {
    case SIM_MUT_QUORUM_2F:
        return SIM_MIX_GENERAL;
    case SIM_MUT_IGNORE_LOCK:
        return SIM_MIX_GENERAL + 1;
    case SIM_MUT_SEND_BEFORE_PERSIST:
        return SIM_MIX_GENERAL + 2;
    case SIM_MUT_NONE:
        break;
    }
    return (uint32_t)(config->seed % SIM_MIX_GENERAL);
}

static void sim_world_options(struct sim_world *w)
{
    memset(&w->options, 0, sizeof(w->options));
    w->options.validators_max = w->n;
    w->options.timeout_propose_ms = SIM_TIMEOUT_PROPOSE_MS;
    w->options.timeout_prevote_ms = SIM_TIMEOUT_VOTE_MS;
    w->options.timeout_precommit_ms = SIM_TIMEOUT_VOTE_MS;
    w->options.timeout_delta_ms = SIM_TIMEOUT_DELTA_MS;
    if (w->config->mutation == SIM_MUT_QUORUM_2F)
        w->options.mutations = CS_MUTATION_QUORUM_2F;
    else if (w->config->mutation == SIM_MUT_IGNORE_LOCK)
        w->options.mutations = CS_MUTATION_IGNORE_LOCK;
    else if (w->config->mutation == SIM_MUT_SEND_BEFORE_PERSIST)
        w->options.mutations = CS_MUTATION_SEND_BEFORE_PERSIST;
}

static int sim_world_init(struct sim_world *w)
{
    const struct sim_config *config = w->config;
    TB_ASSERT(config->nodes >= 1 && config->nodes <= SIM_NODES_MAX);
    t_rng_seed(&w->rng, config->seed);
    sim_trace_init(&w->trace);
    w->n = config->nodes;
    w->f = (w->n - 1) / 3;
    w->quorum = cs_quorum(w->n);
    TB_ASSERT(3 * w->quorum > 2 * w->n);
    w->result->mix = sim_mix_pick(config);
    w->mix = sim_mixes[w->result->mix];
    w->loss_pct = w->mix.loss_pct_max > 0 ? 1 + (uint32_t)sim_rand(w, w->mix.loss_pct_max) : 0;
    for (uint32_t i = 0; i < w->n; i++)
        w->keys[i] = t_rng_next(&w->rng);
    w->block_key = t_rng_next(&w->rng);
    sim_world_options(w);
    sim_roles_draw(w);
    int rv = sim_heap_init(&w->heap, sizeof(struct sim_ev), 4u << 20);
    if (rv == TB_OK)
        rv = sim_sign_log_init(&w->signs, 4096);
    if (rv == TB_OK)
        rv = sim_pol_set_init(&w->pols, 4096);
    if (rv == TB_OK)
        rv = sim_world_procs(w);
    return rv;
}

static void sim_world_schedule(struct sim_world *w)
{
    struct sim_ev ev = {.kind = SIM_EV_PERIOD, .time_ms = 0};
    sim_push(w, &ev);
    if (w->mix.crash_pct > 0) {
        struct sim_ev tick = {.kind = SIM_EV_CRASH_TICK, .time_ms = 500};
        sim_push(w, &tick);
    }
    struct sim_ev heal = {.kind = SIM_EV_HEAL, .time_ms = 3000 + sim_rand(w, 7000)};
    sim_push(w, &heal);
    for (uint32_t i = 0; i < w->proc_count; i++) {
        struct sim_ev gossip = {.kind = SIM_EV_GOSSIP, .proc = i};
        gossip.time_ms = 300 + sim_rand(w, 200);
        sim_push(w, &gossip);
        if (w->procs[i]->byz == SIM_BYZ_GARBAGE) {
            struct sim_ev garbage = {.kind = SIM_EV_GARBAGE, .proc = i};
            garbage.time_ms = sim_rand(w, 200);
            sim_push(w, &garbage);
        }
    }
}

/* ---- the loop ---- */

static void sim_trace_event(struct sim_world *w, const struct sim_ev *ev)
{
    sim_trace_u64(&w->trace, ev->time_ms);
    sim_trace_u64(&w->trace, ((uint64_t)ev->kind << 32) | ev->proc);
    if (ev->kind == SIM_EV_DELIVER) {
        sim_trace_u64(&w->trace, ((uint64_t)ev->msg.kind << 56) ^ ev->msg.height);
        sim_trace_u64(&w->trace, ((uint64_t)ev->msg.round << 32) | ev->msg.from);
        sim_trace_bytes(&w->trace, ev->msg.sig, SIM_SIG_BYTES);
    } else if (ev->kind == SIM_EV_TIMER) {
        sim_trace_u64(&w->trace, ev->timer.height);
        sim_trace_u64(&w->trace, ((uint64_t)ev->timer.round << 8) | (uint64_t)ev->timer.step);
    }
}

static void sim_dispatch(struct sim_world *w, const struct sim_ev *ev)
{
    struct sim_proc *p = ev->proc < w->proc_count ? w->procs[ev->proc] : NULL;
    switch (ev->kind) {
    case SIM_EV_PERIOD:
        sim_on_period(w);
        break;
    case SIM_EV_CRASH_TICK:
        sim_on_crash_tick(w);
        break;
    case SIM_EV_HEAL:
        if (!w->healed)
            sim_on_heal(w);
        break;
    case SIM_EV_CRASH:
        sim_on_crash(w, p, ev->incarnation);
        break;
    case SIM_EV_RESTART:
        if (!p->up && ev->incarnation == p->incarnation) {
            if (w->config->verbose)
                printf("  t=%llu restart proc %u (committed %llu)\n", (unsigned long long)w->now_ms,
                       p->id, (unsigned long long)p->committed);
            sim_proc_restart(w, p);
        }
        break;
    case SIM_EV_GOSSIP:
    case SIM_EV_GARBAGE: {
        sim_proc_on_event(w, p, ev);
        struct sim_ev next = *ev;
        next.time_ms = w->now_ms + (ev->kind == SIM_EV_GOSSIP ? 300 : 50) + sim_rand(w, 200);
        sim_push(w, &next);
        break;
    }
    default:
        sim_proc_on_event(w, p, ev);
        break;
    }
}

int sim_run(const struct sim_config *config, struct sim_result *result)
{
    memset(result, 0, sizeof(*result));
    struct sim_world *w = tb_calloc(1, sizeof(*w));
    if (w == NULL)
        return TB_ENOMEM;
    w->config = config;
    w->result = result;
    int rv = sim_world_init(w);
    for (uint32_t i = 0; rv == TB_OK && i < w->proc_count && !result->violation; i++)
        rv = sim_proc_setup(w, w->procs[i]);
    if (rv != TB_OK) {
        sim_world_release(w);
        return rv;
    }
    sim_world_schedule(w);
    struct sim_ev ev;
    while (!w->done && !result->violation) {
        if (!sim_heap_pop(&w->heap, &ev)) {
            sim_violation(w, "harness: event queue ran dry");
            break;
        }
        TB_ASSERT(ev.time_ms >= w->now_ms);
        w->now_ms = ev.time_ms;
        sim_trace_event(w, &ev);
        sim_dispatch(w, &ev);
        if (w->healed && !result->violation)
            sim_check_liveness(w);
        if (!w->healed && result->heights > SIM_HEIGHTS_MAX / 2)
            sim_on_heal(w); /* a fast run (n = 1) must not outgrow the block store */
        if (++result->events >= SIM_EVENTS_MAX)
            sim_violation(w, "harness: %u events without finishing", SIM_EVENTS_MAX);
    }
    if (config->verbose)
        sim_world_dump(w);
    result->trace_hash = w->trace.hash;
    result->sim_ms = w->now_ms;
    sim_world_release(w);
    return TB_OK;
}
