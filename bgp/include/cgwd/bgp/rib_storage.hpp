// Storage helpers of the Rib (rib.hpp), there to keep the memory per prefix low. A full table is
// a million prefixes, so every byte of an entry counts a megabyte.
//
// NodePool: fixed-size blocks for the Loc-RIB's map nodes, carved from chunks. A block carries
// no malloc header and is not rounded up to malloc's 16-byte steps: an 80-byte node takes 80
// bytes, not 96. Freed blocks are reused; the chunks go back when the pool goes.
//
// AttributePool / AttributesRef: path attribute sets interned with a count of the routes holding
// each, kept in the set itself, so that a route refers to its set with one pointer (8 bytes; a
// std::shared_ptr takes 16). The set leaves the pool when its last route goes.
//
// InternedSets: the FIB next hops of every prefix, interned. A prefix refers to its set by a
// 4-byte id instead of holding a vector: a RIB has a handful of distinct sets (one per tunnel,
// one per ECMP combination) shared by all its prefixes.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <new>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cgwd/bgp/attributes.hpp"

namespace cgwd::bgp::detail {

class NodePool {
  public:
    NodePool() = default;
    NodePool(const NodePool&) = delete;
    NodePool& operator=(const NodePool&) = delete;
    ~NodePool() = default;

    // Serves the first block size asked for; any other size goes to operator new.
    void* allocate(std::size_t bytes, std::size_t align) {
        if (block_ == 0) {
            requested_ = bytes;
            block_ = (std::max(bytes, sizeof(void*)) + align - 1) / align * align;
        }
        if (bytes != requested_) return ::operator new(bytes);
        if (free_ != nullptr) {
            void* p = free_;
            free_ = *static_cast<void**>(p);
            return p;
        }
        if (next_ == end_) grow();
        void* p = next_;
        next_ += block_;
        return p;
    }
    void deallocate(void* p, std::size_t bytes) noexcept {
        if (bytes != requested_) {
            ::operator delete(p);
            return;
        }
        *static_cast<void**>(p) = free_;
        free_ = p;
    }
    // Bytes taken from the heap for blocks (chunks), for tests and inspection.
    [[nodiscard]] std::size_t chunk_bytes() const { return chunk_bytes_; }

  private:
    void grow() {
        // 64 blocks first, doubling to 4096 (about 330 kB of 80-byte nodes) per chunk: a small
        // RIB stays small, a large one makes few allocations.
        const std::size_t blocks = std::size_t{64} << std::min<std::size_t>(chunks_.size(), 6);
        chunks_.push_back(std::make_unique_for_overwrite<std::byte[]>(blocks * block_));
        chunk_bytes_ += blocks * block_;
        next_ = chunks_.back().get();
        end_ = next_ + blocks * block_;
    }

    std::size_t requested_ = 0;
    std::size_t block_ = 0;
    void* free_ = nullptr;
    std::byte* next_ = nullptr;
    std::byte* end_ = nullptr;
    std::size_t chunk_bytes_ = 0;
    std::vector<std::unique_ptr<std::byte[]>> chunks_;
};

// A std allocator over a NodePool that outlives every container using it (single objects from
// the pool, arrays from the heap).
template <typename T>
struct PoolAllocator {
    using value_type = T;
    NodePool* pool;

    explicit PoolAllocator(NodePool* p) noexcept : pool(p) {}
    template <typename U>
    PoolAllocator(const PoolAllocator<U>& other) noexcept : pool(other.pool) {}  // NOLINT

    T* allocate(std::size_t n) {
        if (n != 1) return std::allocator<T>{}.allocate(n);
        return static_cast<T*>(pool->allocate(sizeof(T), alignof(T)));
    }
    void deallocate(T* p, std::size_t n) noexcept {
        if (n != 1) {
            std::allocator<T>{}.deallocate(p, n);
            return;
        }
        pool->deallocate(p, sizeof(T));
    }
    template <typename U>
    friend bool operator==(const PoolAllocator& a, const PoolAllocator<U>& b) noexcept {
        return a.pool == b.pool;
    }
};

class AttributePool;

struct InternedAttributes {
    PathAttributes attributes;
    std::size_t hash = 0;
    std::uint32_t refs = 0;  // AttributesRefs to it
    AttributePool* pool = nullptr;
};

// A counted reference to an interned attribute set. It must not outlive its pool (the Rib).
class AttributesRef {
  public:
    AttributesRef() = default;
    explicit AttributesRef(InternedAttributes* p) noexcept : p_(p) {
        if (p_ != nullptr) ++p_->refs;
    }
    AttributesRef(const AttributesRef& other) noexcept : AttributesRef(other.p_) {}
    AttributesRef(AttributesRef&& other) noexcept : p_(std::exchange(other.p_, nullptr)) {}
    AttributesRef& operator=(AttributesRef other) noexcept {
        std::swap(p_, other.p_);
        return *this;
    }
    inline ~AttributesRef();

    const PathAttributes* operator->() const noexcept { return &p_->attributes; }
    const PathAttributes& operator*() const noexcept { return p_->attributes; }
    [[nodiscard]] const PathAttributes* get() const noexcept {
        return p_ != nullptr ? &p_->attributes : nullptr;
    }
    explicit operator bool() const noexcept { return p_ != nullptr; }
    // Holders of the set (routes, and copies such as this one).
    [[nodiscard]] std::uint32_t use_count() const noexcept { return p_ != nullptr ? p_->refs : 0; }
    friend bool operator==(const AttributesRef& a, const AttributesRef& b) noexcept {
        return a.p_ == b.p_;
    }

  private:
    InternedAttributes* p_ = nullptr;
};

class AttributePool {
  public:
    AttributePool() = default;
    AttributePool(const AttributePool&) = delete;
    AttributePool& operator=(const AttributePool&) = delete;
    ~AttributePool() {
        for (auto& [hash, set] : sets_) delete set;
    }

    // The set equal to `a` (`hash` is its hash), made if there is none.
    [[nodiscard]] AttributesRef intern(std::size_t hash, PathAttributes&& a) {
        auto [lo, hi] = sets_.equal_range(hash);
        for (auto it = lo; it != hi; ++it) {
            if (it->second->attributes == a) return AttributesRef(it->second);
        }
        auto* made = new InternedAttributes{std::move(a), hash, 0, this};
        sets_.emplace(hash, made);
        return AttributesRef(made);
    }
    // Called by the last AttributesRef to a set.
    void drop(InternedAttributes* set) noexcept {
        auto [lo, hi] = sets_.equal_range(set->hash);
        for (auto it = lo; it != hi; ++it) {
            if (it->second == set) {
                sets_.erase(it);
                break;
            }
        }
        delete set;
    }
    // Sets held now.
    [[nodiscard]] std::size_t size() const { return sets_.size(); }

  private:
    std::unordered_multimap<std::size_t, InternedAttributes*> sets_;
};

inline AttributesRef::~AttributesRef() {
    if (p_ != nullptr && --p_->refs == 0) p_->pool->drop(p_);
}

// Interned, reference-counted sets of T (the FIB next hops). Id 0 is the empty set and is not
// counted; the others are freed, and their id reused, when the last holder releases them.
template <typename T>
class InternedSets {
  public:
    // The id of `items` (sorted, without repeats), counted once more.
    [[nodiscard]] std::uint32_t acquire(std::span<const T> items) {
        if (items.empty()) return 0;
        auto it = index_.find(items);
        const bool inserted = it == index_.end();
        if (inserted) it = index_.emplace(std::vector<T>(items.begin(), items.end()), 0).first;
        if (inserted) {
            std::uint32_t id;
            if (!free_.empty()) {
                id = free_.back();
                free_.pop_back();
            } else {
                id = static_cast<std::uint32_t>(sets_.size() + 1);
                sets_.emplace_back();
            }
            sets_[id - 1] = Slot{&it->first, 0};
            it->second = id;
        }
        ++sets_[it->second - 1].refs;
        return it->second;
    }
    void release(std::uint32_t id) noexcept {
        if (id == 0) return;
        Slot& s = sets_[id - 1];
        if (--s.refs > 0) return;
        index_.erase(*s.items);
        s = Slot{};
        free_.push_back(id);
    }
    [[nodiscard]] std::span<const T> get(std::uint32_t id) const {
        if (id == 0) return {};
        return *sets_[id - 1].items;
    }
    // Sets held now.
    [[nodiscard]] std::size_t size() const { return index_.size(); }

  private:
    struct Slot {
        const std::vector<T>* items = nullptr;  // the key in index_
        std::size_t refs = 0;
    };
    // Orders vectors and spans alike: a lookup needs no vector made.
    struct Less {
        using is_transparent = void;
        template <typename A, typename B>
        bool operator()(const A& a, const B& b) const {
            return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
        }
    };
    std::map<std::vector<T>, std::uint32_t, Less> index_;
    std::vector<Slot> sets_;  // by id - 1
    std::vector<std::uint32_t> free_;
};

}  // namespace cgwd::bgp::detail
