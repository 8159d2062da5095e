// CUDA device queries; safe to call without a driver or GPU (they report zero devices).
#pragma once
#include <string>

namespace pyneural::cuda {

int device_count();          // 0 when no driver or device is present
std::string last_error();    // why device_count() returned 0
int runtime_version();       // e.g. 13000

}  // namespace pyneural::cuda
