#include "engine/config.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <map>

#include "engine/exit_codes.h"

namespace litestash {

ParsedConfig ParseConfig(int argc, const char* const* argv) {
  Config c;
  std::string sync = "normal";
  CLI::App app{
      "litestash-engine: sharded SQLite key-value storage, spoken to over stdio frames "
      "(4-byte big-endian length + one MessagePack map)",
      "litestash-engine"};
  app.set_version_flag("--version", std::string("litestash-engine ") + kEngineVersion);
  app.add_option("--data-dir", c.data_dir, "directory holding shard-NN.db files")
      ->envname("LITESTASH_DATA_DIR")
      ->capture_default_str();
  app.add_option("--shards", c.shards, "number of shard files (fixed for a data dir)")
      ->envname("LITESTASH_SHARDS")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_flag("--memory", c.memory, "keep every shard in memory (a process-local cache)")
      ->envname("LITESTASH_MEMORY");
  app.add_option("--sync", sync, "SQLite synchronous mode: off, normal or full")
      ->envname("LITESTASH_SYNC")
      ->check(CLI::IsMember({"off", "normal", "full"}))
      ->capture_default_str();
  app.add_option("--max-frame-bytes", c.limits.max_frame_bytes, "largest request frame body")
      ->envname("LITESTASH_MAX_FRAME_BYTES")
      ->check(CLI::Range(size_t{64}, size_t{0xFFFFFFFF}))
      ->capture_default_str();
  app.add_option("--max-key-bytes", c.limits.max_key_bytes, "longest key in UTF-8 bytes")
      ->envname("LITESTASH_MAX_KEY_BYTES")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20))
      ->capture_default_str();
  app.add_option("--max-value-bytes", c.limits.max_value_bytes,
                 "largest value (its MessagePack encoding)")
      ->envname("LITESTASH_MAX_VALUE_BYTES")
      ->check(CLI::Range(size_t{1}, size_t{0xFFFFFFFF}))
      ->capture_default_str();
  app.add_option("--log-level", c.log_level, "trace, debug, info, warn, error or off (stderr)")
      ->envname("LITESTASH_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  app.add_option("--max-inflight", c.max_inflight,
                 "requests accepted but not answered before stdin reading pauses")
      ->envname("LITESTASH_MAX_INFLIGHT")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  app.add_option("--max-inflight-bytes", c.max_inflight_bytes,
                 "request bytes accepted but not answered before stdin reading pauses")
      ->envname("LITESTASH_MAX_INFLIGHT_BYTES")
      ->check(CLI::Range(int64_t{1} << 16, int64_t{1} << 40))
      ->capture_default_str();

  app.add_option("--cache-mib", c.cache_mib,
                 "SQLite page cache in MiB, split evenly across the shards (min 256 KiB each)")
      ->envname("LITESTASH_CACHE_MIB")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();

  app.add_option("--read-cache-mib", c.read_cache_mib,
                 "cache of recently read keys, exact across processes (0 turns it off)")
      ->envname("LITESTASH_READ_CACHE_MIB")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20))
      ->capture_default_str();
  app.add_option("--mmap-mib", c.mmap_mib,
                 "MiB of each shard file read through a memory map instead of read() (0: off)")
      ->envname("LITESTASH_MMAP_MIB")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20))
      ->capture_default_str();
  app.add_option("--busy-poll-us", c.busy_poll_us,
                 "while the host answers quickly, poll stdin this long before sleeping (0: never)")
      ->envname("LITESTASH_BUSY_POLL_US")
      ->check(CLI::Range(int64_t{0}, int64_t{100000}))
      ->capture_default_str();
  app.add_option("--shard-spin-us", c.shard_spin_us,
                 "after a batch, a shard thread yields this long for more work before sleeping "
                 "(0: sleep at once)")
      ->envname("LITESTASH_SHARD_SPIN_US")
      ->check(CLI::Range(int64_t{0}, int64_t{100000}))
      ->capture_default_str();

  app.add_option("--checkpoint-pages", c.checkpoint_pages,
                 "WAL pages per shard at which a background thread checkpoints (0: inside the "
                 "committing write, SQLite's default; unset: 16000, 0 under --sync full)")
      ->envname("LITESTASH_CHECKPOINT_PAGES")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));

  app.add_option("--max-waiting-reads", c.max_waiting_reads,
                 "blocking reads (xread wait_ms) parked at once; beyond, xread answers at once")
      ->envname("LITESTASH_MAX_WAITING_READS")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20))
      ->capture_default_str();

  std::string keep_versions;
  app.add_option("--keep-versions", keep_versions,
                 "history depth of the data dir: superseded versions kept per key, N or 'all' "
                 "(recorded in the data dir; without the flag the recorded depth, default 0)")
      ->envname("LITESTASH_KEEP_VERSIONS")
      ->check([](const std::string& v) -> std::string {
        if (v == "all") return "";
        if (v.empty() || v.size() > 10 || v.find_first_not_of("0123456789") != std::string::npos ||
            std::stoull(v) > kKeepAllVersions) {
          return "expected a number up to 4294967295 (= all) or 'all', got '" + v + "'";
        }
        return "";
      });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    std::cout << app.help();
    return {std::nullopt, kExitOk};
  } catch (const CLI::CallForVersion& e) {
    std::cout << e.what() << "\n";
    return {std::nullopt, kExitOk};
  } catch (const CLI::ParseError& e) {
    std::cerr << "litestash-engine: " << e.what() << " (see --help)\n";
    return {std::nullopt, kExitUsage};
  }
  static const std::map<std::string, SyncMode> kSync = {
      {"off", SyncMode::kOff}, {"normal", SyncMode::kNormal}, {"full", SyncMode::kFull}};
  c.sync = kSync.at(sync);
  if (!keep_versions.empty()) {
    c.keep_versions = keep_versions == "all" ? kKeepAllVersions
                                             : static_cast<uint32_t>(std::stoull(keep_versions));
  }
  return {c, kExitOk};
}

}  // namespace litestash
