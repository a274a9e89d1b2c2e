#pragma once
// An error a query service answers with an HTTP status: 400 for a request
// it cannot use, 404 for an item that does not exist, 409 for an operation
// the index does not allow, 413 for an upload or an image over a limit, 503
// when it is overloaded. The message is one line naming the field or the
// part of the request and the problem.
#include <string>

#include "imret/core/error.hpp"

namespace imret::serve {

class RequestError : public Error {
 public:
  RequestError(int status, const std::string& message) : Error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

}  // namespace imret::serve
