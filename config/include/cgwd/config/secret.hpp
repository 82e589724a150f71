// A secret string (PSK, TCP-MD5 key): never printed, wiped when destroyed.
#pragma once

#include <string>
#include <string_view>

namespace cgwd::config {

class Secret {
  public:
    Secret() = default;
    explicit Secret(std::string value) : value_(std::move(value)) {}
    Secret(const Secret& other) : value_(other.value_) {}
    Secret(Secret&& other) noexcept : value_(std::move(other.value_)) { other.wipe(); }
    Secret& operator=(const Secret& other);
    Secret& operator=(Secret&& other) noexcept;
    ~Secret() { wipe(); }

    // The only way to the bytes; call sites are easy to audit with grep.
    std::string_view reveal() const { return value_; }
    bool empty() const { return value_.empty(); }
    std::size_t size() const { return value_.size(); }
    // What logs, status and summaries show instead of the value.
    std::string redacted() const { return empty() ? "(none)" : "<redacted>"; }

    friend bool operator==(const Secret& a, const Secret& b) { return a.value_ == b.value_; }

  private:
    void wipe() noexcept;
    std::string value_;
};

}  // namespace cgwd::config
