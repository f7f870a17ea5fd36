/*
 * crypto/aead.c: AES-256-GCM against McGrew & Viega test cases 14 and 16 (256-bit
 * key), the SM4-CTR + HMAC-SM3 layout against an independent rebuild from OpenSSL
 * primitives, round trips, tampering of every byte, wrong keys, empty inputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "cr_aead.h"
#include "cr_ossl.h"
#include "t_util.h"
#include "tb_alloc.h"
#include "tb_hex.h"

static uint8_t *hex(const char *text, size_t *len)
{
    return t_hex(text, len);
}

struct gcm_vector
{
    const char *key, *iv, *plain, *ad, *cipher, *tag;
};

/* McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 14 and 16. */
static const struct gcm_vector gcm_vectors[] = {
    {"0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
     "00000000000000000000000000000000", "", "cea7403d4d606b6e074ec5d3baf39d18",
     "d0d1c8a799996bf0265b98b5d48ab919"},
    {"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b"
     "525b16aedf5aa0de657ba637b39",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828"
     "838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

static void gcm_published_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        const struct gcm_vector *v = &gcm_vectors[i];
        size_t klen, ivlen, plen, alen, clen, tlen;
        uint8_t *key = hex(v->key, &klen), *iv = hex(v->iv, &ivlen), *p = hex(v->plain, &plen);
        uint8_t *ad = hex(v->ad, &alen), *c = hex(v->cipher, &clen), *t = hex(v->tag, &tlen);
        struct tb_buf out, back;
        tb_buf_init(&out, 1024);
        tb_buf_init(&back, 1024);
        assert_int_equal(cr_aead_gcm_seal_nonce(key, iv, ad, alen, p, plen, &out), TB_OK);
        assert_int_equal(out.len, 12 + clen + 16);
        assert_memory_equal(out.data, iv, 12);
        assert_memory_equal(out.data + 12, c, clen);
        assert_memory_equal(out.data + 12 + clen, t, 16);
        assert_int_equal(
            cr_aead_open(CR_SUITE_ED25519_SHA256, key, ad, alen, out.data, out.len, &back), TB_OK);
        assert_int_equal(back.len, plen);
        assert_memory_equal(back.data, p, plen);
        tb_buf_release(&out);
        tb_buf_release(&back);
        tb_free(key);
        tb_free(iv);
        tb_free(p);
        tb_free(ad);
        tb_free(c);
        tb_free(t);
    }
}

/* The SM4 construction rebuilt by hand from OpenSSL primitives, per aead.c's layout. */
static void sm4_hkdf_naive(const uint8_t key[32], const char *info, uint8_t *okm, size_t len)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    OSSL_PARAM params[5];
    uint8_t salt[32] = {0}; /* RFC 5869: no salt means HashLen zero bytes */
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SM3", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, 32);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, 32);
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info));
    params[4] = OSSL_PARAM_construct_end();
    assert_int_equal(EVP_KDF_derive(ctx, okm, len, params), 1);
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
}

static void sm4_layout_matches_naive(void **state)
{
    uint8_t key[32], ad[40], plain[77], enc_key[16], mac_key[32], mac_in[16 + 8 + 40 + 77];
    uint8_t stream_ct[77], tag[32];
    struct t_rng rng;
    struct tb_buf out;
    int n = 0;
    (void)state;
    t_rng_seed(&rng, 99);
    t_rng_bytes(&rng, key, sizeof(key));
    t_rng_bytes(&rng, ad, sizeof(ad));
    t_rng_bytes(&rng, plain, sizeof(plain));
    tb_buf_init(&out, 1024);
    assert_int_equal(cr_aead_seal(CR_SUITE_SM2_SM3, key, ad, 40, plain, 77, &out), TB_OK);
    assert_int_equal(out.len, 16 + 77 + 32);
    sm4_hkdf_naive(key, "tongban/aead/sm4/v1", enc_key, 16);
    sm4_hkdf_naive(key, "tongban/aead/mac/v1", mac_key, 32);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    assert_int_equal(EVP_EncryptInit_ex(c, EVP_sm4_ctr(), NULL, enc_key, out.data), 1);
    assert_int_equal(EVP_EncryptUpdate(c, stream_ct, &n, plain, 77), 1);
    EVP_CIPHER_CTX_free(c);
    assert_memory_equal(out.data + 16, stream_ct, 77);
    memcpy(mac_in, out.data, 16);
    memset(mac_in + 16, 0, 8);
    mac_in[23] = 40; /* u64be(ad_len) */
    memcpy(mac_in + 24, ad, 40);
    memcpy(mac_in + 64, stream_ct, 77);
    cr_hmac(CR_SUITE_SM2_SM3, mac_key, 32, mac_in, sizeof(mac_in), tag);
    assert_memory_equal(out.data + 16 + 77, tag, 32);
    tb_buf_release(&out);
}

static void round_trip_and_tamper(enum cr_suite suite, size_t plain_len, size_t ad_len)
{
    uint8_t key[32], other[32], ad[64], plain[200];
    struct tb_buf sealed, opened;
    struct t_rng rng;
    t_rng_seed(&rng, plain_len * 1000 + ad_len);
    t_rng_bytes(&rng, key, 32);
    memcpy(other, key, 32);
    other[31] ^= 1;
    t_rng_bytes(&rng, ad, ad_len);
    t_rng_bytes(&rng, plain, plain_len);
    tb_buf_init(&sealed, 4096);
    tb_buf_init(&opened, 4096);
    assert_int_equal(cr_aead_seal(suite, key, ad, ad_len, plain, plain_len, &sealed), TB_OK);
    assert_int_equal(cr_aead_open(suite, key, ad, ad_len, sealed.data, sealed.len, &opened), TB_OK);
    assert_int_equal(opened.len, plain_len);
    if (plain_len > 0)
        assert_memory_equal(opened.data, plain, plain_len);
    tb_buf_reset(&opened);
    for (size_t i = 0; i < sealed.len; i++) { /* nonce, ciphertext and tag */
        sealed.data[i] ^= 0x20;
        assert_int_equal(cr_aead_open(suite, key, ad, ad_len, sealed.data, sealed.len, &opened),
                         TB_EBADSIG);
        assert_int_equal(opened.len, 0);
        sealed.data[i] ^= 0x20;
    }
    for (size_t i = 0; i < ad_len; i++) {
        ad[i] ^= 0x01;
        assert_int_equal(cr_aead_open(suite, key, ad, ad_len, sealed.data, sealed.len, &opened),
                         TB_EBADSIG);
        ad[i] ^= 0x01;
    }
    if (ad_len > 0) /* dropping the last byte of the associated data */
        assert_int_equal(cr_aead_open(suite, key, ad, ad_len - 1, sealed.data, sealed.len, &opened),
                         TB_EBADSIG);
    assert_int_equal(cr_aead_open(suite, other, ad, ad_len, sealed.data, sealed.len, &opened),
                     TB_EBADSIG);
    assert_int_equal(cr_aead_open(suite, key, ad, ad_len, sealed.data, sealed.len - 1, &opened),
                     TB_EBADSIG);
    assert_int_equal(cr_aead_open(suite, key, ad, ad_len, sealed.data, 3, &opened), TB_EBADSIG);
    assert_int_equal(opened.len, 0);
    tb_buf_release(&sealed);
    tb_buf_release(&opened);
}

static void round_trips_both_suites(void **state)
{
    static const size_t plain_lens[] = {0, 1, 15, 16, 17, 200};
    static const size_t ad_lens[] = {0, 1, 64};
    (void)state;
    for (int s = 1; s <= 2; s++)
        for (size_t i = 0; i < 6; i++)
            for (size_t j = 0; j < 3; j++)
                round_trip_and_tamper((enum cr_suite)s, plain_lens[i], ad_lens[j]);
}

static void nonces_are_fresh(void **state)
{
    uint8_t key[32] = {7};
    struct tb_buf a, b;
    (void)state;
    for (int s = 1; s <= 2; s++) {
        tb_buf_init(&a, 256);
        tb_buf_init(&b, 256);
        assert_int_equal(cr_aead_seal((enum cr_suite)s, key, NULL, 0, "same", 4, &a), TB_OK);
        assert_int_equal(cr_aead_seal((enum cr_suite)s, key, NULL, 0, "same", 4, &b), TB_OK);
        assert_int_equal(a.len, b.len);
        assert_memory_not_equal(a.data, b.data, a.len);
        /* Appending keeps what was in out. */
        assert_int_equal(cr_aead_open((enum cr_suite)s, key, NULL, 0, b.data, b.len, &a), TB_OK);
        assert_memory_equal(a.data + a.len - 4, "same", 4);
        tb_buf_release(&a);
        tb_buf_release(&b);
    }
    assert_int_equal(cr_aead_seal((enum cr_suite)0, key, NULL, 0, "x", 1, &a), TB_EINVAL);
}

/* A failed allocation of out gives TB_ENOMEM and releases out (the tb_buf rule). */
static void alloc_failures(void **state)
{
    uint8_t key[32] = {3};
    struct tb_buf out, sealed;
    (void)state;
    for (int s = 1; s <= 2; s++) {
        tb_buf_init(&out, 4096);
        tb_buf_init(&sealed, 4096);
        tb_alloc_fault_set(0, 1);
        assert_int_equal(cr_aead_seal((enum cr_suite)s, key, "ad", 2, "doc", 3, &out), TB_ENOMEM);
        tb_alloc_fault_reset();
        assert_null(out.data);
        assert_int_equal(cr_aead_seal((enum cr_suite)s, key, "ad", 2, "doc", 3, &sealed), TB_OK);
        tb_alloc_fault_set(0, 1);
        assert_int_equal(
            cr_aead_open((enum cr_suite)s, key, "ad", 2, sealed.data, sealed.len, &out), TB_ENOMEM);
        tb_alloc_fault_reset();
        assert_null(out.data);
        tb_buf_init(&out, 8); /* too small a maximum */
        assert_int_equal(cr_aead_seal((enum cr_suite)s, key, "ad", 2, "doc", 3, &out), TB_ELIMIT);
        tb_buf_release(&sealed);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gcm_published_vectors),   cmocka_unit_test(sm4_layout_matches_naive),
        cmocka_unit_test(round_trips_both_suites), cmocka_unit_test(nonces_are_fresh),
        cmocka_unit_test(alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
