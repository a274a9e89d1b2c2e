// Without c10d (LibTorch's distributed headers or gloo's missing at build
// time): one process only.
#include "imret/dist/communicator.hpp"

namespace imret::dist {

bool available() { return false; }

std::shared_ptr<Communicator> connect(const WorldInfo& world, const CommunicatorOptions&) {
  throw Error("this imret was built without distributed training (c10d with Gloo; Debian: libgloo-dev), so it "
              "cannot join " + world.describe());
}

}  // namespace imret::dist
