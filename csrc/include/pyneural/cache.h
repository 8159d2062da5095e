// Cache sizes read at run time (for GEMM blocking); a plain struct, safe to include in per-ISA code.
#pragma once

namespace pyneural {

struct CacheSizes {
    long l1d, l2, l3;  // bytes: L1 data and L2 per core, L3 shared
};

CacheSizes cache_sizes();

}  // namespace pyneural
