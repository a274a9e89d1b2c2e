#pragma once
// The message of the imret::Error a call throws, for tests of error lines.
#include <string>

#include "imret/core/error.hpp"

namespace imret::testing {

// What `f()` throws as imret::Error, or "(no imret::Error)" when it throws none.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const imret::Error& e) {
    return e.what();
  }
  return "(no imret::Error)";
}

}  // namespace imret::testing
