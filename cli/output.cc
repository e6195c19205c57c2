// FormatAnswer() and friends; see output.h.
#include "cli/output.h"

#include <cstdio>

namespace litestash::cli {
namespace {

std::string Display(std::string_view packed) { return FormatValue(packed, ValueStyle::kDisplay); }

std::string Numbered(const std::vector<std::string>& lines) {
  if (lines.empty()) return "(empty)";
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) out += '\n';
    out += std::to_string(i + 1) + ") " + lines[i];
  }
  return out;
}

std::string AllFields(const Answer& a) {
  std::string out;
  for (const auto& name : a.Names()) {
    if (name == "id" || name == "ok") continue;
    if (!out.empty()) out += '\n';
    out += name + ": " + Display(*a.Field(name));
  }
  return out.empty() ? "OK" : out;
}

std::string Uint(const Answer& a, std::string_view name) {
  auto v = a.Uint(name);
  return v ? std::to_string(*v) : "?";
}

}  // namespace

std::string FormatEntry(std::string_view entry, ValueStyle style) {
  auto parts = ItemsOf(entry);
  if (parts.size() != 3) return FormatValue(entry, style);
  return std::to_string(UintOf(parts[0]).value_or(0)) + ": " + FormatValue(parts[2], style);
}

std::string FormatError(const Answer& a, ValueStyle style) {
  auto version = UintOf(a.ErrorField("version").value_or(""));
  auto key = StrOf(a.ErrorField("key").value_or(""));
  if (style == ValueStyle::kJson) {
    std::string out = "{\"error\": {\"code\": " + JsonQuote(a.code()) +
                      ", \"message\": " + JsonQuote(a.message());
    if (version) out += ", \"version\": " + std::to_string(*version);
    if (key) out += ", \"key\": " + JsonQuote(*key);
    return out + "}}";
  }
  std::string out = "(error) " + a.code() + ": " + a.message();
  if (version) {
    out += " (current version " + std::to_string(*version) + (key ? " of " + *key : "") + ")";
  }
  return out;
}

std::string FormatStatsTable(const Answer& a) {
  constexpr int kCols = 5;
  const char* cols[kCols] = {"keys", "expiring", "batches", "ops", "pages_written"};
  const char* heads[kCols] = {"keys", "expiring", "batches", "ops", "pages"};
  std::string out;
  char line[160];
  auto row = [&](const std::string& first, const uint64_t(&v)[kCols]) {
    std::snprintf(line, sizeof line, "%6s %12llu %10llu %10llu %12llu %12llu\n", first.c_str(),
                  (unsigned long long)v[0], (unsigned long long)v[1], (unsigned long long)v[2],
                  (unsigned long long)v[3], (unsigned long long)v[4]);
    out += line;
  };
  std::snprintf(line, sizeof line, "%6s %12s %10s %10s %12s %12s\n", "shard", heads[0], heads[1],
                heads[2], heads[3], heads[4]);
  out += line;
  uint64_t total[kCols] = {};
  for (auto shard : a.Items("shards")) {
    uint64_t index = 0;
    uint64_t v[kCols] = {};
    for (auto [k, val] : PairsOf(shard)) {
      auto name = StrOf(k).value_or("");
      if (name == "shard") index = UintOf(val).value_or(0);
      for (int i = 0; i < kCols; ++i) {
        if (name == cols[i]) v[i] = UintOf(val).value_or(0), total[i] += v[i];
      }
    }
    row(std::to_string(index), v);
  }
  row("total", total);
  for (const auto& name : a.Names()) {
    if (name == "id" || name == "ok" || name == "shards") continue;
    out += name + ": " + Display(*a.Field(name)) + "\n";
  }
  out.pop_back();
  return out;
}

std::string FormatAnswer(std::string_view word, const Answer& a, ValueStyle style,
                         const Request& request) {
  if (!a.ok()) return FormatError(a, style);
  if (style == ValueStyle::kJson) {
    std::string out = "{";
    for (const auto& name : a.Names()) {
      if (name == "id" || name == "ok") continue;
      if (out.size() > 1) out += ", ";
      out += JsonQuote(name) + ": " + FormatValue(*a.Field(name), ValueStyle::kJson);
    }
    return out + "}";
  }
  if (word == "set") return "OK (version " + Uint(a, "version") + ")";
  if (word == "get") return a.Bool("found") ? Display(*a.Field("value")) : "(nil)";
  if (word == "delete") return a.Bool("deleted") ? "(integer) 1" : "(integer) 0";
  if (word == "mdelete") return "(integer) " + Uint(a, "deleted");
  if (word == "exists") return a.Bool("exists") ? "(integer) 1" : "(integer) 0";
  if (word == "count") return "(integer) " + Uint(a, "count");
  if (word == "mset") return "OK (" + Uint(a, "count") + " entries)";
  if (word == "expire" || word == "persist") {
    return a.Bool("updated") ? "(integer) 1" : "(integer) 0";
  }
  if (word == "ttl") {
    if (!a.Bool("found")) return "(nil)";
    auto ms = a.Uint("ttl_ms");
    return ms ? "(ms) " + std::to_string(*ms) : "(no expiry)";
  }
  if (word == "mget") {
    std::vector<std::string> lines;
    auto found = a.Items("found");
    auto values = a.Items("values");
    for (size_t i = 0; i < values.size(); ++i) {
      bool f = i < found.size() && BoolOf(found[i]).value_or(false);
      lines.push_back(f ? Display(values[i]) : "(nil)");
    }
    return Numbered(lines);
  }
  if (word == "versions") {
    std::vector<std::string> lines;
    auto deleted = a.Items("deleted");
    auto versions = a.Items("versions");
    for (size_t i = 0; i < versions.size(); ++i) {
      bool d = i < deleted.size() && BoolOf(deleted[i]).value_or(false);
      lines.push_back(std::to_string(UintOf(versions[i]).value_or(0)) + (d ? " (deleted)" : ""));
    }
    return Numbered(lines) + (a.Bool("more") ? "\n(more)" : "");
  }
  if (word == "stats") return FormatStatsTable(a);
  if (word == "xadd") return "(entry " + Uint(a, "entry_id") + ")";
  if (word == "xget") {
    std::vector<std::string_view> ids;
    for (const auto& [name, packed] : request.fields) {
      if (name == "ids") ids = ItemsOf(packed);
    }
    std::string out;
    auto found = a.Items("found");
    auto values = a.Items("values");
    for (size_t i = 0; i < values.size(); ++i) {
      bool f = i < found.size() && BoolOf(found[i]).value_or(false);
      std::string id = i < ids.size() ? std::to_string(UintOf(ids[i]).value_or(0)) : "?";
      out += (i ? "\n" : "") + id + ": " + (f ? Display(values[i]) : "(absent)");
    }
    return out.empty() ? "(empty)" : out;
  }
  if (word == "xrange") {
    std::string out;
    for (auto e : a.Items("entries")) out += (out.empty() ? "" : "\n") + FormatEntry(e, style);
    if (out.empty()) out = "(empty)";
    return out + (a.Bool("more") ? "\n(more)" : "");
  }
  if (word == "xtrim") return "(removed " + Uint(a, "removed") + ")";
  if (word == "xdrop") return a.Bool("dropped") ? "(integer) 1" : "(integer) 0";
  if (word == "ping" || word == "sync") return "OK";
  return AllFields(a);
}

}  // namespace litestash::cli
