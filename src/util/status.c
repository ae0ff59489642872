/* status.c -- names and explanations of dv_status codes, and the version. */
#include "deltavec.h"

typedef struct status_text {
    int code;
    const char *name;
    const char *text;
} status_text;

static const status_text STATUS_TEXTS[] = {
    {DV_OK, "DV_OK", "success"},
    {DV_EINVAL, "DV_EINVAL", "invalid argument"},
    {DV_ENOMEM, "DV_ENOMEM", "out of memory"},
    {DV_EEXIST, "DV_EEXIST", "id already exists"},
    {DV_ENOTFOUND, "DV_ENOTFOUND", "id not found"},
    {DV_EDIM, "DV_EDIM", "dimension mismatch or dimension index out of range"},
    {DV_ENONFINITE, "DV_ENONFINITE", "vector contains NaN or infinity"},
    {DV_EID, "DV_EID", "id is empty, too long or not valid UTF-8"},
    {DV_EMETA, "DV_EMETA", "metadata key/value invalid or too many pairs"},
    {DV_EFULL, "DV_EFULL", "ring full (backpressure): nothing was written"},
    {DV_EEMPTY, "DV_EEMPTY", "nothing to read"},
    {DV_ETRUNCATED, "DV_ETRUNCATED", "input truncated"},
    {DV_ECHECKSUM, "DV_ECHECKSUM", "checksum mismatch"},
    {DV_EVERSION, "DV_EVERSION", "unknown format version"},
    {DV_EBADOP, "DV_EBADOP", "unknown operation or invalid flags"},
    {DV_ECORRUPT, "DV_ECORRUPT", "corrupt input: inconsistent count, size or offset"},
    {DV_ETOOBIG, "DV_ETOOBIG", "input exceeds a size bound"},
    {DV_EGAP, "DV_EGAP", "sequence gap: an earlier delta is missing"},
    {DV_ESTALE, "DV_ESTALE", "sequence too old to be honoured"},
    {DV_EDUPLICATE, "DV_EDUPLICATE", "delta already applied (ignored)"},
    {DV_ECONFLICT, "DV_ECONFLICT", "conflict: id already exists on the replica"},
    {DV_EDATA, "DV_EDATA", "conflict: replica state differs from the delta's expectation"},
    {DV_ECONSTRAINT, "DV_ECONSTRAINT", "conflict: delta violates a replica constraint"},
    {DV_EINCOHERENT, "DV_EINCOHERENT", "delta would break an index invariant"},
    {DV_ESTATE, "DV_ESTATE", "operation not valid in the current state"},
    {DV_EUNSUPPORTED, "DV_EUNSUPPORTED", "not supported by this build"},
    {DV_EABORTED, "DV_EABORTED", "aborted by the conflict handler"},
    {DV_ECONFIG, "DV_ECONFIG", "stream config differs from the replica's"},
    {DV_ENOTSTREAM, "DV_ENOTSTREAM", "not a deltavec stream"},
    {DV_ENOTSNAPSHOT, "DV_ENOTSNAPSHOT", "not a deltavec snapshot"},
    {DV_EIO, "DV_EIO", "a file call failed"},
    {DV_ENOSPC, "DV_ENOSPC", "no space left on the device"},
    {DV_ELOCKED, "DV_ELOCKED", "another writer holds the database directory"},
    {DV_EDAMAGED, "DV_EDAMAGED", "log damaged before its end: valid records follow a bad one"},
    {DV_EFENCED, "DV_EFENCED", "another publisher owns this database's replication stream"},
    {DV_ENETWORK, "DV_ENETWORK", "message server unreachable or request refused"},
};

static const status_text *find_status(int status) {
    for (size_t i = 0; i < sizeof STATUS_TEXTS / sizeof STATUS_TEXTS[0]; i++)
        if (STATUS_TEXTS[i].code == status) return &STATUS_TEXTS[i];
    return NULL;
}

const char *dv_strerror(int status) {
    const status_text *t = find_status(status);
    return t ? t->text : "unknown status";
}

const char *dv_status_name(int status) {
    const status_text *t = find_status(status);
    return t ? t->name : "DV_UNKNOWN";
}

unsigned dv_version_number(void) { return DV_VERSION_NUMBER; }
const char *dv_version_string(void) { return DV_VERSION_STRING; }
