#pragma once
// Who may use a query service: the address rule (loopback unless a token
// guards it) and the token check.
#include <string>

namespace imret::serve {

// Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost).
bool is_loopback(const std::string& host);

// Constant-time comparison of a presented token with the expected one: the
// time taken does not depend on where they differ.
bool same_token(const std::string& presented, const std::string& expected);

}  // namespace imret::serve
