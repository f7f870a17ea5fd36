/*
 * The vote store of the core: per kept round, the proposals of proposer(h, r) and the
 * prevotes and precommits of every validator, with dedupe and equivocation detection.
 *
 * CS_ROUND_SLOTS slots are looked up by round. A slot is claimed only for a wanted
 * round: one in [round - CS_ROUNDS_PAST, round + CS_ROUND_WINDOW] around the current
 * round, or a pinned one (locked round, valid round, the valid round a current proposal
 * cites). There are at most CS_ROUND_SLOTS wanted rounds, so a claim always finds a
 * free or unwanted slot; unwanted slots that hold a POL are evicted last. A message
 * for any other round is refused (the caller counts it): an absurd round costs nothing.
 *
 * Votes: the paper counts every signed message per value ("2f+1 PREVOTE(h, vr, id(v))"
 * from distinct senders), so each "face" of an equivocator counts for its own value: a
 * sender counts at most once per value and once in "any". That is safe because any two
 * quorums share an honest validator. Memory is bounded, so a sender keeps at most
 * CS_FACES_KEPT faces per (round, type); one more displaces the least valuable kept
 * face, and only if it is worth strictly more. Worth is, first, whether the value
 * matters to a rule for that round (the block id of a proposal kept for the round, of a
 * current proposal citing the round as its POL round, or the locked or valid value of
 * that round: lines 28, 36 and 49 count votes for exactly these), then its support (how
 * many other senders have a face for it). So an equivocator cannot push out a value that
 * honest validators voted for with values nobody else signed, and a value that becomes
 * relevant later (its proposal arrives after the votes) is stored when the driver's
 * re-gossip delivers its votes again, as CometBFT tracks a block id once a peer claims
 * +2/3 for it (SetPeerMaj23). The first conflict is reported once as evidence.
 *
 * This file must never allocate outside cs_slots_alloc() (init), do I/O, or count one
 * sender twice for one value.
 */
#include <string.h>

#include "cs_internal.h"
#include "tb_alloc.h"
#include "tb_assert.h"

_Static_assert(CS_ROUND_SLOTS == CS_ROUNDS_PAST + 1u + CS_ROUND_WINDOW + 2u + CS_PROPOSALS_KEPT,
               "slots cover the window, the locked and valid rounds and every cited POL");
_Static_assert(CS_ROUND_MAX + CS_ROUND_WINDOW < CS_ROUND_NONE, "window math cannot overflow");
_Static_assert(CS_SIG_BYTES_MAX <= UINT8_MAX, "signature length fits its field");
_Static_assert(CS_FACES_KEPT >= CS_PROPOSALS_KEPT + 1u,
               "a sender's faces hold both proposals of a round and one more value");
_Static_assert(2u * CS_VALIDATORS_MAX < UINT32_MAX, "a face's worth fits in 32 bits");

bool cs_block_id_equal(const struct cs_block_id *a, const struct cs_block_id *b)
{
    TB_ASSERT(a != NULL);
    TB_ASSERT(b != NULL);
    return memcmp(a->bytes, b->bytes, CS_BLOCK_ID_BYTES) == 0;
}

static bool cs_entry_matches(const struct cs_vote_entry *entry, bool is_nil,
                             const struct cs_block_id *id)
{
    if (!entry->present || entry->is_nil != is_nil)
        return false;
    return is_nil || cs_block_id_equal(&entry->block_id, id);
}

static void cs_slot_clear(struct cs_core *core, struct cs_round_slot *slot)
{
    uint32_t vmax = core->options.validators_max;
    TB_ASSERT(vmax >= 1u);
    TB_ASSERT(vmax <= CS_VALIDATORS_MAX);
    slot->round = CS_ROUND_NONE;
    memset(slot->proposals, 0, sizeof(slot->proposals));
    slot->proposal_equivocated = false;
    for (uint32_t k = 0; k < CS_VOTE_KINDS; k++) {
        slot->vote_count[k] = 0;
        memset(slot->faces[k], 0, sizeof(struct cs_vote_entry) * CS_FACES_KEPT * vmax);
        memset(slot->equivocated[k], 0, sizeof(bool) * vmax);
    }
}

int cs_slots_alloc(struct cs_core *core)
{
    uint32_t vmax = core->options.validators_max;
    size_t lists = (size_t)CS_ROUND_SLOTS * CS_VOTE_KINDS;
    TB_ASSERT(core->slots == NULL);
    TB_ASSERT(vmax >= 1u && vmax <= CS_VALIDATORS_MAX);
    /* Three blocks, all here: slots, vote entries (every face), evidence flags. */
    core->slots = tb_calloc(CS_ROUND_SLOTS, sizeof(struct cs_round_slot));
    struct cs_vote_entry *entries =
        tb_calloc(lists * CS_FACES_KEPT * vmax, sizeof(struct cs_vote_entry));
    bool *flags = tb_calloc(lists * vmax, sizeof(bool));
    if (core->slots == NULL || entries == NULL || flags == NULL) {
        tb_free(core->slots);
        tb_free(entries);
        tb_free(flags);
        core->slots = NULL;
        return TB_ENOMEM;
    }
    for (uint32_t i = 0; i < CS_ROUND_SLOTS; i++) {
        for (uint32_t k = 0; k < CS_VOTE_KINDS; k++) {
            size_t list = (size_t)i * CS_VOTE_KINDS + k;
            core->slots[i].faces[k] = entries + list * CS_FACES_KEPT * vmax;
            core->slots[i].equivocated[k] = flags + list * vmax;
        }
        core->slots[i].round = CS_ROUND_NONE;
    }
    TB_ASSERT(core->slots[0].faces[0] == entries);
    return TB_OK;
}

void cs_slots_free(struct cs_core *core)
{
    if (core->slots == NULL)
        return;
    /* Slot 0's first lists start the entry and flag blocks. */
    tb_free(core->slots[0].faces[0]);
    tb_free(core->slots[0].equivocated[0]);
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

struct cs_round_slot *cs_slot_find(struct cs_core *core, uint32_t round)
{
    TB_ASSERT(core->slots != NULL);
    if (round == CS_ROUND_NONE)
        return NULL;
    for (uint32_t i = 0; i < CS_ROUND_SLOTS; i++) {
        if (core->slots[i].round == round)
            return &core->slots[i];
    }
    return NULL;
}

/* Whether votes for round are worth a slot now (see the file comment). */
static bool cs_round_wanted(struct cs_core *core, uint32_t round)
{
    const struct cs_persist *s = &core->state;
    TB_ASSERT(s->round < CS_ROUND_MAX);
    TB_ASSERT(round != CS_ROUND_NONE);
    uint32_t lo = s->round >= CS_ROUNDS_PAST ? s->round - CS_ROUNDS_PAST : 0u;
    if (round >= lo && round <= s->round + CS_ROUND_WINDOW)
        return true;
    if (round == s->locked_round || round == s->valid_round)
        return true;
    const struct cs_round_slot *current = cs_slot_find(core, s->round);
    for (uint32_t p = 0; current != NULL && p < CS_PROPOSALS_KEPT; p++) {
        if (current->proposals[p].present && current->proposals[p].pol_round == round)
            return true;
    }
    return false;
}

/* Whether slot holds a POL: 2f+1 prevotes for one of its proposals. */
static bool cs_slot_has_pol(const struct cs_core *core, const struct cs_round_slot *slot)
{
    for (uint32_t p = 0; p < CS_PROPOSALS_KEPT; p++) {
        const struct cs_proposal_entry *prop = &slot->proposals[p];
        if (prop->present && cs_vote_set_count(core, slot, CS_MSG_PREVOTE, CS_COUNT_VALUE,
                                               &prop->block_id) >= core->quorum)
            return true;
    }
    return false;
}

/* The slot to reuse: a free one, else the unwanted one without a POL and lowest round. */
static struct cs_round_slot *cs_slot_victim(struct cs_core *core)
{
    struct cs_round_slot *best = NULL;
    bool best_pol = true;
    for (uint32_t i = 0; i < CS_ROUND_SLOTS; i++) {
        struct cs_round_slot *slot = &core->slots[i];
        if (slot->round == CS_ROUND_NONE)
            return slot;
        if (cs_round_wanted(core, slot->round))
            continue;
        bool pol = cs_slot_has_pol(core, slot);
        if (best == NULL || (best_pol && !pol) || (best_pol == pol && slot->round < best->round)) {
            best = slot;
            best_pol = pol;
        }
    }
    /* At most CS_ROUND_SLOTS rounds are wanted and the claimed one holds no slot yet. */
    TB_ASSERT(best != NULL);
    return best;
}

struct cs_round_slot *cs_slot_claim(struct cs_core *core, uint32_t round)
{
    TB_ASSERT(core->slots != NULL);
    struct cs_round_slot *slot = cs_slot_find(core, round);
    if (slot != NULL)
        return slot;
    if (round == CS_ROUND_NONE || !cs_round_wanted(core, round))
        return NULL;
    slot = cs_slot_victim(core);
    cs_slot_clear(core, slot);
    slot->round = round;
    TB_ASSERT(cs_slot_find(core, round) == slot);
    return slot;
}

static uint32_t cs_vote_kind(enum cs_msg_type type)
{
    TB_ASSERT(type == CS_MSG_PREVOTE || type == CS_MSG_PRECOMMIT);
    return (uint32_t)type - 1u;
}

/* The faces of sender from: CS_FACES_KEPT entries, the present ones first. */
static struct cs_vote_entry *cs_faces_of(const struct cs_round_slot *slot, uint32_t kind,
                                         uint32_t from)
{
    TB_ASSERT(kind < CS_VOTE_KINDS);
    TB_ASSERT(from < CS_VALIDATORS_MAX);
    return &slot->faces[kind][(size_t)from * CS_FACES_KEPT];
}

/*
 * The face of from for (is_nil, id), or NULL: faces hold distinct values, so one. The
 * present faces come first (faces are filled in order and only ever replaced), so the
 * first empty one ends the search: most senders have one face, and counting is hot.
 */
static const struct cs_vote_entry *cs_face_find(const struct cs_round_slot *slot, uint32_t kind,
                                                uint32_t from, bool is_nil,
                                                const struct cs_block_id *id)
{
    const struct cs_vote_entry *faces = cs_faces_of(slot, kind, from);
    for (uint32_t f = 0; f < CS_FACES_KEPT && faces[f].present; f++) {
        if (cs_entry_matches(&faces[f], is_nil, id))
            return &faces[f];
    }
    for (uint32_t f = 1; f < CS_FACES_KEPT; f++)
        TB_DEBUG_ASSERT(faces[f - 1].present || !faces[f].present);
    return NULL;
}

/*
 * Whether votes for (is_nil, id) in slot's round can complete a rule: the value of a
 * proposal of that round (lines 36, 49), of a current proposal citing that round as its
 * POL round (line 28), or the locked or valid value of that round. Nil never does for
 * liveness: timeoutPrevote does what line 44 does.
 */
static bool cs_value_matters(struct cs_core *core, const struct cs_round_slot *slot, bool is_nil,
                             const struct cs_block_id *id)
{
    const struct cs_persist *s = &core->state;
    TB_ASSERT(slot->round != CS_ROUND_NONE);
    if (is_nil)
        return false;
    for (uint32_t p = 0; p < CS_PROPOSALS_KEPT; p++) {
        if (slot->proposals[p].present && cs_block_id_equal(&slot->proposals[p].block_id, id))
            return true;
    }
    if (s->locked_round == slot->round && cs_block_id_equal(&s->locked_value, id))
        return true;
    if (s->valid_round == slot->round && cs_block_id_equal(&s->valid_value, id))
        return true;
    const struct cs_round_slot *current = cs_slot_find(core, s->round);
    for (uint32_t p = 0; current != NULL && p < CS_PROPOSALS_KEPT; p++) {
        const struct cs_proposal_entry *prop = &current->proposals[p];
        if (prop->present && prop->pol_round == slot->round &&
            cs_block_id_equal(&prop->block_id, id))
            return true;
    }
    return false;
}

/* What keeping a face of from for (is_nil, id) is worth: mattering first, then support. */
static uint32_t cs_face_worth(struct cs_core *core, const struct cs_round_slot *slot, uint32_t kind,
                              uint32_t from, bool is_nil, const struct cs_block_id *id)
{
    uint32_t n = core->state.validators.count;
    uint32_t support = 0;
    TB_ASSERT(n <= core->options.validators_max);
    TB_ASSERT(from < n);
    for (uint32_t i = 0; i < n; i++) {
        if (i != from && cs_face_find(slot, kind, i, is_nil, id) != NULL)
            support++;
    }
    TB_ASSERT(support < CS_VALIDATORS_MAX);
    return (cs_value_matters(core, slot, is_nil, id) ? CS_VALIDATORS_MAX : 0u) + support;
}

static void cs_evidence_fill(struct cs_evidence *evidence, const struct cs_vote *vote,
                             const struct cs_vote_entry *first)
{
    TB_ASSERT(first->present);
    TB_ASSERT(vote->sig.len <= CS_SIG_BYTES_MAX);
    memset(evidence, 0, sizeof(*evidence));
    evidence->type = vote->type;
    evidence->height = vote->height;
    evidence->round = vote->round;
    evidence->from = vote->from;
    evidence->first.is_nil = first->is_nil;
    evidence->first.pol_round = CS_ROUND_NONE;
    evidence->first.block_id = first->block_id;
    evidence->first.sig = first->sig;
    evidence->second.is_nil = vote->is_nil;
    evidence->second.pol_round = CS_ROUND_NONE;
    if (!vote->is_nil)
        evidence->second.block_id = vote->block_id;
    evidence->second.sig = vote->sig;
}

static void cs_entry_set(struct cs_vote_entry *entry, const struct cs_vote *vote)
{
    memset(entry, 0, sizeof(*entry));
    entry->present = true;
    entry->is_nil = vote->is_nil;
    if (!vote->is_nil)
        entry->block_id = vote->block_id;
    entry->sig = vote->sig;
}

/*
 * Keeps a new face of vote->from (a value none of its faces has): in a free entry, else
 * in place of the least worth kept face if the new one is worth strictly more (ties keep
 * what is there, so a sender cannot churn its own faces).
 */
static void cs_face_keep(struct cs_core *core, struct cs_round_slot *slot, uint32_t kind,
                         const struct cs_vote *vote)
{
    struct cs_vote_entry *faces = cs_faces_of(slot, kind, vote->from);
    TB_ASSERT(faces[0].present);
    TB_ASSERT(cs_face_find(slot, kind, vote->from, vote->is_nil, &vote->block_id) == NULL);
    uint32_t low = 0;
    uint32_t low_worth = UINT32_MAX;
    for (uint32_t f = 0; f < CS_FACES_KEPT; f++) {
        if (!faces[f].present) {
            cs_entry_set(&faces[f], vote);
            return;
        }
        uint32_t worth =
            cs_face_worth(core, slot, kind, vote->from, faces[f].is_nil, &faces[f].block_id);
        if (worth < low_worth) {
            low = f;
            low_worth = worth;
        }
    }
    if (cs_face_worth(core, slot, kind, vote->from, vote->is_nil, &vote->block_id) > low_worth)
        cs_entry_set(&faces[low], vote);
}

enum cs_add_result cs_vote_set_add(struct cs_core *core, struct cs_round_slot *slot,
                                   const struct cs_vote *vote, struct cs_evidence *evidence)
{
    TB_ASSERT(slot->round == vote->round);
    TB_ASSERT(vote->from < core->state.validators.count);
    uint32_t kind = cs_vote_kind(vote->type);
    struct cs_vote_entry *faces = cs_faces_of(slot, kind, vote->from);
    if (!faces[0].present) {
        cs_entry_set(&faces[0], vote);
        slot->vote_count[kind]++;
        TB_ASSERT(slot->vote_count[kind] <= core->state.validators.count);
        return CS_ADD_NEW;
    }
    if (cs_face_find(slot, kind, vote->from, vote->is_nil, &vote->block_id) != NULL)
        return CS_ADD_DUPLICATE;
    /* A conflict. Evidence first: keeping the new face may displace faces[0]. */
    bool again = slot->equivocated[kind][vote->from];
    if (!again) {
        slot->equivocated[kind][vote->from] = true;
        cs_evidence_fill(evidence, vote, &faces[0]);
    }
    cs_face_keep(core, slot, kind, vote);
    return again ? CS_ADD_EQUIVOCATION_AGAIN : CS_ADD_EQUIVOCATION;
}

/* Prevotes and precommits for id in slot: how much a conflicting proposal matters. */
static uint32_t cs_proposal_support(const struct cs_core *core, const struct cs_round_slot *slot,
                                    const struct cs_block_id *id)
{
    return cs_vote_set_count(core, slot, CS_MSG_PREVOTE, CS_COUNT_VALUE, id) +
           cs_vote_set_count(core, slot, CS_MSG_PRECOMMIT, CS_COUNT_VALUE, id);
}

static void cs_proposal_entry_set(struct cs_proposal_entry *entry,
                                  const struct cs_proposal *proposal)
{
    memset(entry, 0, sizeof(*entry));
    entry->present = true;
    entry->valid = proposal->valid;
    entry->pol_round = proposal->pol_round;
    entry->block_id = proposal->block_id;
    entry->sig = proposal->sig;
}

static bool cs_proposal_same(const struct cs_proposal_entry *entry,
                             const struct cs_proposal *proposal)
{
    /* The valid flag is the driver's verdict, not signed content: it does not conflict. */
    return entry->present && entry->pol_round == proposal->pol_round &&
           cs_block_id_equal(&entry->block_id, &proposal->block_id);
}

enum cs_add_result cs_proposal_set(struct cs_core *core, struct cs_round_slot *slot,
                                   const struct cs_proposal *proposal, struct cs_evidence *evidence)
{
    struct cs_proposal_entry *first = &slot->proposals[0];
    struct cs_proposal_entry *extra = &slot->proposals[1];
    TB_ASSERT(slot->round == proposal->round);
    TB_ASSERT(proposal->from ==
              cs_proposer(proposal->height, proposal->round, core->state.validators.count));
    if (!first->present) {
        cs_proposal_entry_set(first, proposal);
        return CS_ADD_NEW;
    }
    for (uint32_t i = 0; i < CS_PROPOSALS_KEPT; i++) {
        if (!cs_proposal_same(&slot->proposals[i], proposal))
            continue;
        /* valid(v) may depend on the driver's clock (a block time briefly ahead): a
         * later delivery judged valid upgrades it; validity never goes back. */
        if (proposal->valid)
            slot->proposals[i].valid = true;
        return CS_ADD_DUPLICATE;
    }
    if (!extra->present || cs_proposal_support(core, slot, &proposal->block_id) >
                               cs_proposal_support(core, slot, &extra->block_id))
        cs_proposal_entry_set(extra, proposal);
    if (slot->proposal_equivocated)
        return CS_ADD_EQUIVOCATION_AGAIN;
    slot->proposal_equivocated = true;
    memset(evidence, 0, sizeof(*evidence));
    evidence->type = CS_MSG_PROPOSAL;
    evidence->height = proposal->height;
    evidence->round = proposal->round;
    evidence->from = proposal->from;
    evidence->first.pol_round = first->pol_round;
    evidence->first.block_id = first->block_id;
    evidence->first.sig = first->sig;
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
    bool is_nil = filter == CS_COUNT_NIL;
    uint32_t count = 0;
    for (uint32_t i = 0; i < n; i++) {
        /* A sender's faces hold different values: it counts at most once per value. */
        if (cs_face_find(slot, kind, i, is_nil, id) != NULL)
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
        const struct cs_vote_entry *entry = cs_face_find(slot, kind, i, false, id);
        if (entry == NULL)
            continue;
        commit->signers[commit->signer_count].index = i;
        commit->signers[commit->signer_count].sig = entry->sig;
        commit->signer_count++;
    }
    TB_ASSERT(commit->signer_count <= n);
    return commit->signer_count;
}
