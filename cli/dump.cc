// ExportData() and ImportData(); see dump.h for the formats.
#include "cli/dump.h"

#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <iterator>

#include "cli/executor.h"
#include "cli/progress.h"
#include "cli/value_text.h"

namespace litestash::cli {
namespace {

constexpr uint64_t kPage = 1000;
constexpr size_t kMaxInFlight = 64;

uint64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct KeyRecord {
  std::string key;
  std::string value;  // exact bytes
  std::optional<uint64_t> expires_at_ms;
  std::vector<std::pair<bool, std::string>> history;  // oldest first: deleted, value bytes
};

int Fail(const std::string& what) {
  std::cerr << "litestash-cli: " << what << "\n";
  return kExitEngine;
}

int FailAnswer(const Answer& a) {
  std::cerr << "litestash-cli: " << FormatValue(a.body(), ValueStyle::kDisplay) << "\n";
  return kExitErrorAnswer;
}

std::string Frame(const std::string& body) {
  uint32_t n = body.size();
  std::string out{char(n >> 24), char(n >> 16), char(n >> 8), char(n)};
  return out + body;
}

std::string MapOf(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  out += static_cast<char>(0x80 | fields.size());
  for (const auto& [k, v] : fields) out += PackStr(k) + v;
  return out;
}

std::string JsonLine(const KeyRecord& r) {
  std::string out =
      "{\"key\": " + JsonQuote(r.key) + ", \"value\": " + FormatValue(r.value, ValueStyle::kJson);
  if (!IsExactJson(r.value)) out += ", \"mp\": \"" + HexEncode(r.value) + "\"";
  if (r.expires_at_ms) out += ", \"expires_at_ms\": " + std::to_string(*r.expires_at_ms);
  return out + "}\n";
}

std::string RawRecord(const KeyRecord& r) {
  std::vector<std::pair<std::string, std::string>> f{{"key", PackStr(r.key)}, {"value", r.value}};
  if (r.expires_at_ms) f.emplace_back("expires_at_ms", PackUint(*r.expires_at_ms));
  if (!r.history.empty()) {
    std::vector<std::string> items;
    for (const auto& [deleted, value] : r.history) {
      items.push_back(PackArray({PackBool(deleted), deleted ? std::string("\xc0") : value}));
    }
    f.emplace_back("history", PackArray(items));
  }
  return Frame(MapOf(f));
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
    if (history) versions.push_back(c.Send(Request("versions").Str("key", k).Uint("limit", 10000)));
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
      auto vs = v->Items("versions");
      auto del = v->Items("deleted");
      // Newest first, the current version first: the rest is history, sent oldest first.
      for (size_t j = vs.size(); j-- > 1;) {
        bool d = j < del.size() && BoolOf(del[j]).value_or(false);
        uint64_t id =
            d ? 0
              : c.Send(
                    Request("get").Str("key", keys[i]).Uint("version", UintOf(vs[j]).value_or(0)));
        gets.emplace_back(d, id);
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

Result<std::vector<KeyRecord>> ParseInput(const std::string& data) {
  std::vector<KeyRecord> out;
  if (!data.empty() && data[0] != '{') {  // raw frames
    size_t off = 0;
    bool header = true;
    while (off + 4 <= data.size()) {
      const auto* p = reinterpret_cast<const unsigned char*>(data.data() + off);
      size_t n = (size_t(p[0]) << 24) | (size_t(p[1]) << 16) | (size_t(p[2]) << 8) | p[3];
      if (off + 4 + n > data.size()) break;
      std::string_view body(data.data() + off + 4, n);
      off += 4 + n;
      KeyRecord r;
      for (auto [k, v] : PairsOf(body)) {
        auto name = StrOf(k).value_or("");
        if (name == "format" && StrOf(v) != "litestash-export") {
          return Status::InvalidArgument("not a litestash export");
        }
        if (name == "key") r.key = StrOf(v).value_or("");
        if (name == "value") r.value = std::string(v);
        if (name == "expires_at_ms") r.expires_at_ms = UintOf(v);
        if (name == "history") {
          for (auto item : ItemsOf(v)) {
            auto pair = ItemsOf(item);
            if (pair.size() == 2) r.history.emplace_back(BoolOf(pair[0]).value_or(false), pair[1]);
          }
        }
      }
      if (header) {
        header = false;
        if (!r.key.empty() || !r.value.empty()) return Status::InvalidArgument("no raw header");
        continue;
      }
      if (r.key.empty() || r.value.empty())
        return Status::InvalidArgument("a raw record lacks key/value");
      out.push_back(std::move(r));
    }
    if (off != data.size()) return Status::InvalidArgument("raw export is truncated");
    return out;
  }
  size_t line_no = 0, pos = 0;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    std::string line = data.substr(pos, nl == std::string::npos ? nl : nl - pos);
    pos = nl == std::string::npos ? data.size() : nl + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto packed = JsonToMsgpack(line);
    if (!packed.ok()) {
      return Status::InvalidArgument("line " + std::to_string(line_no) + ": " +
                                     packed.status().message());
    }
    KeyRecord r;
    std::optional<std::string> mp;
    for (auto [k, v] : PairsOf(*packed)) {
      auto name = StrOf(k).value_or("");
      if (name == "key") r.key = StrOf(v).value_or("");
      if (name == "value") r.value = std::string(v);
      if (name == "mp") mp = StrOf(v);
      if (name == "expires_at_ms") r.expires_at_ms = UintOf(v);
    }
    if (mp) {
      auto bytes = HexDecode(*mp);
      if (!bytes.ok())
        return Status::InvalidArgument("line " + std::to_string(line_no) + ": bad mp");
      r.value = *bytes;
    }
    if (r.key.empty() || r.value.empty()) {
      return Status::InvalidArgument("line " + std::to_string(line_no) + ": needs key and value");
    }
    out.push_back(std::move(r));
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
  if (raw) {
    *out << Frame(MapOf({{"format", PackStr("litestash-export")},
                         {"version", PackUint(1)},
                         {"keys", PackUint(total)}}));
  }
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
    for (const auto& r : *records) *out << (raw ? RawRecord(r) : JsonLine(r));
    progress.Add(keys.size());
    if (!page->Bool("more")) break;
    after = keys.back();
  }
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
  auto records = ParseInput(data);
  if (!records.ok()) {
    std::cerr << "litestash-cli: " << records.status().message() << "\n";
    return kExitUsage;
  }
  Progress progress("keys", records->size());
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
  for (const auto& r : *records) {
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
  if (int rc = drain(0); rc != kExitOk) return rc;
  if (progress.enabled()) {
    progress.Finish();
    std::cerr << "imported " << records->size() << " keys\n";
  }
  return kExitOk;
}

}  // namespace litestash::cli
