#include "cgwd/daemon/version.hpp"
namespace cgwd::daemon {
const char* version() {
    return CGWD_VERSION;
}
}  // namespace cgwd::daemon
