/*
 * stub.c -- the replication API of a build without libnats: every call
 * answers DV_EUNSUPPORTED (the transport is an optional edge module; see
 * docs/REPLICATION.md). Built instead of transport.c, publisher.c and
 * follower.c when CMake does not find libnats. names.c (dv_nats_name_valid)
 * is built with either.
 */
#include <string.h>

#include "deltavec.h"

int dv_nats_available(void) { return 0; }
void dv_publisher_config_default(dv_publisher_config *cfg) { memset(cfg, 0, sizeof *cfg); }
dv_status dv_publisher_open(const dv_publisher_config *cfg, dv_publisher **out) {
    (void)cfg;
    if (out) *out = NULL;
    return DV_EUNSUPPORTED;
}
dv_status dv_publisher_pump(dv_publisher *p, uint64_t *n) {
    (void)p;
    if (n) *n = 0;
    return DV_EUNSUPPORTED;
}
dv_status dv_publisher_put_snapshot(dv_publisher *p, uint64_t *seq) {
    (void)p;
    (void)seq;
    return DV_EUNSUPPORTED;
}
uint64_t dv_publisher_acked(const dv_publisher *p) { return (void)p, 0; }
const char *dv_publisher_last_error(const dv_publisher *p) { return (void)p, "built without libnats"; }
void dv_publisher_close(dv_publisher *p) { (void)p; }
void dv_follower_config_default(dv_follower_config *cfg) { memset(cfg, 0, sizeof *cfg); }
dv_status dv_follower_open(const dv_follower_config *cfg, dv_follower **out) {
    (void)cfg;
    if (out) *out = NULL;
    return DV_EUNSUPPORTED;
}
dv_status dv_follower_pump(dv_follower *f, uint32_t wait_ms, uint64_t *n) {
    (void)f;
    (void)wait_ms;
    if (n) *n = 0;
    return DV_EUNSUPPORTED;
}
const dv_db *dv_follower_db(const dv_follower *f) { return (void)f, NULL; }
uint64_t dv_follower_position(const dv_follower *f) { return (void)f, 0; }
void dv_follower_lag_get(const dv_follower *f, dv_follower_lag *out) {
    (void)f;
    if (out) memset(out, 0, sizeof *out);
}
dv_status dv_follower_checkpoint(dv_follower *f) { return (void)f, DV_EUNSUPPORTED; }
const char *dv_follower_last_error(const dv_follower *f) { return (void)f, "built without libnats"; }
void dv_follower_close(dv_follower *f) { (void)f; }
