/*
 * hnsw.c -- HNSW search, insertion linking, and delete/update repair.
 *
 * Search follows hnswlib's searchBaseLayerST: a min-heap of candidates, a
 * max-heap of the ef best results, a visited tag per slot (epoch counter,
 * cleared only when the 16-bit epoch wraps), prefetch of the next
 * neighbour's tag and vector. The candidate heap is bounded by O(ef):
 * candidates farther than the current ef-th result can never be expanded,
 * so when it fills up they are dropped (see cand_compact).
 *
 * Neighbour selection is hnswlib's getNeighborsByHeuristic2: walk the
 * candidates by increasing distance, keep one unless it is closer to an
 * already kept one than to the base node.
 *
 * Delete keeps recall by repair: every node a with an edge to x gets a new
 * list chosen by the heuristic among a's other neighbours and x's
 * neighbours. Nodes pointing to x are found by a 2-hop walk from x; the
 * per-layer in-degree counters tell whether the walk found them all, and if
 * not the layer is scanned fully, so no dangling edge can remain.
 * Lists are changed by their net difference (removals, then appends), so a
 * repair that keeps most of a list costs a few events.
 */
#include <math.h>
#include <string.h>

#include "db/heap.h"
#include "db/hnsw.h"

/* ---- scratch ------------------------------------------------------------ */

dv_status dv_hnsw_scratch_create(const dv_allocator *a, dv_search_scratch **out) {
    dv_mem m;
    dv_mem_init(&m, a);
    dv_search_scratch *s = dv_mem_alloc(&m, sizeof *s);
    if (!s) return DV_ENOMEM;
    memset(s, 0, sizeof *s);
    s->mem = m;
    s->epoch = 0;
    *out = s;
    return DV_OK;
}

void dv_hnsw_scratch_destroy(dv_search_scratch *s) {
    if (!s) return;
    dv_mem m = s->mem;
    dv_mem_free(&m, s->visited, (size_t)s->visited_cap * 2);
    dv_mem_free(&m, s->cand, (size_t)s->cand_cap * sizeof(dv_heap_item));
    dv_mem_free(&m, s->top, (size_t)s->top_cap * sizeof(dv_heap_item));
    dv_mem_free(&m, s->sorted, (size_t)s->sorted_cap * sizeof(dv_heap_item));
    dv_mem_free(&m, s, sizeof *s);
}

static int grow(dv_mem *m, void **p, uint32_t *cap, uint64_t want, size_t elem) {
    if (want <= *cap) return 1;
    uint64_t nc = (uint64_t)*cap + *cap / 2;
    if (nc < want) nc = want;
    if (nc > UINT32_MAX) return 0;
    size_t bytes = dv_mul_size((size_t)nc, elem);
    if (!bytes) return 0;
    void *q = dv_mem_realloc(m, *p, (size_t)*cap * elem, bytes);
    if (!q) return 0;
    *p = q;
    *cap = (uint32_t)nc;
    return 1;
}

dv_status dv_hnsw_scratch_reserve(dv_search_scratch *s, uint32_t n_slots, uint32_t ef) {
    uint32_t old = s->visited_cap;
    if (!grow(&s->mem, (void **)&s->visited, &s->visited_cap, n_slots, 2)) return DV_ENOMEM;
    if (s->visited_cap > old) memset(s->visited + old, 0, (size_t)(s->visited_cap - old) * 2);
    uint64_t c = 2 * (uint64_t)ef + 2 * DV_MAX_M * 2 + 16;
    if (!grow(&s->mem, (void **)&s->cand, &s->cand_cap, c, sizeof(dv_heap_item))) return DV_ENOMEM;
    if (!grow(&s->mem, (void **)&s->top, &s->top_cap, (uint64_t)ef + 2, sizeof(dv_heap_item)))
        return DV_ENOMEM;
    if (!grow(&s->mem, (void **)&s->sorted, &s->sorted_cap, (uint64_t)ef + 2, sizeof(dv_heap_item)))
        return DV_ENOMEM;
    return DV_OK;
}

/* Heaps larger than this (items) are freed after the search that needed them:
 * one query with a huge ef must not keep its scratch for the db's lifetime. */
#define SCRATCH_KEEP_ITEMS (1u << 16)

static void trim_heap(dv_search_scratch *s, dv_heap_item **p, uint32_t *cap) {
    if (*cap <= SCRATCH_KEEP_ITEMS) return;
    dv_mem_free(&s->mem, *p, (size_t)*cap * sizeof(dv_heap_item));
    *p = NULL;
    *cap = 0;
}

void dv_hnsw_scratch_trim(dv_search_scratch *s) {
    trim_heap(s, &s->cand, &s->cand_cap);
    trim_heap(s, &s->top, &s->top_cap);
    trim_heap(s, &s->sorted, &s->sorted_cap);
}

uint16_t dv_hnsw_new_epoch(dv_search_scratch *s) {
    if (++s->epoch == 0) {
        memset(s->visited, 0, (size_t)s->visited_cap * 2);
        s->epoch = 1;
    }
    return s->epoch;
}

/* Drops candidates that can no longer be expanded (farther than the worst
 * of a full result heap), then re-heapifies. */
static void cand_compact(dv_heap_item *h, uint32_t *n, float bound, int strict) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < *n; i++)
        if (strict ? h[i].d < bound : h[i].d <= bound) h[k++] = h[i];
    uint32_t m = 0;
    for (uint32_t i = 0; i < k; i++) {
        dv_heap_item it = h[i];
        minheap_push(h, &m, it.d, it.id);
    }
    *n = m;
}

/* ---- search ------------------------------------------------------------- */

/* How many neighbours ahead of the distance being computed the whole vector
 * is prefetched. The search is bound by memory latency (perf: the stalls are
 * on the kernel's loads and on the visited tags), so the lines of the next
 * vectors are requested while the current one is compared. In wasm the
 * read-ahead is a load (search_prefetch below), and every list member's
 * vector is read ahead before the first distance: alternating the same
 * index's searches between builds (100,000 x 128, Node 20), each step from
 * 3 to 5, 8, 16 and all (a list holds at most 2 * DV_MAX_M) was faster than
 * the one before, all of them 1.3-1.9x the QPS of no read-ahead. */
#if defined(__wasm__)
#define PREFETCH_AHEAD (2 * DV_MAX_M)
#else
#define PREFETCH_AHEAD 3
#endif

/* The search's read-ahead. WebAssembly has no prefetch instruction
 * (__builtin_prefetch compiles to nothing there), so the wasm build reads
 * one byte of each line instead: a load whose value is unused starts the
 * same cache miss while the current vector is compared (volatile, so the
 * compiler keeps it; the engine keeps every wasm load, since one may trap).
 * Only for addresses inside the store: a load, unlike a prefetch, must be
 * valid. */
#if defined(__wasm__)
static inline void search_prefetch(const void *p, size_t bytes) {
    const volatile unsigned char *c = (const volatile unsigned char *)p;
    for (size_t o = 0; o < bytes; o += 64) (void)c[o];
    (void)c[bytes - 1];
}
#else
#define search_prefetch dv_prefetch_bytes
#endif

/* Prefetches every cache line of slot's vector (the first line alone left
 * the kernel waiting for the other seven at dim 128). */
static inline void prefetch_vector(const dv_db *db, uint32_t slot) {
    search_prefetch(dv_vec(db, slot), (size_t)db->dim * 4);
}

static inline void prefetch_tag(const uint16_t *vis, uint32_t slot) {
#if defined(__wasm__)
    (void)*(const volatile uint16_t *)(vis + slot);
#elif defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(vis + slot);
#else
    (void)vis;
    (void)slot;
#endif
}

/* Marks the not yet visited neighbours in lst as visited and writes them to
 * out in list order; returns their number. Marking them all before any
 * distance is computed changes nothing (a list holds no slot twice) but
 * lets their vectors be fetched together. */
static inline uint32_t take_unvisited(const uint32_t *lst, uint16_t *vis, uint16_t tag, uint32_t *out) {
    uint32_t n = lst[0], m = 0;
    for (uint32_t j = 0; j < n; j++) prefetch_tag(vis, lst[1 + j]);
    for (uint32_t j = 0; j < n; j++) {
        uint32_t nb = lst[1 + j];
        if (vis[nb] == tag) continue;
        vis[nb] = tag;
        out[m++] = nb;
    }
    return m;
}

/* Prefetches the lines of slot's list on layer (count and the full degree). */
static inline void prefetch_list(const dv_db *db, uint32_t slot, uint32_t layer) {
    search_prefetch(dv_list(db, slot, layer), (size_t)(1 + dv_maxdeg(db, layer)) * 4);
}

/* dist[j] = distance from q to ids[j], j < m, the vectors prefetched
 * PREFETCH_AHEAD ahead. One tight loop, apart from the heap updates that
 * use the distances, so the loads of the next vectors overlap the
 * arithmetic of the current one. */
static void fresh_distances(const dv_db *db, const float *q, float qinv, const uint32_t *ids, uint32_t m,
                            float *dist) {
    /* the db's fields read once: the kernel is an opaque call, after which
     * the compiler would reload them for every distance */
    const size_t dim = db->dim;
#if !DV_SEGMENTED_NODES
    const char *vec0 = db->vectors;
    const size_t stride = db->vector_size;
#define FRESH_VEC(slot) ((const float *)(vec0 + (size_t)(slot)*stride))
#else
#define FRESH_VEC(slot) ((const float *)dv_vec(db, (slot))) /* the kernel is inlined there: no reloads */
#endif
    const dv_metric metric = db->cfg.metric;
    const dv_dist2_fn kernel = metric == DV_METRIC_L2 ? db->l2sq : db->dot;
    for (uint32_t j = 0; j < m && j < PREFETCH_AHEAD; j++) prefetch_vector(db, ids[j]);
    for (uint32_t j = 0; j < m; j++) {
        if (j + PREFETCH_AHEAD < m) prefetch_vector(db, ids[j + PREFETCH_AHEAD]);
        float r = DV_KERNEL_CALL(kernel, metric, q, FRESH_VEC(ids[j]), dim);
        /* the same expressions as dv_dist_q: bit-identical distances */
        if (metric == DV_METRIC_L2)
            dist[j] = r;
        else if (metric == DV_METRIC_IP)
            dist[j] = 1.0f - r;
        else
            dist[j] = 1.0f - r * qinv * dv_info(db, ids[j])->inv_norm;
    }
#undef FRESH_VEC
}

/* Greedy descent on an upper layer: moves to the nearest neighbour while
 * one is nearer. A node whose distance was computed earlier in this descent
 * (vis[] == tag, on this layer or one above) is not computed again: when its
 * list was read the walk moved to a node at least as near as it, and the
 * distance of the current node only falls, so it can never be chosen (the
 * test is strict). The result is the same node; at 784 dims a third of a
 * query's distances at ef 10 were on the upper layers, many of them repeats
 * (docs/BENCH.md). */
static void greedy(const dv_db *db, uint16_t *vis, uint16_t tag, const float *q, float qinv, uint32_t *cur,
                   float *curd, uint32_t layer) {
    int changed = 1;
    while (changed) {
        changed = 0;
        uint32_t fresh[2 * DV_MAX_M];
        float dist[2 * DV_MAX_M];
        uint32_t m = take_unvisited(dv_list(db, *cur, layer), vis, tag, fresh);
        fresh_distances(db, q, qinv, fresh, m, dist); /* prefetched, as in search_layer */
        for (uint32_t j = 0; j < m; j++) {
            if (dist[j] < *curd) {
                *curd = dist[j];
                *cur = fresh[j];
                changed = 1;
            }
        }
    }
}

/* The upper layers from top down to (not including) layer `to`, from
 * *cur at distance *curd: greedy steps sharing one visited tag. */
static void descend_to(const dv_db *db, dv_search_scratch *s, const float *q, float qinv, uint32_t top,
                       uint32_t to, uint32_t *cur, float *curd) {
    if (top <= to) return;
    uint16_t tag = dv_hnsw_new_epoch(s);
    s->visited[*cur] = tag;
    for (uint32_t l = top; l > to; l--) greedy(db, s->visited, tag, q, qinv, cur, curd, l);
}

/* Beam search on one layer from ep; leaves the results in s->sorted in
 * ascending (d, slot) order and returns their number (<= ef). Tombstones
 * are expanded like any node (they keep the graph connected until a repair
 * purges them) but never become results: with many of them the beam simply
 * runs longer to collect ef vectors. The candidate heap is bounded by its
 * capacity: when compaction cannot make room, the farthest new candidates
 * are not queued (a narrower beam, never an overflow). */
static uint32_t search_layer(const dv_db *db, dv_search_scratch *s, const float *q, float qinv, uint32_t ep,
                             float epd, uint32_t layer, uint32_t ef) {
    uint16_t tag = dv_hnsw_new_epoch(s);
    uint16_t *vis = s->visited;
    dv_heap_item *cand = s->cand, *top = s->top;
    uint32_t nc = 0, nt = 0, cap = s->cand_cap;
    const int any_tomb = db->n_tomb > 0;
    vis[ep] = tag;
    minheap_push(cand, &nc, epd, ep);
    if (!dv_info(db, ep)->tomb) maxheap_push(top, &nt, epd, ep);
    float bound = epd;
    while (nc > 0) {
        dv_heap_item c = cand[0];
        if (c.d > bound && nt >= ef) break;
        minheap_pop(cand, &nc);
        const uint32_t *lst = dv_list(db, c.id, layer);
        uint32_t n = lst[0];
        if (nc + n > cap && nt >= ef) {
            cand_compact(cand, &nc, bound, 0);
            if (nc + n > cap) cand_compact(cand, &nc, bound, 1);
        }
        uint32_t fresh[2 * DV_MAX_M];
        float dist[2 * DV_MAX_M];
        uint32_t m = take_unvisited(lst, vis, tag, fresh);
        fresh_distances(db, q, qinv, fresh, m, dist);
        for (uint32_t j = 0; j < m; j++) {
            uint32_t nb = fresh[j];
            float d = dist[j];
            if (nt < ef || d < bound) {
                if (nc < cap) minheap_push(cand, &nc, d, nb);
                /* its list, long before it is expanded (prefetching only the
                 * heap's top, just before its turn, left the expansion waiting
                 * for the list: 14% of search_layer's samples) */
                prefetch_list(db, nb, layer);
                /* info[] is a separate array: reading the tomb flag cost a
                 * cache miss per accepted neighbour (26% of search_layer's
                 * samples), so it is read only while tombstones exist */
                if (any_tomb && dv_info(db, nb)->tomb) continue;
                maxheap_push(top, &nt, d, nb);
                if (nt > ef) maxheap_pop(top, &nt);
                bound = top[0].d;
            }
        }
    }
    uint32_t n = nt;
    while (nt > 0) {
        s->sorted[nt - 1] = top[0];
        maxheap_pop(top, &nt);
    }
    sort_items(s->sorted, n);
    return n;
}

void dv_hnsw_descend(const dv_db *db, dv_search_scratch *s, const float *q, float qinv, uint32_t *ep,
                     float *epd) {
    uint32_t cur = db->entry;
    float curd = dv_dist_q(db, q, qinv, cur);
    descend_to(db, s, q, qinv, db->max_level, 0, &cur, &curd);
    *ep = cur;
    *epd = curd;
}

dv_status dv_hnsw_check_query(const dv_db *db, const float *q, size_t k, dv_hit *hits, size_t *n_hits) {
    if (!db || !q || !n_hits || (k > 0 && !hits)) return DV_EINVAL;
    *n_hits = 0;
    return dv_store_check_vector(q, db->dim);
}

void dv_hnsw_write_hits(const dv_db *db, const dv_heap_item *sorted, size_t n, dv_hit *hits, size_t *n_hits) {
    for (size_t i = 0; i < n; i++) {
        hits[i].id = dv_info(db, sorted[i].id)->id;
        hits[i].distance = sorted[i].d;
        hits[i].slot = sorted[i].id;
    }
    *n_hits = n;
}

dv_status dv_hnsw_exact_with(const dv_db *db, dv_search_scratch *s, const float *q, size_t k, dv_hit *hits,
                             size_t *n_hits) {
    dv_status st = dv_hnsw_check_query(db, q, k, hits, n_hits);
    if (st != DV_OK) return st;
    return dv_hnsw_exact_scan(db, s, q, k, NULL, hits, n_hits);
}

dv_status dv_hnsw_exact_scan(const dv_db *db, dv_search_scratch *s, const float *q, size_t k,
                             const dv_matcher *m, dv_hit *hits, size_t *n_hits) {
    dv_status st;
    if (k > db->live) k = db->live;
    if (k == 0) return DV_OK;
    st = dv_hnsw_scratch_reserve(s, db->n_slots, (uint32_t)k);
    if (st != DV_OK) return st;
    float qinv = dv_store_inv_norm(db, q);
    dv_heap_item *top = s->top;
    uint32_t nt = 0;
    for (uint32_t i = 0; i < db->n_slots; i++) {
        if (!dv_info(db, i)->live || dv_info(db, i)->tomb || (m && !dv_matcher_match(db, m, i))) continue;
        float d = dv_dist_q(db, q, qinv, i);
        if (nt < k) {
            maxheap_push(top, &nt, d, i);
        } else if (d < top[0].d || (d == top[0].d && i < top[0].id)) {
            maxheap_pop(top, &nt);
            maxheap_push(top, &nt, d, i);
        }
    }
    uint32_t n = nt;
    while (nt > 0) {
        s->sorted[nt - 1] = top[0];
        maxheap_pop(top, &nt);
    }
    sort_items(s->sorted, n);
    dv_hnsw_write_hits(db, s->sorted, n, hits, n_hits);
    dv_hnsw_scratch_trim(s);
    return DV_OK;
}

dv_status dv_hnsw_search_with(const dv_db *db, dv_search_scratch *s, const float *q, size_t k, size_t ef,
                              dv_hit *hits, size_t *n_hits) {
    dv_status st = dv_hnsw_check_query(db, q, k, hits, n_hits);
    if (st != DV_OK) return st;
    if (k > db->live) k = db->live;
    if (k == 0 || db->entry == DV_NO_SLOT) return DV_OK;
    if (ef == 0) ef = db->cfg.ef_search;
    if (ef < k) ef = k;
    if (ef > UINT32_MAX / 4) return DV_EINVAL;
    if (ef > db->n_slots) ef = db->n_slots; /* a larger beam finds nothing more: no node is left out */
    st = dv_hnsw_scratch_reserve(s, db->n_slots, (uint32_t)ef);
    if (st != DV_OK) return st;
    float qinv = dv_store_inv_norm(db, q);
    uint32_t cur;
    float curd;
    dv_hnsw_descend(db, s, q, qinv, &cur, &curd);
    uint32_t n = search_layer(db, s, q, qinv, cur, curd, 0, (uint32_t)ef);
    /* a graph split by deletions, or a beam that met mostly tombstones, may
     * not reach k vectors: fall back to exact */
    if (n < k) return dv_hnsw_exact_scan(db, s, q, k, NULL, hits, n_hits);
    dv_hnsw_write_hits(db, s->sorted, k, hits, n_hits);
    dv_hnsw_scratch_trim(s);
    return DV_OK;
}

/* ---- level -------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void dv_hnsw_skip_level(uint64_t *rng) { (void)splitmix64(rng); }

uint32_t dv_hnsw_random_level(uint64_t *rng, double mult) {
    double u = (double)((splitmix64(rng) >> 11) + 1) * (1.0 / 9007199254740992.0); /* (0, 1] */
    double l = -log(u) * mult;
    if (!(l < DV_MAX_LEVEL)) return DV_MAX_LEVEL;
    return (uint32_t)l;
}

/* ---- neighbour selection ------------------------------------------------ */

/* The insert heuristic seeded with a list's k kept entries (sel[0..k)):
 * candidates c[0..n), ascending by distance to the list's node, are taken
 * in that order up to mmax entries, each only if no entry already in sel is
 * closer to it than the list's node is. The kept entries are not judged
 * again. Returns the new number of entries. */
static uint32_t take_into_room(const dv_db *db, const dv_heap_item *c, uint32_t n, dv_heap_item *sel,
                               uint32_t k, uint32_t mmax) {
    for (uint32_t i = 0; i < n && k < mmax; i++) {
        const float *v = dv_vec(db, c[i].id);
        /* the cached norm only for cosine: info[] is a separate array */
        float vinv = db->cfg.metric == DV_METRIC_COSINE ? dv_info(db, c[i].id)->inv_norm : 1.0f;
        int good = 1;
        for (uint32_t j = 0; j < k && good; j++)
            if (dv_dist_q(db, v, vinv, sel[j].id) < c[i].d) good = 0;
        if (good) sel[k++] = c[i];
    }
    return k;
}

/* c: n candidates sorted ascending by distance to the base node. Writes the
 * kept ones (<= m, ascending) to out and returns their number: hnswlib's
 * getNeighborsByHeuristic2, i.e. the seeded heuristic with nothing kept. */
static uint32_t heuristic(const dv_db *db, const dv_heap_item *c, uint32_t n, uint32_t m, dv_heap_item *out) {
    if (n < m) {
        memcpy(out, c, (size_t)n * sizeof *c);
        return n;
    }
    return take_into_room(db, c, n, out, 0, m);
}

static int in_items(const dv_heap_item *a, uint32_t n, uint32_t id) {
    for (uint32_t i = 0; i < n; i++)
        if (a[i].id == id) return 1;
    return 0;
}

/* ---- linking (insert, update) ------------------------------------------- */

size_t dv_hnsw_link_edge_bound(const dv_db *db, uint32_t level) {
    size_t total = 0;
    for (uint32_t l = 0; l <= level; l++) total += db->M + (size_t)db->M * (dv_maxdeg(db, l) + 1);
    return total;
}

/* Adds the back edge nb -> x on layer; a full list is re-selected by the
 * heuristic and changed by its net difference. */
static void connect_back(dv_db *db, uint32_t nb, uint32_t layer, uint32_t x, float dx) {
    uint32_t *lst = dv_list(db, nb, layer);
    uint32_t mmax = dv_maxdeg(db, layer);
    if (lst[0] < mmax) {
        dv_graph_add_edge(db, nb, layer, x, dx);
        return;
    }
    dv_heap_item c[2 * DV_MAX_M + 1], sel[2 * DV_MAX_M + 1];
    uint32_t old[2 * DV_MAX_M], n = lst[0], nc = 0;
    memcpy(old, lst + 1, (size_t)n * 4);
    for (uint32_t j = 0; j < n; j++) {
        /* a full list sheds its tombstones first (the flag is read only
         * while there are any: info[] is a cache miss per neighbour) */
        if (db->n_tomb > 0 && dv_info(db, old[j])->tomb) continue;
        c[nc++].id = old[j];
    }
    uint32_t ids[2 * DV_MAX_M];
    float dist[2 * DV_MAX_M];
    for (uint32_t j = 0; j < nc; j++) ids[j] = c[j].id;
    fresh_distances(db, dv_vec(db, nb), dv_info(db, nb)->inv_norm, ids, nc, dist);
    for (uint32_t j = 0; j < nc; j++) c[j].d = dist[j];
    c[nc].id = x;
    c[nc].d = dx;
    sort_items(c, nc + 1);
    uint32_t k = heuristic(db, c, nc + 1, mmax, sel);
    for (uint32_t j = 0; j < n; j++)
        if (!in_items(sel, k, old[j])) dv_graph_remove_edge(db, nb, layer, old[j]);
    if (in_items(sel, k, x)) dv_graph_add_edge(db, nb, layer, x, dx);
}

uint32_t dv_hnsw_pick_entry(const dv_db *db, uint32_t exclude, uint32_t *level) {
    uint32_t best = DV_NO_SLOT, bl = 0;
    for (uint32_t i = 0; i < db->n_slots; i++) {
        const dv_slot *si = dv_info(db, i);
        if (!si->live || si->tomb || i == exclude) continue;
        if (best == DV_NO_SLOT || si->level > bl) {
            best = i;
            bl = si->level;
        }
    }
    *level = bl;
    return best;
}

void dv_hnsw_link(dv_db *db, uint32_t x) {
    uint32_t L = dv_info(db, x)->level;
    if (db->entry == DV_NO_SLOT) {
        dv_graph_set_entry(db, x, L);
        return;
    }
    uint32_t start = db->entry, top = db->max_level;
    if (start == x) {
        start = dv_hnsw_pick_entry(db, x, &top);
        if (start == DV_NO_SLOT) return;
    }
    dv_search_scratch *s = db->scratch;
    const float *q = dv_vec(db, x);
    float qinv = dv_info(db, x)->inv_norm;
    uint32_t cur = start;
    float curd = dv_dist_q(db, q, qinv, cur);
    descend_to(db, s, q, qinv, top, L, &cur, &curd);
    dv_heap_item sel[2 * DV_MAX_M];
    for (uint32_t l = (L < top ? L : top) + 1; l-- > 0;) {
        uint32_t n = search_layer(db, s, q, qinv, cur, curd, l, db->cfg.ef_construction);
        if (n == 0) continue; /* only tombstones reachable on this layer: nothing to link to */
        uint32_t k = heuristic(db, s->sorted, n, db->M, sel);
        cur = s->sorted[0].id;
        curd = s->sorted[0].d;
        for (uint32_t j = 0; j < k; j++) dv_graph_add_edge(db, x, l, sel[j].id, sel[j].d);
        for (uint32_t j = 0; j < k; j++) connect_back(db, sel[j].id, l, x, sel[j].d);
    }
    if (L > db->max_level) dv_graph_set_entry(db, x, L);
}

/* ---- unlink (delete, update) -------------------------------------------- */

static dv_status plan_push(dv_db *db, uint32_t v) {
    if (db->plan_len == db->plan_cap) {
        size_t nc = db->plan_cap ? db->plan_cap * 2 : 256;
        uint32_t *p = dv_mem_realloc(&db->mem, db->plan, db->plan_cap * 4, nc * 4);
        if (!p) return DV_ENOMEM;
        db->plan = p;
        db->plan_cap = nc;
    }
    db->plan[db->plan_len++] = v;
    return DV_OK;
}

/* Collects the nodes with an edge to x on layer into db->inlist (sorted);
 * returns their number or -1 on allocation failure. */
static long collect_in(dv_db *db, uint32_t x, uint32_t layer) {
    uint32_t want = *dv_indeg(db, x, layer);
    if (want > db->inlist_cap) {
        size_t nc = want + 64;
        uint32_t *p = dv_mem_realloc(&db->mem, db->inlist, db->inlist_cap * 4, nc * 4);
        if (!p) return -1;
        db->inlist = p;
        db->inlist_cap = nc;
    }
    if (want == 0) return 0;
    uint32_t found = 0;
    dv_search_scratch *s = db->scratch;
    uint16_t tag = dv_hnsw_new_epoch(s);
    s->visited[x] = tag;
    const uint32_t *lx = dv_list(db, x, layer);
    for (uint32_t i = 0; i < lx[0] && found < want; i++) {
        uint32_t b = lx[1 + i];
        if (s->visited[b] != tag) {
            s->visited[b] = tag;
            if (dv_graph_has_edge(db, b, layer, x)) db->inlist[found++] = b;
        }
        const uint32_t *lb = dv_list(db, b, layer);
        for (uint32_t j = 0; j < lb[0] && found < want; j++) {
            uint32_t c = lb[1 + j];
            if (s->visited[c] == tag) continue;
            s->visited[c] = tag;
            if (dv_graph_has_edge(db, c, layer, x)) db->inlist[found++] = c;
        }
    }
    /* Still missing some: scan the layer. (A search around x before the scan
     * -- the nodes pointing to x should be near it -- completed the set in
     * only ~10% of the cases on random data and cost more than it saved:
     * deletes/s at 20k / 50k / 150k x 64 went from 1696 / 816 / 584 to
     * 2752 / 1038 / 958 without it, bench/bench_delete.c's procedure. The
     * set found is the same either way: same state hashes.) */
    if (found < want) {
        found = 0;
        for (uint32_t a = 0; a < db->n_slots && found < want; a++)
            if (a != x && dv_info(db, a)->live && dv_info(db, a)->level >= layer &&
                dv_graph_has_edge(db, a, layer, x))
                db->inlist[found++] = a;
    }
    /* canonical order: by slot */
    for (uint32_t i = 1; i < found; i++) {
        uint32_t v = db->inlist[i], j = i;
        while (j > 0 && db->inlist[j - 1] > v) {
            db->inlist[j] = db->inlist[j - 1];
            j--;
        }
        db->inlist[j] = v;
    }
    return found;
}

/* A plan record whose layer has this bit asks for one back edge instead:
 * [b][layer | PLAN_BACK][1][a] appends a to b's list if it has room (and b
 * is a vector without that edge), checked when applied. */
#define PLAN_BACK 0x80000000u

/* Plans a's list on layer as sel[0..k) (apply_plan changes it by the net
 * difference) and, for each entry taken after the `kept` ones, the back
 * edge to a. */
static dv_status plan_list_and_back_edges(dv_db *db, uint32_t a, uint32_t layer, const dv_heap_item *sel,
                                          uint32_t kept, uint32_t k) {
    dv_status st = plan_push(db, a);
    if (st == DV_OK) st = plan_push(db, layer);
    if (st == DV_OK) st = plan_push(db, k);
    for (uint32_t j = 0; j < k && st == DV_OK; j++) st = plan_push(db, sel[j].id);
    for (uint32_t j = kept; j < k && st == DV_OK; j++) {
        st = plan_push(db, sel[j].id);
        if (st == DV_OK) st = plan_push(db, layer | PLAN_BACK);
        if (st == DV_OK) st = plan_push(db, 1);
        if (st == DV_OK) st = plan_push(db, a);
    }
    return st;
}

/* Plans the list of a, an in-neighbour of x on layer, once x leaves it: a
 * keeps its other entries as they are, and takes x's neighbours (nearest to
 * a first) into the room, each only if no entry a keeps or took is closer to
 * it than a is (the insert heuristic seeded with the kept entries, as the
 * delete repair does), and each new edge a -> b asks for its back edge b -> a
 * (added if b's list has room). Re-selecting the whole list instead (the kept
 * entries judged again beside the candidates) dropped about four edges per
 * list: a re-link carried ~120 edge changes instead of ~40, and recall@10
 * after re-linking every vector twice was lower (docs/DB.md).
 * Plan records: [a][layer][k][the kept entries, then those taken], then
 * one back-edge record per entry taken. */
static dv_status plan_in_neighbour(dv_db *db, uint32_t a, uint32_t x, uint32_t layer, size_t *events) {
    const uint32_t *la = dv_list(db, a, layer), *lx = dv_list(db, x, layer);
    dv_heap_item c[2 * DV_MAX_M], sel[2 * DV_MAX_M];
    dv_search_scratch *sc = db->scratch;
    uint16_t tag = dv_hnsw_new_epoch(sc);
    uint16_t *vis = sc->visited;
    uint32_t k = 0, n = 0, mmax = dv_maxdeg(db, layer);
    vis[a] = tag;
    vis[x] = tag;
    for (uint32_t j = 0; j < la[0]; j++) {
        vis[la[1 + j]] = tag;
        if (la[1 + j] != x) sel[k++].id = la[1 + j];
    }
    uint32_t kept = k;
    for (uint32_t j = 0; j < lx[0]; j++) {
        uint32_t b = lx[1 + j];
        if (vis[b] == tag || dv_info(db, b)->tomb) continue;
        vis[b] = tag;
        c[n].id = b;
        c[n].d = dv_dist_nodes(db, a, b);
        n++;
    }
    sort_items(c, n);
    k = take_into_room(db, c, n, sel, k, mmax);
    *events += 1 + 2 * (k - kept); /* x's removal, the appends, their back edges */
    return plan_list_and_back_edges(db, a, layer, sel, kept, k);
}

dv_status dv_hnsw_plan_unlink(dv_db *db, uint32_t x, int for_update, size_t *edge_events) {
    size_t events = 0;
    db->plan_len = 0;
    uint32_t L = dv_info(db, x)->level;
    for (uint32_t l = 0; l <= L; l++) {
        long nin = collect_in(db, x, l);
        if (nin < 0) return DV_ENOMEM;
        for (long i = 0; i < nin; i++) {
            dv_status st = plan_in_neighbour(db, db->inlist[i], x, l, &events);
            if (st != DV_OK) return st;
        }
        if (for_update) events += dv_list(db, x, l)[0];
    }
    *edge_events = events;
    return DV_OK;
}

/* Applies every plan record: each list changes by its net difference
 * (removals of entries not selected, in list order, then appends of new
 * selections, in selection order); then the back edges, on the lists as
 * the records left them. */
static void apply_plan(dv_db *db) {
    uint32_t old[2 * DV_MAX_M];
    for (size_t p = 0; p < db->plan_len;) {
        uint32_t a = db->plan[p], l = db->plan[p + 1], k = db->plan[p + 2];
        const uint32_t *sel = db->plan + p + 3;
        p += 3 + (size_t)k;
        if (l & PLAN_BACK) continue;
        uint32_t *la = dv_list(db, a, l), n = la[0];
        memcpy(old, la + 1, (size_t)n * 4);
        for (uint32_t j = 0; j < n; j++) {
            int kept = 0;
            for (uint32_t t = 0; t < k; t++)
                if (sel[t] == old[j]) kept = 1;
            if (!kept) dv_graph_remove_edge(db, a, l, old[j]);
        }
        for (uint32_t t = 0; t < k; t++) {
            int was = 0;
            for (uint32_t j = 0; j < n; j++)
                if (old[j] == sel[t]) was = 1;
            if (!was) dv_graph_add_edge(db, a, l, sel[t], dv_dist_nodes(db, a, sel[t]));
        }
    }
    for (size_t p = 0; p < db->plan_len;) {
        uint32_t b = db->plan[p], l = db->plan[p + 1], k = db->plan[p + 2], a = db->plan[p + 3];
        p += 3 + (size_t)k;
        if (!(l & PLAN_BACK)) continue;
        l &= ~PLAN_BACK;
        if (dv_info(db, b)->tomb || dv_list(db, b, l)[0] >= dv_maxdeg(db, l) ||
            dv_graph_has_edge(db, b, l, a))
            continue;
        dv_graph_add_edge(db, b, l, a, dv_dist_nodes(db, b, a));
    }
    db->plan_len = 0;
}

void dv_hnsw_apply_unlink(dv_db *db, uint32_t x, int for_update) {
    apply_plan(db);
    if (for_update) {
        for (uint32_t l = 0; l <= dv_info(db, x)->level; l++) {
            uint32_t *lx = dv_list(db, x, l);
            while (lx[0] > 0) dv_graph_remove_edge(db, x, l, lx[lx[0]]);
        }
    } else if (db->entry == x) {
        uint32_t lvl;
        uint32_t e = dv_hnsw_pick_entry(db, x, &lvl);
        dv_graph_set_entry(db, e, e == DV_NO_SLOT ? 0 : lvl);
    }
    db->plan_len = 0;
}

/* ---- repair: tombstones out of the graph ----------------------------------
 *
 * A delete leaves a tombstone (store.c); the repair takes them out of the
 * graph in one sweep over the slots, planned and applied in bounded steps.
 * For every vector a whose list on a layer holds tombstones, the tombstones
 * are removed and the free places refilled from the vectors the tombstones
 * linked to (and, through a tombstone, the next tombstone's), nearest to a
 * first, each accepted only if no neighbour a keeps or accepted is closer to
 * it than a is (the insert heuristic, seeded with the edges that stay: the
 * kept edges are what a fresh build would have, so they are not re-judged).
 * A tombstone's own edges to other tombstones are removed too, so that after
 * the sweep no edge points to a tombstone and each can be purged. */

/* Replacement candidates of a on layer: vectors reached from a's tombstoned
 * neighbours (two tombstone hops at most), not already in a's list, sorted
 * by distance to a. (Adding the neighbours of all of a's kept neighbours
 * narrowed the gap to a fresh build at low ef from 0.023 to 0.008, at ~5x
 * the repair time: not taken; see docs/DB.md.) */
static uint32_t repair_candidates(dv_db *db, uint32_t a, uint32_t layer, dv_heap_item *c, uint32_t cap) {
    dv_search_scratch *sc = db->scratch;
    uint16_t tag = dv_hnsw_new_epoch(sc);
    uint16_t *vis = sc->visited;
    const uint32_t *la = dv_list(db, a, layer);
    vis[a] = tag;
    for (uint32_t j = 0; j < la[0]; j++) vis[la[1 + j]] = tag;
    uint32_t n = 0;
    for (uint32_t j = 0; j < la[0]; j++) {
        uint32_t t = la[1 + j];
        if (!dv_info(db, t)->tomb) continue;
        const uint32_t *lt = dv_list(db, t, layer);
        for (uint32_t i = 0; i < lt[0]; i++) {
            uint32_t b = lt[1 + i];
            if (vis[b] == tag) continue;
            vis[b] = tag;
            if (!dv_info(db, b)->tomb) {
                if (n < cap) c[n++].id = b;
                continue;
            }
            const uint32_t *lb = dv_list(db, b, layer); /* a tombstone behind a tombstone */
            for (uint32_t h = 0; h < lb[0]; h++) {
                uint32_t e = lb[1 + h];
                if (vis[e] == tag || dv_info(db, e)->tomb) continue;
                vis[e] = tag;
                if (n < cap) c[n++].id = e;
            }
        }
    }
    for (uint32_t i = 0; i < n; i++) c[i].d = dv_dist_nodes(db, a, c[i].id);
    sort_items(c, n);
    return n;
}

#define REPAIR_CANDIDATES 512

/* Plans the repair of a's list on layer (if it holds tombstones) as one plan
 * record; adds its edge events to *events. */
static dv_status plan_repair_list(dv_db *db, uint32_t a, uint32_t layer, size_t *events) {
    const uint32_t *la = dv_list(db, a, layer);
    uint32_t n = la[0], dead = 0;
    for (uint32_t j = 0; j < n; j++) dead += dv_info(db, la[1 + j])->tomb;
    if (dead == 0) return DV_OK;
    dv_heap_item sel[2 * DV_MAX_M];
    uint32_t k = 0, mmax = dv_maxdeg(db, layer), kept;
    for (uint32_t j = 0; j < n; j++)
        if (!dv_info(db, la[1 + j])->tomb) sel[k++].id = la[1 + j];
    kept = k;
    if (!dv_info(db, a)->tomb && k < mmax) { /* a tombstone only drops its edges to tombstones */
        /* nearest kept neighbours first: the likeliest to rule a candidate
         * out, which ends its check early (the outcome does not depend on
         * the order; only appended entries keep theirs, see apply_plan) */
        for (uint32_t j = 0; j < k; j++) sel[j].d = dv_dist_nodes(db, a, sel[j].id);
        sort_items(sel, k);
        dv_heap_item c[REPAIR_CANDIDATES];
        uint32_t nc = repair_candidates(db, a, layer, c, REPAIR_CANDIDATES);
        /* up to the full degree, not just the places the tombstones held:
         * refilling only those lost 0.013 recall@10 against a fresh build
         * after 50% deletes (0.005 this way; bench_delete, 10k x 128) */
        k = take_into_room(db, c, nc, sel, k, mmax);
    }
    *events += dead + 2 * (k - kept); /* each new edge may bring its back edge */
    /* back edges, as an insert adds them: a node whose in-neighbours were
     * deleted would otherwise stay hard to reach (without them, recall@10
     * after 50% deletes stayed 0.065 under a fresh build in test_hnsw) */
    return plan_list_and_back_edges(db, a, layer, sel, kept, k);
}

dv_status dv_hnsw_plan_repair(dv_db *db, uint32_t from, size_t max_events, uint32_t *next, size_t *events,
                              uint32_t *layers) {
    db->plan_len = 0;
    *events = 0;
    *layers = 1;
    uint32_t a = from;
    for (; a < db->n_slots && *events < max_events; a++) {
        if (!dv_info(db, a)->live) continue;
        for (uint32_t l = 0; l <= dv_info(db, a)->level; l++) {
            dv_status st = plan_repair_list(db, a, l, events);
            if (st != DV_OK) {
                db->plan_len = 0;
                return st;
            }
            if (l + 1 > *layers) *layers = l + 1;
        }
    }
    *next = a;
    return DV_OK;
}

void dv_hnsw_apply_repair(dv_db *db) { apply_plan(db); }
