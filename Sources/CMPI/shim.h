#ifndef GEN_CMPI_SHIM_H
#define GEN_CMPI_SHIM_H
// MPI (Debian: openmpi-bin, libopenmpi-dev). MPI_COMM_WORLD, the datatypes and the operations
// are macros over Open MPI's globals, which Swift cannot import: gen's few calls are wrapped
// here, always on MPI_COMM_WORLD. Every call returns MPI's error code (MPI_SUCCESS is 0);
// with MPI's default error handler a failed peer aborts the job instead.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sched.h>
#include <limits.h>
#include <mpi.h>
#include <stdint.h>
#include <time.h>

// The CPUs this process may run on (mpirun binds each of 1 or 2 ranks to one core by default).
static inline int gen_allowed_cpus(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : -1;
}

static inline int gen_mpi_init(void) {
    int provided = 0;
    return MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
}
static inline int gen_mpi_is_initialized(void) { int flag = 0; MPI_Initialized(&flag); return flag; }
static inline int gen_mpi_is_finalized(void) { int flag = 0; MPI_Finalized(&flag); return flag; }
static inline int gen_mpi_rank(void) { int rank = 0; MPI_Comm_rank(MPI_COMM_WORLD, &rank); return rank; }
static inline int gen_mpi_size(void) { int size = 1; MPI_Comm_size(MPI_COMM_WORLD, &size); return size; }
static inline int gen_mpi_finalize(void) { return MPI_Finalize(); }
static inline void gen_mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }
static inline double gen_mpi_wtime(void) { return MPI_Wtime(); }
static inline int gen_mpi_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }

// In-place sum of `count` floats over all ranks, in pieces that fit MPI's int counts.
static inline int gen_mpi_allreduce_sum_float(float *values, int64_t count) {
    for (int64_t start = 0; start < count; start += INT_MAX / 2) {
        int64_t piece = count - start < INT_MAX / 2 ? count - start : INT_MAX / 2;
        int status = MPI_Allreduce(MPI_IN_PLACE, values + start, (int)piece, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (status != MPI_SUCCESS) return status;
    }
    return MPI_SUCCESS;
}

// `count` bytes from `root` to every rank, in pieces that fit MPI's int counts.
static inline int gen_mpi_broadcast_bytes(void *bytes, int64_t count, int root) {
    for (int64_t start = 0; start < count; start += INT_MAX / 2) {
        int64_t piece = count - start < INT_MAX / 2 ? count - start : INT_MAX / 2;
        int status = MPI_Bcast((char *)bytes + start, (int)piece, MPI_BYTE, root, MPI_COMM_WORLD);
        if (status != MPI_SUCCESS) return status;
    }
    return MPI_SUCCESS;
}

static inline int gen_mpi_broadcast_int64(int64_t *value, int root) {
    return MPI_Bcast(value, 1, MPI_INT64_T, root, MPI_COMM_WORLD);
}

// A barrier that sleeps instead of spinning (Open MPI's blocking calls poll a core at full
// speed): for a rank that waits while another measures alone.
static inline int gen_mpi_idle_barrier(void) {
    MPI_Request request;
    int status = MPI_Ibarrier(MPI_COMM_WORLD, &request);
    if (status != MPI_SUCCESS) return status;
    int done = 0;
    struct timespec pause = {0, 2000000};
    while (!done) {
        status = MPI_Test(&request, &done, MPI_STATUS_IGNORE);
        if (status != MPI_SUCCESS) return status;
        if (!done) nanosleep(&pause, NULL);
    }
    return MPI_SUCCESS;
}
#endif
