// ExportData() and ImportData(); see dump.h for the formats.
#include "cli/dump.h"

#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <iterator>

#include "cli/dump_format.h"
#include "cli/executor.h"
#include "cli/progress.h"
#include "cli/value_text.h"

namespace litestash::cli {
namespace {

constexpr uint64_t kPage = 1000;
constexpr size_t kMaxInFlight = 64;
constexpr uint64_t kVersionsPage = 10000;
constexpr uint64_t kStreamPage = 10000;  // xrange limit and xadds per txn

uint64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int Fail(const std::string& what) {
  std::cerr << "litestash-cli: " << what << "\n";
  return kExitEngine;
}

int FailAnswer(const Answer& a) {
  std::cerr << "litestash-cli: " << FormatValue(a.body(), ValueStyle::kDisplay) << "\n";
  return kExitErrorAnswer;
}

// One scan page's records: mget + ttl (+ versions, + get per old version) pipelined.
Result<std::vector<KeyRecord>> FetchPage(EngineClient& c, const std::vector<std::string>& keys,
                                         bool history) {
  std::vector<std::string> packed;
  for (const auto& k : keys) packed.push_back(PackStr(k));
  uint64_t mget = c.Send(Request("mget").Raw("keys", PackArray(packed)));
  std::vector<uint64_t> ttls, versions;
  for (const auto& k : keys) {
    ttls.push_back(c.Send(Request("ttl").Str("key", k)));
    if (history)
      versions.push_back(c.Send(Request("versions").Str("key", k).Uint("limit", kVersionsPage)));
  }
  uint64_t now = NowMs();
  auto m = c.Receive(mget);
  if (!m.ok()) return m.status();
  if (!m->ok()) return Status::InvalidArgument(m->code() + ": " + m->message());
  auto found = m->Items("found");
  auto values = m->Items("values");
  std::vector<KeyRecord> out;
  std::vector<std::vector<std::pair<bool, uint64_t>>> pending;  // per record: deleted, get id
  for (size_t i = 0; i < keys.size(); ++i) {
    auto t = c.Receive(ttls[i]);
    if (!t.ok()) return t.status();
    std::optional<Answer> v;
    if (history) {
      auto va = c.Receive(versions[i]);
      if (!va.ok()) return va.status();
      v = std::move(va).value();
    }
    if (i >= found.size() || !BoolOf(found[i]).value_or(false)) continue;  // gone meanwhile
    KeyRecord r{keys[i], std::string(values[i]), std::nullopt, {}};
    if (auto ms = t->Uint("ttl_ms")) r.expires_at_ms = now + *ms;
    std::vector<std::pair<bool, uint64_t>> gets;
    if (v && v->ok()) {
      // Newest first, the current version first: the rest is history, sent oldest first. A
      // key with more than one page of history is paged backwards with `before`.
      std::vector<std::pair<uint64_t, bool>> all;
      for (;;) {
        auto vs = v->Items("versions");
        auto del = v->Items("deleted");
        for (size_t j = 0; j < vs.size(); ++j) {
          all.emplace_back(UintOf(vs[j]).value_or(0),
                           j < del.size() && BoolOf(del[j]).value_or(false));
        }
        if (!v->Bool("more") || vs.empty()) break;
        auto next = c.Call(Request("versions")
                               .Str("key", keys[i])
                               .Uint("limit", kVersionsPage)
                               .Uint("before", all.back().first));
        if (!next.ok()) return next.status();
        if (!next->ok()) break;
        v = std::move(next).value();
      }
      for (size_t j = all.size(); j-- > 1;) {
        auto [version, deleted] = all[j];
        uint64_t id =
            deleted ? 0 : c.Send(Request("get").Str("key", keys[i]).Uint("version", version));
        gets.emplace_back(deleted, id);
      }
    }
    out.push_back(std::move(r));
    pending.push_back(std::move(gets));
  }
  for (size_t i = 0; i < out.size(); ++i) {
    for (auto [deleted, id] : pending[i]) {
      if (deleted) {
        out[i].history.emplace_back(true, "");
        continue;
      }
      auto g = c.Receive(id);
      if (!g.ok()) return g.status();
      if (g->Bool("found")) out[i].history.emplace_back(false, std::string(*g->Field("value")));
    }
  }
  return out;
}

// Every stream with its retention, offsets and live entries (xstreams, xinfo, xrange pages).
Result<std::vector<StreamRecord>> FetchStreams(EngineClient& c) {
  std::vector<std::string> names;
  std::optional<std::string> after;
  for (;;) {
    Request r("xstreams");
    r.Uint("limit", kPage);
    if (after) r.Str("after", *after);
    auto page = c.Call(r);
    if (!page.ok()) return page.status();
    if (!page->ok()) return Status::InvalidArgument(page->code() + ": " + page->message());
    for (auto n : page->Items("streams")) names.push_back(StrOf(n).value_or(""));
    if (!page->Bool("more") || names.empty()) break;
    after = names.back();
  }
  std::vector<StreamRecord> out;
  for (const auto& name : names) {
    auto info = c.Call(Request("xinfo").Str("stream", name));
    if (!info.ok()) return info.status();
    if (!info->ok() || !info->Bool("exists")) continue;  // dropped meanwhile
    StreamRecord s;
    s.name = name;
    s.first_id = info->Uint("first_id").value_or(1);
    s.maxlen = info->Uint("maxlen");
    s.max_age_ms = info->Uint("max_age_ms");
    for (auto [g, id] : PairsOf(info->Field("groups").value_or(""))) {
      s.groups.emplace_back(StrOf(g).value_or(""), UintOf(id).value_or(0));
    }
    uint64_t cursor = s.first_id - 1;
    for (;;) {
      auto page = c.Call(
          Request("xrange").Str("stream", name).Uint("after", cursor).Uint("limit", kStreamPage));
      if (!page.ok()) return page.status();
      if (!page->ok()) return Status::InvalidArgument(page->code() + ": " + page->message());
      for (auto e : page->Items("entries")) {
        auto parts = ItemsOf(e);
        if (parts.size() != 3) continue;
        s.values.emplace_back(parts[2]);
        cursor = UintOf(parts[0]).value_or(cursor);
      }
      if (!page->Bool("more")) break;
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

int ExportData(EngineClient& c, const std::string& format, const std::string& file) {
  std::ofstream file_out;
  std::ostream* out = &std::cout;
  if (!file.empty() && file != "-") {
    file_out.open(file, std::ios::binary | std::ios::trunc);
    if (!file_out) return std::cerr << "litestash-cli: cannot write " << file << "\n", kExitIO;
    out = &file_out;
  }
  auto count = c.Call(Request("count"));
  if (!count.ok()) return Fail(count.status().message());
  if (!count->ok()) return FailAnswer(*count);
  uint64_t total = count->Uint("count").value_or(0);
  bool history = c.hello().Uint("keep_versions").value_or(0) > 0;
  bool raw = format == "raw";
  *out << EncodeHeader(raw, total);
  Progress progress("keys", total);
  std::optional<std::string> after;
  for (;;) {
    Request scan("scan");
    scan.Uint("limit", kPage);
    if (after) scan.Str("after", *after);
    auto page = c.Call(scan);
    if (!page.ok()) return Fail(page.status().message());
    if (!page->ok()) return FailAnswer(*page);
    std::vector<std::string> keys;
    for (auto k : page->Items("keys")) keys.push_back(StrOf(k).value_or(""));
    if (keys.empty()) break;
    auto records = FetchPage(c, keys, history);
    if (!records.ok()) return Fail(records.status().message());
    for (const auto& r : *records) *out << EncodeKey(r, raw);
    progress.Add(keys.size());
    if (!page->Bool("more")) break;
    after = keys.back();
  }
  auto streams = FetchStreams(c);
  if (!streams.ok()) return Fail(streams.status().message());
  for (const auto& s : *streams) *out << EncodeStream(s, raw);
  out->flush();
  if (!*out) return std::cerr << "litestash-cli: writing the export failed\n", kExitIO;
  return kExitOk;
}

int ImportData(EngineClient& c, const std::string& file, uint32_t batch) {
  std::string data;
  if (file.empty() || file == "-") {
    data.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) return std::cerr << "litestash-cli: cannot read " << file << "\n", kExitIO;
    data.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto dump = DecodeDump(data);
  if (!dump.ok()) {
    std::cerr << "litestash-cli: " << dump.status().message() << "\n";
    return kExitUsage;
  }
  Progress progress("keys", dump->keys.size());
  std::deque<std::pair<uint64_t, uint64_t>> inflight;  // request id, keys it completes
  auto drain = [&](size_t keep) -> int {
    while (inflight.size() > keep) {
      auto a = c.Receive(inflight.front().first);
      if (!a.ok()) return Fail(a.status().message());
      if (!a->ok()) return FailAnswer(*a);
      progress.Add(inflight.front().second);
      inflight.pop_front();
    }
    return kExitOk;
  };
  auto send = [&](const Request& r, uint64_t keys) -> int {
    inflight.emplace_back(c.Send(r), keys);
    if (inflight.size() >= kMaxInFlight) return drain(kMaxInFlight / 2);
    return kExitOk;
  };
  std::vector<std::string> entries;
  auto flush_mset = [&]() -> int {
    if (entries.empty()) return kExitOk;
    uint64_t n = entries.size();
    Request r("mset");
    r.Raw("entries", PackArray(entries));
    entries.clear();
    return send(r, n);
  };
  uint64_t now = NowMs();
  for (const auto& r : dump->keys) {
    int rc = kExitOk;
    if (!r.expires_at_ms && r.history.empty()) {
      entries.push_back(PackArray({PackStr(r.key), r.value}));
      if (entries.size() >= batch) rc = flush_mset();
      if (rc != kExitOk) return rc;
      continue;
    }
    for (const auto& [deleted, value] : r.history) {
      rc = send(deleted ? Request("delete").Str("key", r.key)
                        : Request("set").Str("key", r.key).Raw("value", value),
                0);
      if (rc != kExitOk) return rc;
    }
    Request set("set");
    set.Str("key", r.key).Raw("value", r.value);
    if (r.expires_at_ms) set.Uint("ttl_ms", *r.expires_at_ms > now ? *r.expires_at_ms - now : 1);
    if ((rc = send(set, 1)) != kExitOk) return rc;
  }
  if (int rc = flush_mset(); rc != kExitOk) return rc;
  // Streams: ids below first_id are taken by placeholder appends (in txns of 10000) and
  // trimmed, so every entry gets its old id in a fresh data dir; the retention rides on the
  // last append, then the groups' offsets are committed.
  for (const auto& s : dump->streams) {
    std::vector<std::string> appends;
    auto xadd_op = [&](const std::string& value) {
      appends.push_back(
          PackMap({{"op", PackStr("xadd")}, {"stream", PackStr(s.name)}, {"value", value}}));
    };
    auto flush_appends = [&]() -> int {
      if (appends.empty()) return kExitOk;
      Request txn("txn");
      txn.Raw("ops", PackArray(appends));
      appends.clear();
      return send(txn, 0);
    };
    int rc = kExitOk;
    size_t total = s.first_id - 1 + s.values.size();
    for (size_t i = 0; i + 1 < total && rc == kExitOk; ++i) {
      xadd_op(i < s.first_id - 1 ? std::string("\xc0") : s.values[i - (s.first_id - 1)]);
      if (appends.size() >= kStreamPage) rc = flush_appends();
    }
    if (rc == kExitOk) rc = flush_appends();
    if (rc != kExitOk) return rc;
    if (total > 0) {  // the last append, carrying the retention
      Request last("xadd");
      last.Str("stream", s.name).Raw("value", s.values.empty() ? "\xc0" : s.values.back());
      if (s.maxlen) last.Uint("maxlen", *s.maxlen);
      if (s.max_age_ms) last.Uint("max_age_ms", *s.max_age_ms);
      if ((rc = send(last, 0)) != kExitOk) return rc;
    }
    if (s.first_id > 1) {
      rc = send(Request("xtrim").Str("stream", s.name).Uint("min_id", s.first_id), 0);
      if (rc != kExitOk) return rc;
    }
    for (const auto& [group, id] : s.groups) {
      rc = send(Request("xcommit").Str("stream", s.name).Str("group", group).Uint("entry_id", id),
                0);
      if (rc != kExitOk) return rc;
    }
  }
  if (int rc = drain(0); rc != kExitOk) return rc;
  if (progress.enabled()) {
    progress.Finish();
    std::cerr << "imported " << dump->keys.size() << " keys, " << dump->streams.size()
              << " streams\n";
  }
  return kExitOk;
}

}  // namespace litestash::cli
