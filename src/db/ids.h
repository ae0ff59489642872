/*
 * ids.h -- string id -> slot map (open addressing, linear probing).
 *
 * Buckets hold only a slot (u32, DV_NO_SLOT = empty); the key is read from
 * the slot's id string, so the map costs ~8-16 bytes per id. Deletion uses
 * backward shifting (no tombstones), so the table content depends only on
 * the set of ids and the insertion history, never on garbage. Capacity is a
 * power of two, load kept <= 1/2. Hash: XXH3-64 of the id bytes.
 */
#ifndef DV_DB_IDS_H
#define DV_DB_IDS_H

#include <stddef.h>
#include <stdint.h>
#include "deltavec.h"
#include "util/alloc.h"

typedef struct dv_ids {
    uint32_t *b;  /* buckets */
    uint32_t cap; /* power of two, or 0 */
    uint32_t n;
} dv_ids;

struct dv_db;

/* Validates an id: 1..DV_MAX_ID_LEN bytes of well-formed UTF-8. Sets *len. */
int dv_id_valid(const char *id, size_t *len);
/* Checks a NUL-terminated string is valid UTF-8 of 1..max bytes. */
int dv_db_str_valid(const char *s, size_t max, size_t *len);

uint32_t dv_ids_find(const struct dv_db *db, const char *id, size_t len);
/* Makes room so that one more id can be added without allocating. */
int dv_ids_reserve(struct dv_db *db, uint32_t extra);
/* Adds id (the slot's id must already be set). Requires reserve. */
void dv_ids_add(struct dv_db *db, uint32_t slot);
/* The map's hash of an id. */
uint32_t dv_ids_hash(const char *id, size_t len);
/* Fills an empty map with every live slot of a db whose ids are set (the
 * snapshot loader), given hash[s] = dv_ids_hash of slot s's id for each
 * live slot (any value for free ones). Requires reserve. Returns the first
 * slot whose id is already in the map (the map then holds the slots
 * before it), or DV_NO_SLOT. */
uint32_t dv_ids_build(struct dv_db *db, const uint32_t *hash);
void dv_ids_remove(struct dv_db *db, uint32_t slot);
void dv_ids_free(struct dv_db *db);
/* Index of the first item whose id (valid, see dv_id_valid) equals an
 * earlier item's, or n when all differ; temporary memory from mem,
 * *nomem = 1 if it failed. */
size_t dv_ids_first_repeat(dv_mem *mem, const dv_insert_item *items, size_t n, int *nomem);

#endif
