// OneOrMany<T>: an immutable-size sequence that keeps one element inline and two or more in a
// heap vector. A RIB entry has one best path and one next hop almost always (ECMP is the
// exception); a std::vector would cost a heap block (32 bytes with malloc's header) per entry
// for that one element, and 24 bytes inline besides.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <span>
#include <variant>
#include <vector>

namespace cgwd::bgp {

template <typename T>
class OneOrMany {
  public:
    OneOrMany() = default;
    OneOrMany(const OneOrMany& other) { assign(other.view()); }
    OneOrMany& operator=(const OneOrMany& other) {
        if (this != &other) assign(other.view());
        return *this;
    }
    OneOrMany(OneOrMany&&) noexcept = default;
    OneOrMany& operator=(OneOrMany&&) noexcept = default;

    void assign(std::span<const T> items) {
        if (items.empty())
            data_ = std::monostate{};
        else if (items.size() == 1)
            data_ = items.front();
        else
            data_ = std::make_unique<std::vector<T>>(items.begin(), items.end());
    }
    void clear() { data_ = std::monostate{}; }

    [[nodiscard]] std::span<const T> view() const {
        if (const T* one = std::get_if<T>(&data_)) return {one, 1};
        if (const auto* many = std::get_if<Many>(&data_)) return {**many};
        return {};
    }
    [[nodiscard]] bool empty() const { return std::holds_alternative<std::monostate>(data_); }
    [[nodiscard]] std::size_t size() const { return view().size(); }
    [[nodiscard]] const T& front() const { return view().front(); }
    [[nodiscard]] std::vector<T> to_vector() const { return {view().begin(), view().end()}; }

    friend bool operator==(const OneOrMany& a, const OneOrMany& b) {
        return std::ranges::equal(a.view(), b.view());
    }
    friend bool operator==(const OneOrMany& a, const std::vector<T>& b) {
        return std::ranges::equal(a.view(), b);
    }

  private:
    using Many = std::unique_ptr<std::vector<T>>;
    std::variant<std::monostate, T, Many> data_;
};

}  // namespace cgwd::bgp
