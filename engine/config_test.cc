#include "engine/config.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <vector>

#include "engine/exit_codes.h"

namespace litestash {
namespace {

ParsedConfig Parse(std::vector<const char*> args) {
  args.insert(args.begin(), "litestash-engine");
  return ParseConfig(static_cast<int>(args.size()), args.data());
}

TEST_CASE("defaults follow the contract") {
  ParsedConfig p = Parse({});
  REQUIRE(p.config);
  CHECK(p.config->data_dir == "./data");
  CHECK(p.config->shards == 16);
  CHECK_FALSE(p.config->memory);
  CHECK(p.config->sync == SyncMode::kNormal);
  CHECK(p.config->limits.max_frame_bytes == 16u << 20);
  CHECK(p.config->limits.max_key_bytes == 1024);
  CHECK(p.config->limits.max_value_bytes == 8u << 20);
}

TEST_CASE("the checkpoint trigger: 16000 pages, SQLite's own under --sync full, or as given") {
  CHECK(CheckpointPages(*Parse({}).config) == 16000);
  CHECK(CheckpointPages(*Parse({"--sync", "off"}).config) == 16000);
  CHECK(CheckpointPages(*Parse({"--sync", "full"}).config) == 0);
  CHECK(CheckpointPages(*Parse({"--sync", "full", "--checkpoint-pages", "500"}).config) == 500);
  CHECK(CheckpointPages(*Parse({"--checkpoint-pages", "0"}).config) == 0);
  CHECK(Parse({"--checkpoint-pages", "-1"}).exit_code == kExitUsage);
}

TEST_CASE("flags are parsed") {
  ParsedConfig p = Parse({"--data-dir", "/tmp/x", "--shards", "7", "--memory", "--sync", "full",
                          "--max-frame-bytes", "4096", "--max-key-bytes", "16", "--max-value-bytes",
                          "1000", "--log-level", "warn"});
  REQUIRE(p.config);
  CHECK(p.config->data_dir == "/tmp/x");
  CHECK(p.config->shards == 7);
  CHECK(p.config->memory);
  CHECK(p.config->sync == SyncMode::kFull);
  CHECK(p.config->limits.max_frame_bytes == 4096);
  CHECK(p.config->limits.max_key_bytes == 16);
  CHECK(p.config->limits.max_value_bytes == 1000);
  CHECK(p.config->log_level == "warn");
}

TEST_CASE("environment variables set flags, and flags win over them") {
  ::setenv("LITESTASH_SHARDS", "9", 1);
  ::setenv("LITESTASH_SYNC", "off", 1);
  ParsedConfig env = Parse({});
  ParsedConfig flag = Parse({"--shards", "3"});
  ::unsetenv("LITESTASH_SHARDS");
  ::unsetenv("LITESTASH_SYNC");
  REQUIRE(env.config);
  CHECK(env.config->shards == 9);
  CHECK(env.config->sync == SyncMode::kOff);
  REQUIRE(flag.config);
  CHECK(flag.config->shards == 3);
}

TEST_CASE("bad flags exit with the usage code") {
  for (std::vector<const char*> bad :
       std::vector<std::vector<const char*>>{{"--shards", "0"},
                                             {"--shards", "many"},
                                             {"--sync", "sometimes"},
                                             {"--bogus"},
                                             {"--max-frame-bytes", "1"},
                                             {"--log-level", "loud"},
                                             {"stray"}}) {
    ParsedConfig p = Parse(bad);
    CHECK_FALSE(p.config);
    CHECK(p.exit_code == kExitUsage);
  }
}

TEST_CASE("version and help flags exit 0 without running") {
  CHECK(Parse({"--version"}).exit_code == kExitOk);
  CHECK_FALSE(Parse({"--version"}).config);
  CHECK(Parse({"--help"}).exit_code == kExitOk);
}

}  // namespace
}  // namespace litestash
