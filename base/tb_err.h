/*
 * Error codes and error messages shared by every module.
 *
 * 0 is success; failures are negative TB_E* codes from one table, so that every
 * code has a fixed text (tb_strerror). Long-lived objects carry a
 * char errmsg[TB_ERRMSG_SIZE] with details; each layer prefixes its context on the
 * way up with tb_errmsg_wrapf, giving "store block 42: storage full: ...".
 */
#ifndef TB_ERR_H
#define TB_ERR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TB_MUST_CHECK __attribute__((warn_unused_result))
#define TB_PRINTF(f, a) __attribute__((format(printf, f, a)))

#define TB_ERRMSG_SIZE 256

/* X-macro: name, value, text. Values are stable; append only. */
#define TB_ERR_TABLE(X)                              \
    X(TB_OK, 0, "success")                           \
    X(TB_EINVAL, -1, "invalid argument")             \
    X(TB_ENOMEM, -2, "out of memory")                \
    X(TB_EIO, -3, "input/output error")              \
    X(TB_ENOSPC, -4, "storage full")                 \
    X(TB_EBADSIG, -5, "bad signature")               \
    X(TB_EMALFORMED, -6, "malformed encoding")       \
    X(TB_ELIMIT, -7, "limit exceeded")               \
    X(TB_ENOTFOUND, -8, "not found")                 \
    X(TB_ECRYPTO, -9, "cryptographic library error") \
    X(TB_EEXIST, -10, "already exists")              \
    X(TB_EAUTH, -11, "not authorised")               \
    X(TB_ECONFIG, -12, "invalid configuration")      \
    X(TB_EPROOF, -13, "proof does not verify")       \
    X(TB_ESTATE, -14, "invalid state")               \
    X(TB_EPASS, -15, "wrong passphrase or corrupt key file")

enum tb_err {
#define TB_ERR_ENUM(name, value, text) name = value,
    TB_ERR_TABLE(TB_ERR_ENUM)
#undef TB_ERR_ENUM
};

/* Fixed text for a code; "unknown error" for codes outside the table. */
const char *tb_strerror(int code);

/* Formats into errmsg (TB_ERRMSG_SIZE bytes), replacing what was there. */
void tb_errmsg_setf(char *errmsg, const char *fmt, ...) TB_PRINTF(2, 3);

/* Prefixes errmsg with a formatted context and ": ", truncating safely. */
void tb_errmsg_wrapf(char *errmsg, const char *fmt, ...) TB_PRINTF(2, 3);

/* Sets errmsg (if non-NULL) and returns code, so that `return tb_fail(...)` works. */
int tb_fail(char *errmsg, int code, const char *fmt, ...) TB_PRINTF(3, 4);

#ifdef __cplusplus
}
#endif
#endif
