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

void dv_state_hash_begin(XXH3_state_t *st, const dv_db *db);
void dv_state_hash_slot(XXH3_state_t *st, const dv_db *db, uint32_t i);
uint64_t dv_state_hash_end(XXH3_state_t *st, const dv_db *db);

#endif
