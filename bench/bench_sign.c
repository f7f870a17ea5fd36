/*
 * Signing and verification throughput of crypto/ for both suites, to compare with
 * `openssl speed ed25519 sm2` (bench/sign.sh does the comparison). Like openssl speed,
 * it divides by the process's CPU time, signs 20-byte messages, and reuses one key
 * object per loop (the cached-context path the node uses). Not a test; never run by
 * ctest.
 *
 *   bench_sign [SECONDS]     prints "SUITE sign/s N verify/s M" per suite
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cr_sign.h"
#include "tb_assert.h"

static double cpu_seconds(void)
{
    struct timespec ts;
    int rc = clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    TB_ASSERT(rc == 0);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs sign (verify == 0) or verify for about `seconds` of CPU time; returns ops/s. */
static double bench_loop(struct cr_key *signer, struct cr_key *verifier, int verify, double seconds)
{
    uint8_t msg[20];
    uint8_t sig[CR_SIG_MAX];
    size_t sig_len = 0;
    long count = 0;
    double start;
    double elapsed = 0;

    int rv;

    memset(msg, 0x5a, sizeof(msg));
    rv = cr_sign(signer, msg, sizeof(msg), sig, &sig_len);
    TB_ASSERT(rv == TB_OK);
    start = cpu_seconds();
    while (elapsed < seconds) {
        for (int i = 0; i < 32; i++) { /* read the clock only every 32 operations */
            if (verify) {
                rv = cr_verify(verifier, msg, sizeof(msg), sig, sig_len);
            } else {
                msg[0] = (uint8_t)count;
                rv = cr_sign(signer, msg, sizeof(msg), sig, &sig_len);
            }
            TB_ASSERT(rv == TB_OK);
            count++;
        }
        elapsed = cpu_seconds() - start;
    }
    TB_ASSERT(count > 0);
    return (double)count / elapsed;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    static const enum cr_suite suites[] = {CR_SUITE_ED25519_SHA256, CR_SUITE_SM2_SM3};

    if (seconds <= 0 || seconds > 60) {
        fprintf(stderr, "usage: bench_sign [SECONDS (0..60]]\n");
        return 2;
    }
    for (size_t i = 0; i < 2; i++) {
        struct cr_key *key = NULL, *pub = NULL;
        uint8_t pub_bytes[CR_PUBKEY_MAX];
        size_t pub_len;
        double sign_rate, verify_rate;

        int rv = cr_key_generate(suites[i], &key);

        TB_ASSERT(rv == TB_OK);
        pub_len = cr_key_public(key, pub_bytes);
        rv = cr_key_from_public(suites[i], pub_bytes, pub_len, &pub);
        TB_ASSERT(rv == TB_OK);
        sign_rate = bench_loop(key, pub, 0, seconds);
        verify_rate = bench_loop(key, pub, 1, seconds);
        printf("%s sign/s %.0f verify/s %.0f\n", cr_suite_name(suites[i]), sign_rate, verify_rate);
        cr_key_free(pub);
        cr_key_free(key);
    }
    return 0;
}
