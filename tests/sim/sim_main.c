/*
 * tongban-sim: the command line of the deterministic consensus simulator.
 *
 *   tongban-sim --nodes N --seed S --count C [--mutation NAME] [--expect-violation]
 *               [--heights K] [--mix NAME] [--verbose]
 *
 * Runs C consecutive seeds from S, prints one summary line per fault mix, then
 * "sim: ... seeds/s ..." and "N passed, M failed". Any violation prints SEED=... and the exact
 * command that replays it. This file is the only one that reads the wall clock, and only to
 * report speed: nothing it measures feeds back into a run.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"
#include "tb_assert.h"

struct sim_mix_stats
{
    uint64_t seeds;
    uint64_t violations;
    uint64_t heights;
    uint64_t decisions;
    uint64_t rounds_sum;
    uint64_t sim_ms;
    uint64_t recover_ms;
    uint64_t recover_ms_max;
    uint64_t evidence;
};

struct sim_cli
{
    struct sim_config config;
    uint64_t count;
    bool expect_violation;
    bool self_test;
};

static void sim_usage(FILE *out)
{
    fprintf(out,
            "usage: tongban-sim --nodes N --seed S --count C [--mutation NAME] "
            "[--expect-violation]\n"
            "                   [--heights K] [--mix NAME] [--verbose]\n"
            "  --nodes N            validators, 1..%u (default 4)\n"
            "  --seed S             first seed (default 1)\n"
            "  --count C            consecutive seeds to run (default 1)\n"
            "  --heights K          heights every honest node must commit after healing "
            "(default 3)\n"
            "  --mutation NAME      quorum-2f | ignore-lock | send-before-persist (test-only "
            "seeded bugs)\n"
            "  --expect-violation   exit 0 when a violation is found, 1 when none is\n"
            "  --mix NAME           force a fault mix instead of drawing it from the seed: lossy,\n"
            "                       partition, crash, twins, equivocate, clog-skew, everything,\n"
            "                       split, lock, crash-sign\n"
            "  --verbose            print faults, heals and one line per seed\n"
            "  --trace-proc P       print every event stepped into process P and its update\n"
            "  --self-test          property-test the heap, signature log and MAC, then exit\n",
            SIM_NODES_MAX);
}

static bool sim_parse_u64(const char *text, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    if (text[0] < '0' || text[0] > '9')
        return false;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != 0 || v > max)
        return false;
    *out = v;
    return true;
}

static int sim_parse_mutation(const char *name, enum sim_mutation *out)
{
    for (int m = SIM_MUT_NONE; m <= SIM_MUT_SEND_BEFORE_PERSIST; m++) {
        if (strcmp(name, sim_mutation_name((enum sim_mutation)m)) == 0) {
            *out = (enum sim_mutation)m;
            return 0;
        }
    }
    return -1;
}

static int sim_parse_mix(const char *name)
{
    for (uint32_t i = 0; i < sim_mix_count; i++) {
        if (strcmp(name, sim_mixes[i].name) == 0)
            return (int)i;
    }
    return -1;
}

/* Applies one option; false on a bad value. */
static bool sim_parse_option(int c, const char *arg, struct sim_cli *cli)
{
    uint64_t v = 0;
    switch (c) {
    case 'n':
        if (!sim_parse_u64(arg, SIM_NODES_MAX, &v) || v < 1)
            return false;
        cli->config.nodes = (uint32_t)v;
        return true;
    case 's':
        return sim_parse_u64(arg, UINT64_MAX, &cli->config.seed);
    case 'c':
        return sim_parse_u64(arg, 1000000000, &cli->count) && cli->count >= 1;
    case 'k':
        if (!sim_parse_u64(arg, 100, &v) || v < 1)
            return false;
        cli->config.heights = (uint32_t)v;
        return true;
    case 'm':
        return sim_parse_mutation(arg, &cli->config.mutation) == 0;
    case 'x':
        cli->config.mix_forced = sim_parse_mix(arg);
        return cli->config.mix_forced >= 0;
    case 't':
        if (!sim_parse_u64(arg, SIM_PROCS_MAX - 1, &v))
            return false;
        cli->config.trace_proc = (int)v;
        return true;
    case 'e':
        cli->expect_violation = true;
        return true;
    case 'v':
        cli->config.verbose = true;
        return true;
    case 'T':
        cli->self_test = true;
        return true;
    default:
        return false;
    }
}

static int sim_parse(int argc, char **argv, struct sim_cli *cli)
{
    static const struct option options[] = {
        {"nodes", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},
        {"count", required_argument, NULL, 'c'},
        {"mutation", required_argument, NULL, 'm'},
        {"heights", required_argument, NULL, 'k'},
        {"mix", required_argument, NULL, 'x'},
        {"expect-violation", no_argument, NULL, 'e'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"trace-proc", required_argument, NULL, 't'},
        {"self-test", no_argument, NULL, 'T'},
        {NULL, 0, NULL, 0},
    };
    memset(cli, 0, sizeof(*cli));
    cli->config.nodes = 4;
    cli->config.seed = 1;
    cli->config.heights = 3;
    cli->config.mix_forced = -1;
    cli->config.trace_proc = -1;
    cli->count = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (c == 'h') {
            sim_usage(stdout);
            exit(0);
        }
        if (!sim_parse_option(c, optarg, cli)) {
            fprintf(stderr, "tongban-sim: bad option or value%s%s\n", optarg ? ": " : "",
                    optarg ? optarg : "");
            sim_usage(stderr);
            return -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "tongban-sim: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    TB_ASSERT(cli->config.nodes >= 1 && cli->config.nodes <= SIM_NODES_MAX);
    TB_ASSERT(cli->count >= 1);
    return 0;
}

static double sim_wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sim_report_violation(const struct sim_cli *cli, const struct sim_config *config,
                                 const struct sim_result *result)
{
    const char *mix = sim_mixes[result->mix].name;
    printf("VIOLATION SEED=%" PRIu64 " NODES=%u MIX=%s MUTATION=%s HEIGHTS=%u TRACE=%016" PRIx64
           " t=%" PRIu64 "ms: %s\n",
           config->seed, config->nodes, mix, sim_mutation_name(config->mutation), config->heights,
           result->trace_hash, result->sim_ms, result->what);
    printf("  replay: tongban-sim --nodes %u --seed %" PRIu64 " --count 1 --mix %s --heights %u",
           config->nodes, config->seed, mix, config->heights);
    if (config->mutation != SIM_MUT_NONE)
        printf(" --mutation %s", sim_mutation_name(config->mutation));
    printf(" --verbose\n");
    (void)cli;
}

static void sim_print_mixes(const struct sim_mix_stats *stats)
{
    for (uint32_t i = 0; i < sim_mix_count; i++) {
        const struct sim_mix_stats *s = &stats[i];
        if (s->seeds == 0)
            continue;
        double rounds = s->decisions ? (double)s->rounds_sum / (double)s->decisions : 0.0;
        double recover = s->seeds ? (double)s->recover_ms / (double)s->seeds : 0.0;
        double hps = s->sim_ms ? (double)s->heights * 1000.0 / (double)s->sim_ms : 0.0;
        char label[32];
        snprintf(label, sizeof(label), "%s:", sim_mixes[i].name);
        printf("mix %-11s %" PRIu64 " seeds, %" PRIu64 " violations, %" PRIu64
               " heights, %.2f rounds/height, %.1f heights/simulated s, %.0f ms to recover (max "
               "%" PRIu64 "), %" PRIu64 " evidence\n",
               label, s->seeds, s->violations, s->heights, rounds, hps, recover, s->recover_ms_max,
               s->evidence);
    }
}

static void sim_account(struct sim_mix_stats *s, const struct sim_result *result)
{
    s->seeds++;
    s->violations += result->violation ? 1 : 0;
    s->heights += result->heights;
    s->decisions += result->decisions;
    s->rounds_sum += result->rounds_sum;
    s->sim_ms += result->sim_ms;
    s->recover_ms += result->recover_ms;
    if (result->recover_ms > s->recover_ms_max)
        s->recover_ms_max = result->recover_ms;
    s->evidence += result->evidence;
}

int main(int argc, char **argv)
{
    struct sim_cli cli;
    if (sim_parse(argc, argv, &cli) != 0)
        return 2;
    if (cli.self_test) {
        int rv = sim_util_self_test(cli.config.seed);
        printf("self test: %s\n%d passed, %d failed\n", rv == 0 ? "ok" : "FAILED", rv == 0,
               rv != 0);
        return rv == 0 ? 0 : 1;
    }
    static struct sim_mix_stats stats[16];
    TB_ASSERT(sim_mix_count <= 16);
    uint64_t violations = 0;
    uint64_t seeds = 0;
    uint64_t heights = 0;
    uint64_t sim_ms = 0;
    double start = sim_wall_s();
    for (uint64_t i = 0; i < cli.count; i++) {
        struct sim_config config = cli.config;
        config.seed = cli.config.seed + i;
        struct sim_result result;
        int rv = sim_run(&config, &result);
        if (rv != TB_OK) {
            fprintf(stderr, "tongban-sim: seed %" PRIu64 ": harness error: %s\n", config.seed,
                    tb_strerror(rv));
            return 2;
        }
        seeds++;
        heights += result.heights;
        sim_ms += result.sim_ms;
        sim_account(&stats[result.mix], &result);
        if (cli.config.verbose || cli.count == 1)
            printf("SEED=%" PRIu64 " NODES=%u MIX=%s %s heights=%" PRIu64 " events=%" PRIu64
                   " sim_ms=%" PRIu64 " trace=%016" PRIx64 "\n",
                   config.seed, config.nodes, sim_mixes[result.mix].name,
                   result.violation ? "VIOLATION" : "ok", result.heights, result.events,
                   result.sim_ms, result.trace_hash);
        if (result.violation) {
            violations++;
            sim_report_violation(&cli, &config, &result);
            if (cli.expect_violation) {
                printf("caught %s after %" PRIu64 " seeds\n", sim_mutation_name(config.mutation),
                       seeds);
                break;
            }
        }
    }
    double wall = sim_wall_s() - start;
    if (wall <= 0)
        wall = 1e-9;
    sim_print_mixes(stats);
    printf("sim: %" PRIu64 " seeds, %" PRIu64
           " violations, %.1f seeds/s, %.0f heights/s "
           "simulated (n=%u, %" PRIu64 " heights, %.1f s simulated, %.2f s wall)\n",
           seeds, violations, (double)seeds / wall, (double)heights / wall, cli.config.nodes,
           heights, (double)sim_ms / 1000.0, wall);
    if (cli.expect_violation) {
        bool found = violations > 0;
        printf("%s passed, %s failed\n", found ? "1" : "0", found ? "0" : "1");
        if (!found)
            printf("expected a violation in %" PRIu64 " seeds, found none\n", seeds);
        return found ? 0 : 1;
    }
    printf("%" PRIu64 " passed, %" PRIu64 " failed\n", seeds - violations, violations);
    return violations > 0 ? 1 : 0;
}
