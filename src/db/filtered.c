/*
 * filtered.c -- k-NN among the vectors whose metadata holds every key=value
 * pair of a dv_filter.
 *
 * The filter acts inside the layer-0 beam search, not after it: every node
 * reached is a candidate as usual (a node that does not match still leads to
 * nodes that do), but only matching nodes enter the result heap, and the
 * stopping rule looks at that heap. While it holds fewer than ef matches
 * the bound is open, so every node reached becomes a candidate: the beam
 * widens until ef matches are held (or everything reachable has been seen),
 * which is how "ef grows as needed". Over-fetching and filtering afterwards
 * would return fewer than k hits whenever the nearest ef nodes hold fewer
 * than k matches.
 *
 * Cost: with a fraction s of the vectors matching, the walk expands in the
 * order of ef / s nodes and reaches about M0 / 2 new ones per expansion;
 * each reached node is a random read of its vector and signature (and of
 * its metadata when the signature passes). The exact scan reads every
 * live slot's signature in order (a few ns) and, for matches only, the
 * metadata and the vector (a random read, like a reached node). Measured
 * with bench/bench_filtered (n 50,000, dim 64), a reached node and a match
 * of the scan cost about the same, and a signature test 1/60 of that; so
 * the scan is the cheaper once the walk reaches live * (1/60 + s) nodes,
 * which is the walk's budget. The search
 *   - estimates s from a fixed sample of slots and scans at once when the
 *     expected walk, ef / s * M0 / 2 nodes, is past the budget, and
 *   - otherwise walks, and switches to the scan if it reaches more nodes
 *     than the budget (the work lost is at most the budget).
 */
#include <string.h>

#include "db/heap.h"
#include "db/hnsw.h"

/* ---- the filter ---------------------------------------------------------- */

static int filter_active(const dv_filter *f) { return f && f->n_equal > 0; }

dv_status dv_filter_check(const dv_filter *f) {
    if (!filter_active(f)) return DV_OK;
    return dv_store_check_meta(f->equal, f->n_equal, NULL);
}

void dv_matcher_init(dv_matcher *m, const dv_filter *f) {
    m->filter = f;
    m->sig = 0;
    for (size_t i = 0; i < f->n_equal; i++) m->sig |= dv_store_pair_sig(f->equal[i].key, f->equal[i].value);
}

/* Metadata keys are unique per vector (dv_store_check_meta). */
static int meta_holds(const dv_meta *m, const char *key, const char *value) {
    for (uint32_t i = 0; m && i < m->n; i++)
        if (strcmp(m->kv[i].key, key) == 0) return strcmp(m->kv[i].value, value) == 0;
    return 0;
}

int dv_matcher_match_pairs(const dv_db *db, const dv_matcher *mt, uint32_t slot) {
    const dv_meta *m = dv_info(db, slot)->meta;
    const dv_filter *f = mt->filter;
    for (size_t i = 0; i < f->n_equal; i++)
        if (!meta_holds(m, f->equal[i].key, f->equal[i].value)) return 0;
    return 1;
}

/* ---- cost model ---------------------------------------------------------- */

#define SAMPLE_SLOTS 256u

typedef struct selectivity {
    uint32_t sampled; /* live slots looked at */
    uint32_t matched; /* of which matching */
} selectivity;

/* The filter on SAMPLE_SLOTS slots drawn by a fixed hash sequence (a stride
 * would alias with periodic metadata, e.g. every other row): deterministic,
 * so the same query on the same db takes the same path. Small dbs are
 * sampled whole. */
static selectivity sample(const dv_db *db, const dv_matcher *f) {
    selectivity s = {0, 0};
    int whole = db->n_slots <= SAMPLE_SLOTS;
    uint64_t h = 0x5DEECE66Dull;
    for (uint32_t i = 0; i < (whole ? db->n_slots : SAMPLE_SLOTS); i++) {
        uint32_t slot = i;
        if (!whole) {
            h = h * 6364136223846793005ull + 1442695040888963407ull; /* PCG's LCG step */
            slot = (uint32_t)((h >> 33) % db->n_slots);
        }
        if (!dv_info(db, slot)->live || dv_info(db, slot)->tomb) continue;
        s.sampled++;
        s.matched += (uint32_t)dv_matcher_match(db, f, slot);
    }
    return s;
}

/* Nodes the walk may reach before the scan is cheaper: live * (1/60 + s). */
static uint64_t traversal_budget(const dv_db *db, selectivity sel) {
    uint64_t live = db->live;
    if (sel.sampled == 0) return live / 60;
    return live / 60 + live * sel.matched / sel.sampled;
}

/* Nodes the walk is expected to reach: ef / s expansions (no match sampled:
 * s taken as one in `sampled`) of about M0 / 2 new nodes each. */
static uint64_t expected_reach(const dv_db *db, selectivity sel, uint32_t ef) {
    uint64_t m = sel.matched ? sel.matched : 1;
    return (uint64_t)ef * (sel.sampled ? sel.sampled : 1) / m * (db->M0 / 2);
}

/* ---- the beam search admitting only matches ------------------------------ */

typedef enum walk_end {
    WALK_DONE = 0,   /* stopped by the rule, or nothing left to expand */
    WALK_BUDGET = 1, /* reached more nodes than the budget */
    WALK_NOMEM = 2
} walk_end;

/* Room for n more candidates; the heap may outgrow ef (the open bound). */
static int cand_room(dv_search_scratch *s, uint32_t nc, uint32_t n) {
    uint64_t want = (uint64_t)nc + n;
    if (want <= s->cand_cap) return 1;
    uint64_t nc2 = (uint64_t)s->cand_cap * 2;
    if (nc2 < want) nc2 = want;
    if (nc2 > UINT32_MAX / sizeof(dv_heap_item)) return 0;
    dv_heap_item *p = dv_mem_realloc(&s->mem, s->cand, (size_t)s->cand_cap * sizeof(dv_heap_item),
                                     (size_t)nc2 * sizeof(dv_heap_item));
    if (!p) return 0;
    s->cand = p;
    s->cand_cap = (uint32_t)nc2;
    return 1;
}

typedef struct walk {
    const float *q;
    float qinv;
    uint32_t ef;
    const dv_matcher *f;
    uint64_t budget;
    uint32_t n; /* matches held, in s->sorted (ascending) on WALK_DONE */
} walk;

static walk_end walk_layer0(const dv_db *db, dv_search_scratch *s, walk *w, uint32_t ep, float epd) {
    uint16_t tag = dv_hnsw_new_epoch(s);
    uint16_t *vis = s->visited;
    dv_heap_item *top = s->top;
    uint32_t nc = 0, nt = 0;
    uint64_t reached = 1;
    vis[ep] = tag;
    minheap_push(s->cand, &nc, epd, ep);
    if (dv_matcher_match(db, w->f, ep)) maxheap_push(top, &nt, epd, ep);
    while (nc > 0) {
        dv_heap_item c = s->cand[0];
        if (nt >= w->ef && c.d > top[0].d) break;
        if (reached > w->budget) return WALK_BUDGET;
        minheap_pop(s->cand, &nc);
        const uint32_t *lst = dv_l0(db, c.id);
        uint32_t n = lst[0];
        if (!cand_room(s, nc, n)) return WALK_NOMEM;
        for (uint32_t j = 0; j < n; j++) {
            uint32_t nb = lst[1 + j];
            if (vis[nb] == tag) continue;
            vis[nb] = tag;
            reached++;
            float d = dv_dist_q(db, w->q, w->qinv, nb);
            if (nt >= w->ef && !(d < top[0].d)) continue;
            minheap_push(s->cand, &nc, d, nb);
            if (!dv_matcher_match(db, w->f, nb)) continue;
            maxheap_push(top, &nt, d, nb);
            if (nt > w->ef) maxheap_pop(top, &nt);
        }
    }
    w->n = nt;
    while (nt > 0) {
        s->sorted[nt - 1] = top[0];
        maxheap_pop(top, &nt);
    }
    sort_items(s->sorted, w->n);
    return WALK_DONE;
}

/* ---- the search ---------------------------------------------------------- */

static dv_status scan(const dv_db *db, dv_search_scratch *s, const float *q, size_t k, const dv_matcher *f,
                      dv_hit *hits, size_t *n_hits, dv_filter_path *path) {
    if (path) *path = DV_FILTER_PATH_SCAN;
    return dv_hnsw_exact_scan(db, s, q, k, f, hits, n_hits);
}

dv_status dv_hnsw_search_filtered_with(const dv_db *db, dv_search_scratch *s, const float *q, size_t k,
                                       size_t ef, const dv_filter *f, dv_hit *hits, size_t *n_hits,
                                       dv_filter_path *path) {
    if (path) *path = DV_FILTER_PATH_NONE;
    dv_status st = dv_hnsw_check_query(db, q, k, hits, n_hits);
    if (st != DV_OK) return st;
    if ((st = dv_filter_check(f)) != DV_OK) return st;
    if (!filter_active(f)) return dv_hnsw_search_with(db, s, q, k, ef, hits, n_hits);
    if (k > db->live) k = db->live;
    if (k == 0 || db->entry == DV_NO_SLOT) return DV_OK;
    if (ef == 0) ef = db->cfg.ef_search;
    if (ef < k) ef = k;
    if (ef > UINT32_MAX / 4) return DV_EINVAL;
    if (ef > db->n_slots) ef = db->n_slots;
    dv_matcher m;
    dv_matcher_init(&m, f);
    selectivity sel = sample(db, &m);
    walk w = {q, dv_store_inv_norm(db, q), (uint32_t)ef, &m, traversal_budget(db, sel), 0};
    if (expected_reach(db, sel, w.ef) > w.budget) return scan(db, s, q, k, &m, hits, n_hits, path);
    if ((st = dv_hnsw_scratch_reserve(s, db->n_slots, w.ef)) != DV_OK) return st;
    uint32_t ep;
    float epd;
    dv_hnsw_descend(db, s, q, w.qinv, &ep, &epd);
    walk_end end = walk_layer0(db, s, &w, ep, epd);
    if (end == WALK_NOMEM) {
        dv_hnsw_scratch_trim(s);
        return DV_ENOMEM;
    }
    /* past the budget, or fewer than k matches reachable (a graph split by
     * deletions, or fewer than k match at all): the scan settles it */
    if (end == WALK_BUDGET || w.n < k) return scan(db, s, q, k, &m, hits, n_hits, path);
    if (path) *path = DV_FILTER_PATH_GRAPH;
    dv_hnsw_write_hits(db, s->sorted, k, hits, n_hits);
    dv_hnsw_scratch_trim(s);
    return DV_OK;
}
