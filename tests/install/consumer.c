/* consumer.c -- a program built only against the installed header and
 * pkg-config file, as a user would (scripts/check-install.sh). */
#include <deltavec.h>
#include <stdio.h>

int main(void) {
    dv_db_config cfg;
    dv_db_config_default(&cfg, 4);
    dv_db *db = NULL;
    if (dv_db_open(&cfg, &db) != DV_OK) return 1;
    float v[4] = {1, 2, 3, 4};
    if (dv_db_insert(db, "x", v, NULL, 0) != DV_OK || dv_db_insert(db, "x", v, NULL, 0) != DV_EEXIST)
        return 1;
    printf("deltavec %s: count %zu, %s\n", dv_version_string(), dv_db_count(db), dv_status_name(DV_EEXIST));
    dv_db_close(db);
    return dv_version_number() == DV_VERSION_NUMBER ? 0 : 1;
}
