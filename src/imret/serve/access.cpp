#include "imret/serve/access.hpp"

#include <arpa/inet.h>

#include <algorithm>

namespace imret::serve {

bool is_loopback(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr address{};
  return inet_pton(AF_INET, host.c_str(), &address) == 1 && (ntohl(address.s_addr) >> 24) == 127;
}

bool same_token(const std::string& presented, const std::string& expected) {
  // Every byte of the longer one is looked at, whatever matches.
  const size_t n = std::max(presented.size(), expected.size());
  unsigned char difference = presented.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char a = i < presented.size() ? static_cast<unsigned char>(presented[i]) : 0;
    const unsigned char b = i < expected.size() ? static_cast<unsigned char>(expected[i]) : 0;
    difference |= static_cast<unsigned char>(a ^ b);
  }
  return difference == 0;
}

}  // namespace imret::serve
