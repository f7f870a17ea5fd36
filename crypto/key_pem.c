/*
 * PEM files for signature keys: PKCS#8 private keys (optionally encrypted with a
 * passphrase), SubjectPublicKeyInfo public keys, the atomic 0600 writer, and the
 * translation of OpenSSL's error queue into errmsg for the whole of crypto/.
 *
 * It must never print or log a passphrase or a private key, never let OpenSSL prompt
 * on a terminal (every read passes our own passphrase callback), and never leave a
 * half-written key file behind (temp file, fsync, rename, fsync of the directory).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cr_ossl.h"
#include "tb_alloc.h"
#include "tb_assert.h"
#include "tb_hex.h"

/* A key file is a few hundred bytes; anything much larger is not one of ours. */
#define CR_PEM_FILE_MAX (64 * 1024)

int cr_ossl_fail(char *errmsg, int code, const char *what)
{
    char text[160] = "no details from OpenSSL";
    unsigned long first = ERR_get_error();
    unsigned long e = first;

    TB_ASSERT(code < 0);
    TB_ASSERT(what != NULL);
    /* Bounded drain: the queue holds at most ERR_NUM_ERRORS (16) entries. */
    for (int i = 0; e != 0 && i < 64; i++)
        e = ERR_get_error();
    ERR_clear_error();
    if (first != 0)
        ERR_error_string_n(first, text, sizeof(text));
    if (errmsg != NULL)
        tb_errmsg_setf(errmsg, "%s: %s", what, text);
    return code;
}

/*
 * OpenSSL's passphrase callback. Returning -1 when we have no passphrase stops OpenSSL
 * from falling back to a terminal prompt.
 */
static int pem_pass_cb(char *buf, int size, int rwflag, void *u)
{
    const char *pass = u;
    size_t n;

    (void)rwflag;
    TB_ASSERT(size >= 0);
    if (pass == NULL)
        return -1;
    n = strlen(pass);
    if (n > (size_t)size)
        return -1;
    memcpy(buf, pass, n);
    return (int)n;
}

static int pem_suite_of(const EVP_PKEY *pkey, enum cr_suite *suite)
{
    if (EVP_PKEY_is_a(pkey, "ED25519")) {
        *suite = CR_SUITE_ED25519_SHA256;
        return TB_OK;
    }
    if (EVP_PKEY_is_a(pkey, "SM2")) {
        *suite = CR_SUITE_SM2_SM3;
        return TB_OK;
    }
    return TB_EINVAL;
}

/* A bounded search for a PEM header inside bytes that need not be NUL-terminated. */
static int pem_has_label(const uint8_t *pem, size_t len, const char *label)
{
    size_t n = strlen(label);
    for (size_t i = 0; n <= len && i <= len - n; i++) {
        if (memcmp(pem + i, label, n) == 0)
            return 1;
    }
    return 0;
}

/* PKCS#8 "ENCRYPTED PRIVATE KEY", or a traditional PEM with an encryption header. */
static int pem_is_encrypted(const uint8_t *pem, size_t len)
{
    return pem_has_label(pem, len, "-----BEGIN ENCRYPTED PRIVATE KEY-----") ||
           pem_has_label(pem, len, "Proc-Type: 4,ENCRYPTED");
}

/* Public keys go back through cr_key_from_public so that one set of checks applies. */
static int pem_public(BIO *bio, struct cr_key **out, char *errmsg)
{
    EVP_PKEY *pkey = PEM_read_bio_PUBKEY_ex(bio, NULL, pem_pass_cb, NULL, NULL, NULL);
    struct cr_key *raw = NULL;
    enum cr_suite suite;
    int rv;

    if (pkey == NULL)
        return cr_ossl_fail(errmsg, TB_EMALFORMED, "read public key PEM");
    if (pem_suite_of(pkey, &suite) != TB_OK) {
        rv = tb_fail(errmsg, TB_EINVAL, "public key type %s is not ed25519 or sm2",
                     EVP_PKEY_get0_type_name(pkey));
        EVP_PKEY_free(pkey);
        return rv;
    }
    rv = cr_key_wrap(suite, pkey, 0, &raw);
    if (rv == TB_OK)
        rv = cr_key_from_public(suite, raw->pub, raw->pub_len, out);
    cr_key_free(raw);
    if (rv == TB_EINVAL || rv == TB_ECRYPTO)
        rv = tb_fail(errmsg, TB_EINVAL, "public key is not a valid %s key", cr_suite_name(suite));
    else if (rv != TB_OK)
        rv = tb_fail(errmsg, rv, "public key: %s", tb_strerror(rv));
    return rv;
}

static int pem_private(BIO *bio, int encrypted, const char *passphrase, struct cr_key **out,
                       char *errmsg)
{
    EVP_PKEY *pkey;
    enum cr_suite suite;
    int rv;

    if (encrypted && passphrase == NULL)
        return tb_fail(errmsg, TB_EPASS, "key file is encrypted and no passphrase was given");
    pkey = PEM_read_bio_PrivateKey_ex(bio, NULL, pem_pass_cb, (void *)passphrase, NULL, NULL);
    if (pkey == NULL && encrypted)
        return cr_ossl_fail(errmsg, TB_EPASS, "decrypt private key (wrong passphrase?)");
    if (pkey == NULL)
        return cr_ossl_fail(errmsg, TB_EMALFORMED, "read private key PEM");
    if (pem_suite_of(pkey, &suite) != TB_OK) {
        rv = tb_fail(errmsg, TB_EINVAL, "private key type %s is not ed25519 or sm2",
                     EVP_PKEY_get0_type_name(pkey));
        EVP_PKEY_free(pkey);
        return rv;
    }
    rv = cr_key_wrap(suite, pkey, 1, out);
    if (rv != TB_OK)
        return tb_fail(errmsg, rv, "private key: %s", tb_strerror(rv));
    return TB_OK;
}

int cr_key_from_pem(const uint8_t *pem, size_t len, const char *passphrase, struct cr_key **out,
                    char *errmsg)
{
    BIO *bio;
    int rv;

    TB_ASSERT(out != NULL);
    TB_ASSERT(pem != NULL || len == 0);
    *out = NULL;
    if (len == 0 || len > CR_PEM_FILE_MAX)
        return tb_fail(errmsg, TB_EMALFORMED, "key PEM has %zu bytes (1..%d allowed)", len,
                       CR_PEM_FILE_MAX);
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        return cr_ossl_fail(errmsg, TB_ENOMEM, "key PEM buffer");
    if (pem_has_label(pem, len, "-----BEGIN PUBLIC KEY-----"))
        rv = pem_public(bio, out, errmsg);
    else
        rv = pem_private(bio, pem_is_encrypted(pem, len), passphrase, out, errmsg);
    BIO_free(bio);
    if (rv == TB_OK)
        TB_ASSERT(*out != NULL);
    return rv;
}

/* Reads at most CR_PEM_FILE_MAX bytes; *data is tb_malloc'd. */
static int pem_read_file(const char *path, uint8_t **data, size_t *len, char *errmsg)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    size_t n;

    if (f == NULL)
        return tb_fail(errmsg, TB_EIO, "open key file '%s': %s", path, strerror(errno));
    buf = tb_malloc(CR_PEM_FILE_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        return tb_fail(errmsg, TB_ENOMEM, "read key file '%s': out of memory", path);
    }
    n = fread(buf, 1, CR_PEM_FILE_MAX + 1, f);
    if (ferror(f) || n > CR_PEM_FILE_MAX) {
        int io = ferror(f);
        fclose(f);
        tb_wipe(buf, CR_PEM_FILE_MAX + 1);
        tb_free(buf);
        return tb_fail(errmsg, io ? TB_EIO : TB_EMALFORMED, "read key file '%s': %s", path,
                       io ? "read error" : "file too large");
    }
    fclose(f);
    *data = buf;
    *len = n;
    return TB_OK;
}

int cr_key_load_pem(const char *path, const char *passphrase, struct cr_key **out, char *errmsg)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rv;

    TB_ASSERT(path != NULL);
    TB_ASSERT(out != NULL);
    *out = NULL;
    rv = pem_read_file(path, &data, &len, errmsg);
    if (rv != TB_OK)
        return rv;
    rv = cr_key_from_pem(data, len, passphrase, out, errmsg);
    if (rv != TB_OK && errmsg != NULL)
        tb_errmsg_wrapf(errmsg, "key file '%s'", path);
    tb_wipe(data, CR_PEM_FILE_MAX + 1);
    tb_free(data);
    return rv;
}

static int write_all(int fd, const uint8_t *data, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

/* fsync of the directory makes the rename itself durable. */
static int fsync_parent_dir(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t n = slash == NULL ? 1 : (size_t)(slash - path);
    int fd;
    int rc;

    if (slash == path)
        n = 1;
    if (n >= sizeof(dir))
        return -1;
    memcpy(dir, slash == NULL ? "." : path, n);
    dir[n] = '\0';
    fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

static int pem_write_atomic(const char *path, const uint8_t *data, size_t len, char *errmsg)
{
    char tmp[PATH_MAX];
    int fd;
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);

    if (n < 0 || (size_t)n >= sizeof(tmp))
        return tb_fail(errmsg, TB_EINVAL, "key file path too long");
    fd = mkstemp(tmp); /* creates with mode 0600 */
    if (fd < 0)
        return tb_fail(errmsg, TB_EIO, "create temp key file for '%s': %s", path, strerror(errno));
    if (fchmod(fd, 0600) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return tb_fail(errmsg, TB_EIO, "write key file '%s': %s", path, strerror(e));
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return tb_fail(errmsg, TB_EIO, "rename key file into '%s': %s", path, strerror(e));
    }
    if (fsync_parent_dir(path) != 0)
        return tb_fail(errmsg, TB_EIO, "sync directory of '%s': %s", path, strerror(errno));
    return TB_OK;
}

int cr_key_save_pem(const struct cr_key *key, const char *path, const char *passphrase,
                    char *errmsg)
{
    int encrypt = passphrase != NULL && passphrase[0] != '\0';
    EVP_CIPHER *cipher = NULL;
    BIO *bio;
    BUF_MEM *mem = NULL;
    int ok;
    int rv;

    TB_ASSERT(key != NULL);
    TB_ASSERT(path != NULL);
    if (!key->has_private)
        return tb_fail(errmsg, TB_EINVAL, "key has no private part to save");
    if (encrypt && strlen(passphrase) > INT32_MAX)
        return tb_fail(errmsg, TB_EINVAL, "passphrase too long");
    /* A secure-memory BIO is cleansed when freed: it briefly holds the plain key. */
    bio = BIO_new(BIO_s_secmem());
    if (encrypt)
        cipher = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
    ok = bio != NULL && (!encrypt || cipher != NULL);
    ok =
        ok && PEM_write_bio_PKCS8PrivateKey(bio, key->pkey, cipher, encrypt ? passphrase : NULL,
                                            encrypt ? (int)strlen(passphrase) : 0, NULL, NULL) == 1;
    ok = ok && BIO_get_mem_ptr(bio, &mem) == 1 && mem != NULL;
    if (!ok)
        rv = cr_ossl_fail(errmsg, TB_ECRYPTO, "encode private key PEM");
    else
        rv = pem_write_atomic(path, (const uint8_t *)mem->data, mem->length, errmsg);
    EVP_CIPHER_free(cipher);
    BIO_free(bio);
    return rv;
}

int cr_key_public_pem(const struct cr_key *key, struct tb_buf *out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    BUF_MEM *mem = NULL;
    int rv;

    TB_ASSERT(key != NULL);
    TB_ASSERT(out != NULL);
    if (bio == NULL)
        return cr_ossl_fail(NULL, TB_ENOMEM, "public key PEM");
    if (PEM_write_bio_PUBKEY(bio, key->pkey) != 1 || BIO_get_mem_ptr(bio, &mem) != 1) {
        BIO_free(bio);
        return cr_ossl_fail(NULL, TB_ECRYPTO, "public key PEM");
    }
    rv = tb_buf_append(out, mem->data, mem->length);
    BIO_free(bio);
    return rv;
}
