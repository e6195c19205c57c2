// Stream storage semantics on one shard: contiguous ids never reused, exact bytes, retention at
// append (maxlen, age), one-off trims, ranges and their `more`, offsets, drop.
#include "shard/stream_ops.h"

#include <catch2/catch.hpp>

namespace litestash {
namespace {

std::unique_ptr<ShardStore> Memory() {
  ShardOptions o;
  o.in_memory = true;
  auto s = ShardStore::Open(o);
  REQUIRE(s.ok());
  REQUIRE(s.value()->PrepareStatements().ok());
  return std::move(s).value();
}

Clock At(int64_t ms) { return Clock{ms, ms * 1000}; }

// Appends `n` values "v<i>" in one transaction; returns the last entry appended.
Appended Add(ShardStore& s, std::string_view stream, int n, const Clock& c,
             RetentionUpdate retention = {}) {
  REQUIRE(s.Begin(true).ok());
  Appended last;
  for (int i = 0; i < n; ++i) {
    auto a = StreamAppend(s, stream, "\xa1v", retention, c);
    REQUIRE(a.ok());
    if (i > 0) CHECK(a->entry_id == last.entry_id + 1);  // contiguous
    last = *a;
  }
  REQUIRE(s.Commit().ok());
  return last;
}

struct Range {
  std::vector<uint64_t> ids;
  bool more = false;
};

Range Get(ShardStore& s, std::string_view stream, uint64_t after, uint64_t before, uint64_t limit,
          bool from_start = true) {
  REQUIRE(s.Begin(false).ok());
  std::vector<StreamEntry> entries;
  Range r;
  REQUIRE(StreamRange(s, stream, after, before, limit, from_start, &entries, &r.more).ok());
  s.Rollback();
  for (const auto& e : entries) r.ids.push_back(e.id);
  return r;
}

StreamInfo Info(ShardStore& s, std::string_view stream) {
  REQUIRE(s.Begin(false).ok());
  auto info = StreamDescribe(s, stream);
  REQUIRE(info.ok());
  s.Rollback();
  return *info;
}

TEST_CASE("appends get contiguous ids from 1, increasing ts, and keep the exact bytes") {
  auto s = Memory();
  REQUIRE(s->Begin(true).ok());
  uint64_t last_ts = 0;
  const std::string values[] = {std::string("\xca\x3f\xc0\x00\x00", 5), "\xd9\x01x", "\xc0"};
  for (uint64_t i = 1; i <= 3; ++i) {
    auto a = StreamAppend(*s, "log", values[i - 1], {}, At(1000));
    REQUIRE(a.ok());
    CHECK(a->entry_id == i);
    CHECK(a->ts > last_ts);
    last_ts = a->ts;
  }
  REQUIRE(s->Commit().ok());
  REQUIRE(s->Begin(false).ok());
  for (uint64_t i = 1; i <= 3; ++i) {
    auto e = s->streams().Get(s->streams().Find("log")->value().stream_id, i);
    REQUIRE(e.ok());
    REQUIRE(e.value().has_value());
    CHECK(e.value()->value == values[i - 1]);
  }
  s->Rollback();
  auto info = Info(*s, "log");
  CHECK(info.exists);
  CHECK(info.meta.first_id == 1);
  CHECK(info.meta.last_id == 3);
  CHECK(info.first_ts < info.last_ts);
  CHECK_FALSE(Info(*s, "other").exists);
}

TEST_CASE("maxlen keeps the newest entries, and ids go on after a trim to nothing, never reused") {
  auto s = Memory();
  Add(*s, "q", 10, At(1000), RetentionUpdate{3, std::nullopt});
  auto info = Info(*s, "q");
  CHECK(info.meta.first_id == 8);
  CHECK(info.meta.last_id == 10);
  CHECK(info.meta.maxlen == 3u);
  CHECK(Get(*s, "q", 0, UINT64_MAX, 100).ids == std::vector<uint64_t>{8, 9, 10});
  // Retention is stored: later appends without it still trim.
  Add(*s, "q", 2, At(1001));
  CHECK(Get(*s, "q", 0, UINT64_MAX, 100).ids == std::vector<uint64_t>{10, 11, 12});
  // A one-off trim to nothing: the stream exists, the next id continues.
  REQUIRE(s->Begin(true).ok());
  auto removed = StreamTrim(*s, "q", TrimSpec{0, std::nullopt, std::nullopt}, At(1002));
  REQUIRE(removed.ok());
  CHECK(*removed == 3);
  REQUIRE(s->Commit().ok());
  info = Info(*s, "q");
  CHECK(info.exists);
  CHECK(info.meta.length() == 0);
  CHECK_FALSE(info.first_ts.has_value());
  CHECK(Add(*s, "q", 1, At(1003)).entry_id == 13);
  // Dropped and created again: ids start at 1.
  REQUIRE(s->Begin(true).ok());
  CHECK(*StreamDrop(*s, "q"));
  CHECK_FALSE(*StreamDrop(*s, "q"));
  REQUIRE(s->Commit().ok());
  CHECK(Add(*s, "q", 1, At(1004)).entry_id == 1);
}

TEST_CASE("age retention trims at append and in the background sweep") {
  auto s = Memory();
  Add(*s, "aged", 5, At(1000), RetentionUpdate{std::nullopt, 100});  // ts ~ 1000 ms
  Add(*s, "aged", 2, At(1050));
  CHECK(Info(*s, "aged").meta.length() == 7);
  // At 1120 ms the first five are older than 100 ms: the next append drops them.
  Add(*s, "aged", 1, At(1120));
  CHECK(Get(*s, "aged", 0, UINT64_MAX, 100).ids == std::vector<uint64_t>{6, 7, 8});
  // With no append, the sweep does it.
  auto swept = StreamSweepAged(*s, At(1300), 1000);  // all three are older than 100 ms
  REQUIRE(swept.ok());
  CHECK(*swept == 3);
  CHECK(Info(*s, "aged").meta.length() == 0);
  CHECK(Info(*s, "aged").meta.last_id == 8);
}

TEST_CASE("xtrim: min_id and max_age remove from the head only, and store nothing") {
  auto s = Memory();
  Add(*s, "t", 10, At(1000));
  REQUIRE(s->Begin(true).ok());
  CHECK(*StreamTrim(*s, "t", TrimSpec{std::nullopt, 4, std::nullopt}, At(1000)) == 3);
  CHECK(*StreamTrim(*s, "t", TrimSpec{std::nullopt, 2, std::nullopt}, At(1000)) == 0);
  CHECK(*StreamTrim(*s, "t", TrimSpec{5, std::nullopt, std::nullopt}, At(1000)) == 2);
  CHECK(*StreamTrim(*s, "none", TrimSpec{0, std::nullopt, std::nullopt}, At(1000)) == 0);
  REQUIRE(s->Commit().ok());
  auto info = Info(*s, "t");
  CHECK(info.meta.first_id == 6);
  CHECK_FALSE(info.meta.maxlen.has_value());
  REQUIRE(s->Begin(true).ok());
  CHECK(*StreamTrim(*s, "t", TrimSpec{std::nullopt, std::nullopt, 0}, At(5000)) == 5);
  REQUIRE(s->Commit().ok());
}

TEST_CASE("ranges: after/before bounds, limit, and every boundary of more") {
  auto s = Memory();
  Add(*s, "r", 10, At(1000));
  CHECK(Get(*s, "r", 0, UINT64_MAX, 3).ids == std::vector<uint64_t>{1, 2, 3});
  CHECK(Get(*s, "r", 0, UINT64_MAX, 3).more);
  CHECK(Get(*s, "r", 7, UINT64_MAX, 3).ids == std::vector<uint64_t>{8, 9, 10});
  CHECK_FALSE(Get(*s, "r", 7, UINT64_MAX, 3).more);  // exactly `limit` left: no more
  CHECK(Get(*s, "r", 6, UINT64_MAX, 3).more);
  CHECK(Get(*s, "r", 2, 6, 100).ids == std::vector<uint64_t>{3, 4, 5});
  CHECK_FALSE(Get(*s, "r", 2, 6, 100).more);
  CHECK(Get(*s, "r", 2, 6, 2).more);
  CHECK(Get(*s, "r", 5, 6, 10).ids.empty());  // after >= before - 1: empty, no more
  CHECK_FALSE(Get(*s, "r", 5, 6, 10).more);
  CHECK(Get(*s, "r", 9, 3, 10).ids.empty());
  CHECK(Get(*s, "r", 10, UINT64_MAX, 10).ids.empty());
  // Only before: the entries just below it, ascending; more = older ones exist.
  CHECK(Get(*s, "r", 0, 7, 3, false).ids == std::vector<uint64_t>{4, 5, 6});
  CHECK(Get(*s, "r", 0, 7, 3, false).more);
  CHECK(Get(*s, "r", 0, 4, 3, false).ids == std::vector<uint64_t>{1, 2, 3});
  CHECK_FALSE(Get(*s, "r", 0, 4, 3, false).more);
  CHECK(Get(*s, "missing", 0, UINT64_MAX, 3).ids.empty());
}

TEST_CASE("a range plan counts exactly the entries Visit then reads, head trimmed or not") {
  auto s = Memory();
  Add(*s, "p", 12, At(1000));
  REQUIRE(s->Begin(true).ok());
  REQUIRE(StreamTrim(*s, "p", TrimSpec{std::nullopt, 4, std::nullopt}, At(1000)).ok());  // 4..12
  REQUIRE(s->Commit().ok());
  REQUIRE(s->Begin(false).ok());
  const uint64_t bounds[] = {0, 1, 3, 4, 5, 8, 11, 12, 13, UINT64_MAX};
  int planned = 0;
  for (uint64_t after : bounds) {
    for (uint64_t before : bounds) {
      for (uint64_t limit : {uint64_t{1}, uint64_t{3}, uint64_t{100}}) {
        // Expected from first principles: live ids 4..12 inside (after, before), the first
        // `limit` of them; more = some are left over.
        std::vector<uint64_t> ids;
        bool more = false;
        for (uint64_t id = 4; id <= 12; ++id) {
          if (id <= after || id >= before) continue;
          if (ids.size() == limit) {
            more = true;
            break;
          }
          ids.push_back(id);
        }
        auto plan = PlanStreamRange(*s, "p", after, before, limit);
        REQUIRE(plan.ok());
        INFO("after " << after << " before " << before << " limit " << limit);
        CHECK(plan->count == ids.size());
        CHECK(plan->more == more);
        if (plan->count == 0) continue;
        ++planned;
        std::vector<uint64_t> seen;
        REQUIRE(s->streams()
                    .Visit(plan->stream_id, plan->lo, plan->hi, plan->count, true,
                           [&](uint64_t id, uint64_t ts, std::string_view value) {
                             seen.push_back(id);
                             CHECK(ts > 0);
                             CHECK(value == "\xa1v");
                           })
                    .ok());
        CHECK(seen == ids);
      }
    }
  }
  CHECK(planned > 50);
  auto missing = PlanStreamRange(*s, "nope", 0, UINT64_MAX, 10);
  REQUIRE(missing.ok());
  CHECK(missing->count == 0);
  CHECK_FALSE(missing->more);
  s->Rollback();
}

TEST_CASE("offsets: committed per group, may move back, refused past the end or without a stream") {
  auto s = Memory();
  Add(*s, "o", 5, At(1000));
  REQUIRE(s->Begin(true).ok());
  CHECK(StreamCommitOffset(*s, "o", "g1", 3).ok());
  CHECK(StreamCommitOffset(*s, "o", "g1", 1).ok());  // a replay
  CHECK(StreamCommitOffset(*s, "o", "g2", 5).ok());
  CHECK(StreamCommitOffset(*s, "o", "g3", 6).code() == StatusCode::kInvalidArgument);
  CHECK(StreamCommitOffset(*s, "nope", "g", 0).code() == StatusCode::kInvalidArgument);
  REQUIRE(s->Commit().ok());
  REQUIRE(s->Begin(false).ok());
  CHECK(StreamOffset(*s, "o", "g1")->value() == 1);
  CHECK_FALSE(StreamOffset(*s, "o", "g3")->has_value());
  CHECK_FALSE(StreamOffset(*s, "nope", "g1")->has_value());
  s->Rollback();
  auto info = Info(*s, "o");
  REQUIRE(info.groups.size() == 2);
  CHECK(info.groups[0] == std::pair<std::string, uint64_t>{"g1", 1});
  // Offsets go with the stream.
  REQUIRE(s->Begin(true).ok());
  CHECK(*StreamDrop(*s, "o"));
  REQUIRE(s->Commit().ok());
  Add(*s, "o", 1, At(1000));
  CHECK(Info(*s, "o").groups.empty());
}

TEST_CASE("a rolled back append leaves no trace, not even in the cached stream row") {
  auto s = Memory();
  Add(*s, "x", 2, At(1000));
  REQUIRE(s->Begin(true).ok());
  REQUIRE(StreamAppend(*s, "x", "\x01", {}, At(1000)).ok());
  s->Rollback();
  CHECK(Info(*s, "x").meta.last_id == 2);
  CHECK(Add(*s, "x", 1, At(1000)).entry_id == 3);
}

}  // namespace
}  // namespace litestash
