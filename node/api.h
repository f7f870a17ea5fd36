/*
 * node/api: the node's JSON API v1 (docs/api.md is the contract; docs/openapi.json describes
 * it and is served at GET /v1/openapi.json). Every /v1/... client route lives here; the peer
 * API (/v1/peer/...) and /metrics belong to the node core.
 *
 * The API keeps no state of its own: every handler reads what it needs through node.h
 * (store, ledger, genesis, config, submission, status) and the files the config names (the
 * subject key, the custodial agency directory of docs/operators.md), so there is nothing to
 * free and an operator may add an agency's key and token without a restart.
 *
 * Must never: log or store an ID number, answer a submission before node_submit_tx made it
 * durable, hold a read transaction across a return to the event loop, or register
 * /v1/peer/... or /metrics.
 */
#ifndef NODE_API_H
#define NODE_API_H

#include "http.h"
#include "tb_err.h"

#ifdef __cplusplus
extern "C" {
#endif

struct node;

/*
 * Registers every route of docs/api.md on srv, with node (borrowed: it must outlive srv's
 * last request) as the handlers' argument. Call once, before the loop runs. Errors are the
 * router's: TB_EINVAL (a route already registered), TB_ELIMIT (router full), TB_ENOMEM,
 * with errmsg (TB_ERRMSG_SIZE bytes).
 */
TB_MUST_CHECK int api_register(struct http_server *srv, struct node *node, char *errmsg);

#ifdef __cplusplus
}
#endif
#endif
