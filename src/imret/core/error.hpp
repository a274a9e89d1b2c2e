#pragma once
// imret's error types. Every error a user can cause is an imret::Error whose
// message says what failed, on which file or argument, and (where useful) what
// to do. The command line prints it as one line: usage errors exit 2, others 1.
#include <stdexcept>
#include <string>

namespace imret {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A wrong command-line argument or option combination.
class UsageError : public Error {
 public:
  using Error::Error;
};

}  // namespace imret
