// Argument checks for kernel entry points. Kernels throw pyneural::Error (a std::invalid_argument),
// which the bindings turn into a Python ValueError; they never read out of bounds on bad input.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace pyneural {

struct Error : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

// Concatenates its arguments with operator<< into one message.
template <class... Parts>
std::string message(const Parts&... parts) {
    std::ostringstream out;
    (out << ... << parts);
    return out.str();
}

}  // namespace pyneural

// PN_CHECK(condition, message parts...): the message is only built when the check fails.
#define PN_CHECK(condition, ...) \
    do {                             \
        if (!(condition)) throw ::pyneural::Error(::pyneural::message(__VA_ARGS__)); \
    } while (0)
