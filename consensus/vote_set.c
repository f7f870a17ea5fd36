/*
 * The vote store of the core: per kept round, the proposal of proposer(h, r) and one
 * prevote and one precommit per validator, with dedupe and equivocation detection.
 *
 * Rounds are kept in a ring of CS_ROUND_SLOTS slots covering
 * [round - CS_ROUNDS_PAST, round + CS_ROUND_WINDOW]; a message for any other round is
 * refused here (the caller counts it), so an absurd round number never costs memory.
 * The first message of a sender counts; a conflicting one is reported once as evidence
 * and never counted. Memory comes from cs_slots_alloc() at init only.
 */
#include <string.h>

#include "cs_internal.h"
#include "tb_alloc.h"
#include "tb_assert.h"

_Static_assert(CS_ROUND_SLOTS == CS_ROUNDS_PAST + 1u + CS_ROUND_WINDOW, "ring covers the window");
_Static_assert(CS_ROUND_MAX + CS_ROUND_WINDOW < CS_ROUND_NONE, "window math cannot overflow");
_Static_assert(CS_SIG_BYTES_MAX <= UINT8_MAX, "signature length fits its field");

bool cs_block_id_equal(const struct cs_block_id *a, const struct cs_block_id *b)
{
    TB_ASSERT(a != NULL);
    TB_ASSERT(b != NULL);
    return memcmp(a->bytes, b->bytes, CS_BLOCK_ID_BYTES) == 0;
}

static void cs_slot_clear(struct cs_core *core, struct cs_round_slot *slot)
{
    uint32_t vmax = core->options.validators_max;
    TB_ASSERT(vmax >= 1u);
    TB_ASSERT(vmax <= CS_VALIDATORS_MAX);
    slot->round = CS_ROUND_NONE;
    memset(&slot->proposal, 0, sizeof(slot->proposal));
    for (uint32_t k = 0; k < CS_VOTE_KINDS; k++) {
        slot->vote_count[k] = 0;
        memset(slot->votes[k], 0, sizeof(struct cs_vote_entry) * vmax);
    }
}

int cs_slots_alloc(struct cs_core *core)
{
    uint32_t vmax = core->options.validators_max;
    TB_ASSERT(core->slots == NULL);
    TB_ASSERT(vmax >= 1u && vmax <= CS_VALIDATORS_MAX);
    /* One block for the slots and one for every vote entry: two allocations, both here. */
    core->slots = tb_calloc(CS_ROUND_SLOTS, sizeof(struct cs_round_slot));
    if (core->slots == NULL)
        return TB_ENOMEM;
    struct cs_vote_entry *entries =
        tb_calloc((size_t)CS_ROUND_SLOTS * CS_VOTE_KINDS * vmax, sizeof(struct cs_vote_entry));
    if (entries == NULL) {
        tb_free(core->slots);
        core->slots = NULL;
        return TB_ENOMEM;
    }
    for (uint32_t i = 0; i < CS_ROUND_SLOTS; i++) {
        for (uint32_t k = 0; k < CS_VOTE_KINDS; k++)
            core->slots[i].votes[k] = entries + ((size_t)i * CS_VOTE_KINDS + k) * vmax;
        core->slots[i].round = CS_ROUND_NONE;
    }
    return TB_OK;
}

void cs_slots_free(struct cs_core *core)
{
    if (core->slots == NULL)
        return;
    /* The first entry of slot 0 is the start of the entries block. */
    tb_free(core->slots[0].votes[0]);
    tb_free(core->slots);
    core->slots = NULL;
}

void cs_slots_reset(struct cs_core *core)
{
    TB_ASSERT(core->slots != NULL);
    for (uint32_t i = 0; i < CS_ROUND_SLOTS; i++)
        cs_slot_clear(core, &core->slots[i]);
    TB_ASSERT(core->slots[0].round == CS_ROUND_NONE);
}

/* Whether round lies in the window kept around the current round. */
static bool cs_round_kept(const struct cs_core *core, uint32_t round)
{
    uint32_t current = core->state.round;
    TB_ASSERT(current < CS_ROUND_MAX);
    uint32_t lo = current >= CS_ROUNDS_PAST ? current - CS_ROUNDS_PAST : 0u;
    uint32_t hi = current + CS_ROUND_WINDOW;
    TB_ASSERT(hi - lo < CS_ROUND_SLOTS);
    return round >= lo && round <= hi;
}

struct cs_round_slot *cs_slot_find(struct cs_core *core, uint32_t round)
{
    TB_ASSERT(core->slots != NULL);
    if (round == CS_ROUND_NONE || !cs_round_kept(core, round))
        return NULL;
    struct cs_round_slot *slot = &core->slots[round % CS_ROUND_SLOTS];
    return slot->round == round ? slot : NULL;
}

struct cs_round_slot *cs_slot_claim(struct cs_core *core, uint32_t round)
{
    TB_ASSERT(core->slots != NULL);
    if (round == CS_ROUND_NONE || !cs_round_kept(core, round))
        return NULL;
    struct cs_round_slot *slot = &core->slots[round % CS_ROUND_SLOTS];
    if (slot->round != round) {
        /* It held a round that fell out of the window: reuse it. */
        TB_ASSERT(slot->round == CS_ROUND_NONE || !cs_round_kept(core, slot->round));
        cs_slot_clear(core, slot);
        slot->round = round;
    }
    return slot;
}

static uint32_t cs_vote_kind(enum cs_msg_type type)
{
    TB_ASSERT(type == CS_MSG_PREVOTE || type == CS_MSG_PRECOMMIT);
    return (uint32_t)type - 1u;
}

enum cs_add_result cs_vote_set_add(struct cs_core *core, struct cs_round_slot *slot,
                                   const struct cs_vote *vote, struct cs_evidence *evidence)
{
    TB_ASSERT(slot->round == vote->round);
    TB_ASSERT(vote->from < core->state.validators.count);
    TB_ASSERT(vote->sig.len <= CS_SIG_BYTES_MAX);
    uint32_t kind = cs_vote_kind(vote->type);
    struct cs_vote_entry *entry = &slot->votes[kind][vote->from];
    if (!entry->present) {
        entry->present = true;
        entry->is_nil = vote->is_nil;
        if (!vote->is_nil)
            entry->block_id = vote->block_id;
        entry->sig = vote->sig;
        slot->vote_count[kind]++;
        TB_ASSERT(slot->vote_count[kind] <= core->state.validators.count);
        return CS_ADD_NEW;
    }
    bool same = entry->is_nil == vote->is_nil &&
                (vote->is_nil || cs_block_id_equal(&entry->block_id, &vote->block_id));
    if (same)
        return CS_ADD_DUPLICATE;
    if (entry->equivocated)
        return CS_ADD_EQUIVOCATION_AGAIN;
    entry->equivocated = true;
    memset(evidence, 0, sizeof(*evidence));
    evidence->type = vote->type;
    evidence->height = vote->height;
    evidence->round = vote->round;
    evidence->from = vote->from;
    evidence->first.is_nil = entry->is_nil;
    evidence->first.pol_round = CS_ROUND_NONE;
    evidence->first.block_id = entry->block_id;
    evidence->first.sig = entry->sig;
    evidence->second.is_nil = vote->is_nil;
    evidence->second.pol_round = CS_ROUND_NONE;
    if (!vote->is_nil)
        evidence->second.block_id = vote->block_id;
    evidence->second.sig = vote->sig;
    return CS_ADD_EQUIVOCATION;
}

enum cs_add_result cs_proposal_set(struct cs_core *core, struct cs_round_slot *slot,
                                   const struct cs_proposal *proposal,
                                   struct cs_evidence *evidence)
{
    TB_ASSERT(slot->round == proposal->round);
    TB_ASSERT(proposal->from ==
              cs_proposer(proposal->height, proposal->round, core->state.validators.count));
    struct cs_proposal_entry *entry = &slot->proposal;
    if (!entry->present) {
        entry->present = true;
        entry->valid = proposal->valid;
        entry->pol_round = proposal->pol_round;
        entry->block_id = proposal->block_id;
        entry->sig = proposal->sig;
        return CS_ADD_NEW;
    }
    /* The valid flag is the driver's verdict, not signed content: it does not conflict. */
    if (entry->pol_round == proposal->pol_round &&
        cs_block_id_equal(&entry->block_id, &proposal->block_id))
        return CS_ADD_DUPLICATE;
    if (entry->equivocated)
        return CS_ADD_EQUIVOCATION_AGAIN;
    entry->equivocated = true;
    memset(evidence, 0, sizeof(*evidence));
    evidence->type = CS_MSG_PROPOSAL;
    evidence->height = proposal->height;
    evidence->round = proposal->round;
    evidence->from = proposal->from;
    evidence->first.pol_round = entry->pol_round;
    evidence->first.block_id = entry->block_id;
    evidence->first.sig = entry->sig;
    evidence->second.pol_round = proposal->pol_round;
    evidence->second.block_id = proposal->block_id;
    evidence->second.sig = proposal->sig;
    return CS_ADD_EQUIVOCATION;
}

uint32_t cs_vote_set_count(const struct cs_core *core, const struct cs_round_slot *slot,
                           enum cs_msg_type type, enum cs_vote_filter filter,
                           const struct cs_block_id *id)
{
    uint32_t kind = cs_vote_kind(type);
    uint32_t n = core->state.validators.count;
    TB_ASSERT(n <= core->options.validators_max);
    if (filter == CS_COUNT_VALUE)
        TB_ASSERT(id != NULL);
    if (filter == CS_COUNT_ANY)
        return slot->vote_count[kind];
    uint32_t count = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct cs_vote_entry *entry = &slot->votes[kind][i];
        if (!entry->present)
            continue;
        if (filter == CS_COUNT_NIL ? entry->is_nil
                                   : !entry->is_nil && cs_block_id_equal(&entry->block_id, id))
            count++;
    }
    TB_ASSERT(count <= slot->vote_count[kind]);
    return count;
}

uint32_t cs_vote_set_certificate(const struct cs_core *core, const struct cs_round_slot *slot,
                                 const struct cs_block_id *id, struct cs_commit *commit)
{
    uint32_t n = core->state.validators.count;
    uint32_t kind = cs_vote_kind(CS_MSG_PRECOMMIT);
    TB_ASSERT(n <= CS_VALIDATORS_MAX);
    commit->signer_count = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct cs_vote_entry *entry = &slot->votes[kind][i];
        if (!entry->present || entry->is_nil || !cs_block_id_equal(&entry->block_id, id))
            continue;
        commit->signers[commit->signer_count].index = i;
        commit->signers[commit->signer_count].sig = entry->sig;
        commit->signer_count++;
    }
    TB_ASSERT(commit->signer_count <= n);
    return commit->signer_count;
}
