// The Rib's storage helpers (rib_storage.hpp): the node pool and the interned next-hop sets.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <vector>

#include "cgwd/bgp/rib_storage.hpp"

using cgwd::bgp::detail::InternedSets;
using cgwd::bgp::detail::NodePool;
using cgwd::bgp::detail::PoolAllocator;

TEST_CASE("NodePool: blocks of the node's size, freed blocks reused, other sizes from the heap",
          "[bgp][rib][storage]") {
    NodePool pool;
    {
        std::map<int, long, std::less<>, PoolAllocator<std::pair<const int, long>>> m{
            PoolAllocator<std::pair<const int, long>>(&pool)};
        for (int i = 0; i < 1000; ++i) m.emplace(i, i * 2L);
        const std::size_t after_fill = pool.chunk_bytes();
        CHECK(after_fill > 0);
        // 1000 nodes of 48 bytes (32-byte header, int, long): chunks of 64, 128, 256, 512, 1024
        // blocks hold them, with no malloc header or rounding per node.
        CHECK(after_fill == (64 + 128 + 256 + 512 + 1024) * 48);
        // Erase and refill: the freed blocks are taken again, the pool does not grow.
        for (int i = 0; i < 1000; i += 2) m.erase(i);
        for (int i = 0; i < 1000; i += 2) m.emplace(i + 5000, 0L);
        CHECK(pool.chunk_bytes() == after_fill);
        CHECK(m.size() == 1000);
        long sum = 0;
        for (const auto& [k, v] : m) sum += v;
        CHECK(sum == 500000);  // the odd keys kept their values (2 * i), the new ones are 0
    }
    // Past the doubling, chunks of 4096 blocks; far more chunks than the doubling steps (a
    // full table is a million nodes, some 250 chunks), and every node keeps its value.
    {
        NodePool big;
        std::map<int, long, std::less<>, PoolAllocator<std::pair<const int, long>>> m{
            PoolAllocator<std::pair<const int, long>>(&big)};
        constexpr int n = 300000;
        for (int i = 0; i < n; ++i) m.emplace(i, -i);
        CHECK(big.chunk_bytes() == (8128 + (n - 8128 + 4095) / 4096 * 4096) * std::size_t{48});
        long bad = 0;
        for (const auto& [k, v] : m) bad += static_cast<long>(v != -k);
        CHECK(bad == 0);
        CHECK(m.size() == static_cast<std::size_t>(n));
    }
    // A different size (say, an array) is not served from the pool.
    PoolAllocator<long> longs(&pool);
    long* arr = longs.allocate(10);
    arr[9] = 7;
    longs.deallocate(arr, 10);
}

TEST_CASE("InternedSets: one id per distinct set, counted, freed and reused",
          "[bgp][rib][storage]") {
    InternedSets<int> sets;
    const std::vector<int> a{1, 2}, b{3};
    CHECK(sets.acquire(std::vector<int>{}) == 0);  // the empty set is id 0, not stored
    const auto ia = sets.acquire(a);
    const auto ib = sets.acquire(b);
    CHECK(ia != 0);
    CHECK(ib != 0);
    CHECK(ia != ib);
    CHECK(sets.acquire(a) == ia);  // same contents, same id
    CHECK(sets.size() == 2);
    CHECK(std::vector<int>(sets.get(ia).begin(), sets.get(ia).end()) == a);
    CHECK(sets.get(0).empty());

    sets.release(ia);  // one holder left
    CHECK(sets.size() == 2);
    CHECK(sets.get(ia).size() == 2);
    sets.release(ia);  // none: freed
    CHECK(sets.size() == 1);
    sets.release(0);  // the empty set: nothing to do
    const std::vector<int> c{9, 10, 11};
    const auto ic = sets.acquire(c);
    CHECK(ic == ia);  // the freed id is reused
    CHECK(sets.get(ic).size() == 3);
    CHECK(sets.get(ib).size() == 1);
}
