// Thread count for every kernel; kernels pass it to OpenMP explicitly (num_threads clause),
// so a setting made from one Python thread holds for calls made from any other.
#pragma once
#include <cstdint>

namespace pyneural {

int num_threads();
void set_num_threads(int n);
bool has_openmp();

// Threads worth using for `flops` floating-point operations, each thread taking at least `flops_per_thread`:
// below that a thread costs more (fork/join ~ microseconds) than it saves, so small problems stay on one.
int threads_for(double flops, double flops_per_thread = 1e6);

namespace detail {
// Whether the calling thread runs its innermost team() alone, without an OpenMP team of its own.
// initial-exec: an offset from the thread pointer, not a __tls_get_addr call per access.
inline thread_local bool serial_team __attribute__((tls_model("initial-exec"))) = false;
}  // namespace detail

// This thread's index in its innermost team() (0 on a one-thread team, and outside any).
int thread_index();

// Runs body() on a team of `threads` OpenMP threads, or directly on the calling thread when threads <= 1:
// a parallel region costs about a microsecond even when an if clause turns it off (a 2 x 2 matmul:
// 1.3 -> 0.5 us), and a nested one-thread region 0.7 us (a one-thread GEMM per matrix of a batch, per
// thread of an enclosing team). Inside body the work is shared out with share(), share_dynamic() and
// barrier(), never with OpenMP's own constructs, which would bind to an enclosing team when body runs
// directly; on a one-thread team they are a plain loop and nothing.
template <class Body>
inline void team(int threads, Body&& body) {
    const bool outer = detail::serial_team;
    if (threads <= 1) {
        detail::serial_team = true;
        body();
    } else {
#pragma omp parallel num_threads(threads)
        {
            detail::serial_team = false;  // per thread: the team's workers may have run a one-thread team before
            body();
        }
    }
    detail::serial_team = outer;
}

// Inside a team() body: body(i) for i in [0, n), in contiguous blocks, one per thread; the team then waits.
template <class Index, class Body>
inline void share(Index n, Body&& body) {
    if (detail::serial_team) {
        for (Index i = 0; i < n; ++i) body(i);
        return;
    }
#pragma omp for schedule(static)
    for (Index i = 0; i < n; ++i) body(i);
}

// share() handing out one index at a time, for iterations of uneven cost.
template <class Index, class Body>
inline void share_dynamic(Index n, Body&& body) {
    if (detail::serial_team) {
        for (Index i = 0; i < n; ++i) body(i);
        return;
    }
#pragma omp for schedule(dynamic, 1)
    for (Index i = 0; i < n; ++i) body(i);
}

// Rows [0, n) handed out to a team in chunks that shrink as the work runs out (guided scheduling): whole
// chunks of `most` rows while much is left, then ever smaller ones down to `least`, so that a thread slowed
// down (a shared core, a busy neighbour) takes fewer rows and no thread waits long for the last one.
// Declared outside the team and reset() by one thread while no thread can take() (between two barriers).
template <class Index>
class ChunkQueue {
  public:
    void reset() { next_ = 0; }
    // The next chunk [begin, begin + size) of [0, n), a multiple of `unit` rows (the last one what is left);
    // false when none is left.
    bool take(Index n, Index least, Index most, Index unit, int threads, Index& begin, Index& size) {
        Index start = __atomic_load_n(&next_, __ATOMIC_RELAXED);
        while (start < n) {
            const Index share = (n - start + 2 * threads - 1) / (2 * threads);
            Index want = (share + unit - 1) / unit * unit;
            want = want < least ? least : want > most ? most : want;
            if (want > n - start) want = n - start;
            if (__atomic_compare_exchange_n(&next_, &start, start + want, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
                begin = start;
                size = want;
                return true;
            }
        }
        return false;
    }

  private:
    Index next_ = 0;
};

// Inside a team() body: waits until every thread of the team has arrived.
inline void barrier() {
    if (detail::serial_team) return;
#pragma omp barrier
}

// body(i) for i in [0, n), shared out statically over a team(threads, ...).
template <class Index, class Body>
inline void parallel_for(int threads, Index n, Body&& body) {
    team(threads, [&] { share(n, body); });
}

}  // namespace pyneural
