// Thread count for every kernel; kernels pass it to OpenMP explicitly (num_threads clause),
// so a setting made from one Python thread holds for calls made from any other.
#pragma once
#include <cstdint>

namespace pyneural {

int num_threads();
void set_num_threads(int n);
bool has_openmp();

// Threads worth using for `flops` floating-point operations: small problems stay on one thread.
int threads_for(double flops);

// This thread's index in the innermost OpenMP team (0 outside one).
int thread_index();

// Whether this thread is inside an active (more than one thread) parallel region.
bool in_parallel();

// Runs body() on a team of `threads` OpenMP threads, or directly when threads <= 1 and no team encloses
// the call: a parallel region costs about a microsecond even when an if clause turns it off (a 2 x 2
// matmul: 1.3 -> 0.5 us). The work-sharing constructs in body (omp for, single, barrier) then run whole
// on the calling thread. Inside an enclosing team they would bind to that team and share out the loops
// of a call meant for one thread, so there body() gets a team of its own.
template <class Body>
inline void team(int threads, Body&& body) {
    if (threads <= 1 && !in_parallel()) {
        body();
        return;
    }
#pragma omp parallel num_threads(threads)
    body();
}

// body(i) for i in [0, n), shared out statically over a team(threads, ...).
template <class Index, class Body>
inline void parallel_for(int threads, Index n, Body&& body) {
    team(threads, [&] {
#pragma omp for schedule(static)
        for (Index i = 0; i < n; ++i) body(i);
    });
}

}  // namespace pyneural
