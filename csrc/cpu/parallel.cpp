#include "pyneural/parallel.h"

#include <atomic>

#include "pyneural/error.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace pyneural {
namespace {
std::atomic<int> g_threads{1};
}  // namespace

int num_threads() { return g_threads.load(std::memory_order_relaxed); }

void set_num_threads(int n) {
    PN_CHECK(n >= 1, "set_num_threads: expected a positive number of threads, got ", n);
    g_threads.store(n, std::memory_order_relaxed);
}

bool has_openmp() {
#ifdef _OPENMP
    return true;
#else
    return false;
#endif
}

int thread_index() {
#ifdef _OPENMP
    return detail::serial_team ? 0 : omp_get_thread_num();
#else
    return 0;
#endif
}

int threads_for(double flops, double flops_per_thread) {
    const int n = num_threads();
    const int useful = int(flops / flops_per_thread);
    return useful < 1 ? 1 : (useful < n ? useful : n);
}

}  // namespace pyneural
