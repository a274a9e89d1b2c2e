#pragma once
// Internal invariants: what must hold whatever the user gives imret. One that
// does not is a bug in imret, never the user's doing, so it is not an
// imret::Error (which a front end shows as the user's problem): it is a
// std::logic_error, which the command line reports as "internal error".
#include <stdexcept>
#include <string>

namespace imret {

class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

}  // namespace imret
