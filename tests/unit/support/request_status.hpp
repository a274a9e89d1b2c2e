#pragma once
// The HTTP status a query-service call answers with, for tests of serve/.
#include <functional>

#include "imret/serve/request_error.hpp"

namespace imret::testing {

// The status of the RequestError `f()` throws, or 200 when it throws none.
inline int status_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const serve::RequestError& e) {
    return e.status();
  }
  return 200;
}

}  // namespace imret::testing
