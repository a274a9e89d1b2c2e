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

// A request the caller got wrong: a value out of range, an unknown name,
// settings that do not go together. The messages name settings as the
// library spells them (SettingError); front ends show it their own way (the
// command line exits 2).
class UsageError : public Error {
 public:
  using Error::Error;
};

}  // namespace imret
