#pragma once
namespace cgwd::daemon {
// The version string both executables print for --version.
const char* version();
}  // namespace cgwd::daemon
