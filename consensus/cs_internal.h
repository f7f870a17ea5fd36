/*
 * Internal declarations shared by the files of consensus/ (never included outside it).
 *
 * The vote store (vote_set.c) keeps, per kept round, the proposals of that round's
 * proposer and the prevotes and precommits of every validator; core.c runs the rules
 * of Algorithm 1 over it. Nothing here allocates except cs_slots_alloc() at init.
 */
#ifndef CS_INTERNAL_H
#define CS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "consensus.h"

/*
 * One signed vote as received (a "face" of its sender). Per (round, type) a validator
 * has up to CS_FACES_KEPT faces, each for a different value: the paper counts every
 * signed message per value, and a Byzantine vote relayed by an honest node may be what
 * completes a POL. vote_set.c says which faces are kept when there are more.
 */
struct cs_vote_entry
{
    bool present;
    bool is_nil;
    struct cs_block_id block_id;
    struct cs_sig sig;
};

/* One signed proposal of proposer(h, r) as received. */
struct cs_proposal_entry
{
    bool present;
    bool valid;
    uint32_t pol_round;
    struct cs_block_id block_id;
    struct cs_sig sig;
};

/* Index 0 prevotes, 1 precommits: vote type minus one. */
#define CS_VOTE_KINDS 2u
/* Proposals kept per round: the first and one conflicting one. */
#define CS_PROPOSALS_KEPT 2u
/*
 * Faces kept per (sender, round, type): room for both proposals of the round and one
 * more value (nil, or the value a later proposal cites). Faces beyond that displace
 * only faces worth less (vote_set.c), so memory stays fixed whatever a sender signs.
 */
#define CS_FACES_KEPT (CS_PROPOSALS_KEPT + 1u)

struct cs_round_slot
{
    uint32_t round; /* CS_ROUND_NONE when the slot holds nothing */
    struct cs_proposal_entry proposals[CS_PROPOSALS_KEPT];
    bool proposal_equivocated;
    uint32_t vote_count[CS_VOTE_KINDS]; /* distinct senders with at least one face */
    /* CS_FACES_KEPT per sender, sender-major: [from * CS_FACES_KEPT + f]; a sender's
     * kept faces are all present ones first, each for a different value. */
    struct cs_vote_entry *faces[CS_VOTE_KINDS];
    bool *equivocated[CS_VOTE_KINDS]; /* evidence reported per sender */
};

/* What adding a message did. */
enum cs_add_result {
    CS_ADD_NEW = 0,
    CS_ADD_DUPLICATE = 1,
    CS_ADD_EQUIVOCATION = 2,       /* first conflict: evidence filled in */
    CS_ADD_EQUIVOCATION_AGAIN = 3, /* already reported: no new evidence */
};

/* Which votes a count considers. */
enum cs_vote_filter {
    CS_COUNT_ANY = 0,
    CS_COUNT_NIL = 1,
    CS_COUNT_VALUE = 2,
};

int cs_slots_alloc(struct cs_core *core);
void cs_slots_free(struct cs_core *core);
void cs_slots_reset(struct cs_core *core);

/* The slot holding round, or NULL (no claiming). */
struct cs_round_slot *cs_slot_find(struct cs_core *core, uint32_t round);

/*
 * The slot for round, claimed if needed; NULL when round is not wanted: outside
 * [round - CS_ROUNDS_PAST, round + CS_ROUND_WINDOW] and not a pinned round (locked,
 * valid, or the valid round a current proposal cites).
 */
struct cs_round_slot *cs_slot_claim(struct cs_core *core, uint32_t round);

enum cs_add_result cs_vote_set_add(struct cs_core *core, struct cs_round_slot *slot,
                                   const struct cs_vote *vote, struct cs_evidence *evidence);

enum cs_add_result cs_proposal_set(struct cs_core *core, struct cs_round_slot *slot,
                                   const struct cs_proposal *proposal,
                                   struct cs_evidence *evidence);

uint32_t cs_vote_set_count(const struct cs_core *core, const struct cs_round_slot *slot,
                           enum cs_msg_type type, enum cs_vote_filter filter,
                           const struct cs_block_id *id);

/* Fills commit with every precommit for id in slot; returns the signer count. */
uint32_t cs_vote_set_certificate(const struct cs_core *core, const struct cs_round_slot *slot,
                                 const struct cs_block_id *id, struct cs_commit *commit);

bool cs_block_id_equal(const struct cs_block_id *a, const struct cs_block_id *b);

#endif
