/*
 * state_hash.h -- dv_db_state_hash() in steps (state_hash.c), for code
 * that visits the slots anyway and hashes each one while it is in cache
 * (the snapshot loader). begin, slot(i) for every i < n_slots in order,
 * end gives exactly dv_db_state_hash(). slot(i) reads the slot's lists:
 * their counts must already be within their degree bounds.
 */
#ifndef DV_DB_STATE_HASH_H
#define DV_DB_STATE_HASH_H

#include <xxhash.h>

#include "db/db_internal.h"

/* The hash state plus a staging buffer: the canonical byte stream is made
 * of many small fields (flags, lengths, short lists), and XXH3's streaming
 * update costs about as much per call as hashing a few hundred bytes, so
 * fields are gathered here and hashed a few kilobytes at a time. The
 * digest depends only on the concatenated bytes, never on the staging. */
typedef struct dv_state_hasher {
    XXH3_state_t st;
    size_t n;
    uint8_t stage[4096];
} dv_state_hasher;

void dv_state_hash_begin(dv_state_hasher *h, const dv_db *db);
void dv_state_hash_slot(dv_state_hasher *h, const dv_db *db, uint32_t i);
uint64_t dv_state_hash_end(dv_state_hasher *h, const dv_db *db);

#endif
