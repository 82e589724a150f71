// Corpus replay: runs every input of a fuzz target's seed corpus and regression directory
// through the target's body (fuzz/targets/<name>.cpp), in the normal GCC build, so a ctest
// run catches a regression on any input the fuzzer ever found interesting or crashing.
//   fuzz_replay TARGET CORPUS_DIR REGRESSIONS_DIR
// Fails (exit 1) when the corpus directory is missing or empty, when the regressions
// directory is missing, or for an unknown target; a failing input aborts the process, and
// the last "replay:" line on stderr names it. Files whose name starts with '.' or "README" are
// not inputs.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "targets/targets.hpp"

namespace {

namespace fs = std::filesystem;
using Target = int (*)(const std::uint8_t*, std::size_t);

struct Entry {
    std::string_view name;
    Target run;
};

constexpr Entry kTargets[] = {
    {"ike_message_fuzz", cgwd::fuzz::fuzz_ike_message},
    {"ike_responder_fuzz", cgwd::fuzz::fuzz_ike_responder},
    {"bgp_message_fuzz", cgwd::fuzz::fuzz_bgp_message},
    {"bfd_fuzz", cgwd::fuzz::fuzz_bfd},
    {"esp_decap_fuzz", cgwd::fuzz::fuzz_esp_decap},
    {"netlink_fuzz", cgwd::fuzz::fuzz_netlink},
    {"config_aws_fuzz", cgwd::fuzz::fuzz_config_aws},
    {"config_toml_fuzz", cgwd::fuzz::fuzz_config_toml},
    {"control_fuzz", cgwd::fuzz::fuzz_control},
    {"offload_fuzz", cgwd::fuzz::fuzz_offload},
    {"rib_fuzz", cgwd::fuzz::fuzz_rib},
};

bool is_input(const fs::directory_entry& e) {
    const std::string name = e.path().filename().string();
    return e.is_regular_file() && !name.starts_with('.') && !name.starts_with("README");
}

// Appends the inputs of `dir`, sorted; false when the directory is missing or unreadable.
bool inputs(const fs::path& dir, std::vector<fs::path>& out) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return false;
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (is_input(e)) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return !ec;
}

bool replay(Target run, const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "replay: cannot read %s\n", file.c_str());
        return false;
    }
    const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in),
                                          std::istreambuf_iterator<char>()};
    std::fprintf(stderr, "replay: %s (%zu bytes)\n", file.c_str(), bytes.size());
    // A copy with no spare capacity, so ASan sees reads past the end as libFuzzer would.
    const std::vector<std::uint8_t> exact(bytes.begin(), bytes.end());
    (void)run(exact.empty() ? nullptr : exact.data(), exact.size());
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: fuzz_replay TARGET CORPUS_DIR REGRESSIONS_DIR\n");
        return 1;
    }
    const std::string_view name = argv[1];
    const auto* entry = std::find_if(std::begin(kTargets), std::end(kTargets),
                                     [&](const Entry& e) { return e.name == name; });
    if (entry == std::end(kTargets)) {
        std::fprintf(stderr, "fuzz_replay: unknown target %s (add it to fuzz/replay.cpp)\n",
                     argv[1]);
        return 1;
    }
    std::vector<fs::path> corpus, regressions;
    if (!inputs(argv[2], corpus) || corpus.empty()) {
        std::fprintf(stderr, "fuzz_replay: %s: seed corpus %s is missing or empty\n", argv[1],
                     argv[2]);
        return 1;
    }
    if (!inputs(argv[3], regressions)) {
        std::fprintf(stderr, "fuzz_replay: %s: regressions directory %s is missing\n", argv[1],
                     argv[3]);
        return 1;
    }
    for (const auto* list : {&corpus, &regressions})
        for (const auto& f : *list)
            if (!replay(entry->run, f)) return 1;
    std::printf("fuzz_replay: %s: %zu seed and %zu regression inputs replayed\n", argv[1],
                corpus.size(), regressions.size());
    return 0;
}
