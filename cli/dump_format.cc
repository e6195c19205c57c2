// EncodeKey(), EncodeStream(), DecodeDump(); see dump_format.h.
#include "cli/dump_format.h"

#include "cli/request.h"
#include "cli/value_text.h"

namespace litestash::cli {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

std::string Frame(const std::string& body) {
  uint32_t n = body.size();
  std::string out{char(n >> 24), char(n >> 16), char(n >> 8), char(n)};
  return out + body;
}

// The stream's fields but its entries, shared by both formats (as packed MessagePack).
Fields StreamFields(const StreamRecord& r) {
  Fields f{{"stream", PackStr(r.name)}, {"first_id", PackUint(r.first_id)}};
  if (r.maxlen) f.emplace_back("maxlen", PackUint(*r.maxlen));
  if (r.max_age_ms) f.emplace_back("max_age_ms", PackUint(*r.max_age_ms));
  if (!r.groups.empty()) {
    Fields groups;
    for (const auto& [g, id] : r.groups) groups.emplace_back(g, PackUint(id));
    f.emplace_back("groups", PackMap(groups));
  }
  return f;
}

// Reads one record map (either format, once JSON is MessagePack) into a key or a stream.
Status ReadRecord(std::string_view map, DumpContents* out, bool* header) {
  KeyRecord k;
  StreamRecord s;
  bool is_stream = false, has_value = false;
  std::vector<std::optional<std::string>> entries_mp;
  std::optional<std::string> mp;
  for (auto [key, v] : PairsOf(map)) {
    auto name = StrOf(key).value_or("");
    if (name == "format") {
      if (StrOf(v) != "litestash-export") return Status::InvalidArgument("not a litestash export");
      *header = true;
    } else if (name == "key") {
      k.key = StrOf(v).value_or("");
    } else if (name == "value") {
      k.value = std::string(v), has_value = true;
    } else if (name == "mp") {
      mp = StrOf(v);
    } else if (name == "expires_at_ms") {
      k.expires_at_ms = UintOf(v);
    } else if (name == "history") {
      for (auto item : ItemsOf(v)) {
        auto pair = ItemsOf(item);
        if (pair.size() != 2) return Status::InvalidArgument("bad history item");
        k.history.emplace_back(BoolOf(pair[0]).value_or(false), std::string(pair[1]));
      }
    } else if (name == "stream") {
      s.name = StrOf(v).value_or(""), is_stream = true;
    } else if (name == "first_id") {
      s.first_id = UintOf(v).value_or(1);
    } else if (name == "maxlen") {
      s.maxlen = UintOf(v);
    } else if (name == "max_age_ms") {
      s.max_age_ms = UintOf(v);
    } else if (name == "groups") {
      for (auto [g, id] : PairsOf(v)) s.groups.emplace_back(StrOf(g).value_or(""), *UintOf(id));
    } else if (name == "entries") {
      for (auto e : ItemsOf(v)) s.values.emplace_back(e);
    } else if (name == "entries_mp") {
      for (auto e : ItemsOf(v)) entries_mp.push_back(StrOf(e));
    }
  }
  if (*header) return Status::Ok();
  if (is_stream) {
    if (s.name.empty()) return Status::InvalidArgument("a stream record without a name");
    for (size_t i = 0; i < entries_mp.size() && i < s.values.size(); ++i) {
      if (!entries_mp[i]) continue;
      auto bytes = HexDecode(*entries_mp[i]);
      if (!bytes.ok()) return bytes.status();
      s.values[i] = *bytes;
    }
    out->streams.push_back(std::move(s));
    return Status::Ok();
  }
  if (mp) {
    auto bytes = HexDecode(*mp);
    if (!bytes.ok()) return bytes.status();
    k.value = *bytes;
  }
  if (k.key.empty() || !has_value) return Status::InvalidArgument("needs key and value");
  out->keys.push_back(std::move(k));
  return Status::Ok();
}

}  // namespace

std::string EncodeHeader(bool raw, uint64_t keys) {
  if (!raw) return "";
  return Frame(PackMap({{"format", PackStr("litestash-export")},
                        {"version", PackUint(1)},
                        {"keys", PackUint(keys)}}));
}

std::string EncodeKey(const KeyRecord& r, bool raw) {
  if (!raw) {
    std::string out =
        "{\"key\": " + JsonQuote(r.key) + ", \"value\": " + FormatValue(r.value, ValueStyle::kJson);
    if (!IsExactJson(r.value)) out += ", \"mp\": \"" + HexEncode(r.value) + "\"";
    if (r.expires_at_ms) out += ", \"expires_at_ms\": " + std::to_string(*r.expires_at_ms);
    return out + "}\n";
  }
  Fields f{{"key", PackStr(r.key)}, {"value", r.value}};
  if (r.expires_at_ms) f.emplace_back("expires_at_ms", PackUint(*r.expires_at_ms));
  if (!r.history.empty()) {
    std::vector<std::string> items;
    for (const auto& [deleted, value] : r.history) {
      items.push_back(PackArray({PackBool(deleted), deleted ? std::string("\xc0") : value}));
    }
    f.emplace_back("history", PackArray(items));
  }
  return Frame(PackMap(f));
}

std::string EncodeStream(const StreamRecord& r, bool raw) {
  Fields f = StreamFields(r);
  if (raw) {
    f.emplace_back("entries", PackArray(r.values));
    return Frame(PackMap(f));
  }
  std::string out = "{";
  for (const auto& [name, packed] : f) {
    out += (out.size() > 1 ? ", " : "") + JsonQuote(name) + ": " +
           FormatValue(packed, ValueStyle::kJson);
  }
  std::string entries, mps;
  bool lossy = false;
  for (const auto& v : r.values) {
    bool exact = IsExactJson(v);
    lossy |= !exact;
    entries += (entries.empty() ? "" : ", ") + FormatValue(v, ValueStyle::kJson);
    mps += (mps.empty() ? "" : ", ") + (exact ? std::string("null") : JsonQuote(HexEncode(v)));
  }
  out += ", \"entries\": [" + entries + "]";
  if (lossy) out += ", \"entries_mp\": [" + mps + "]";
  return out + "}\n";
}

Result<DumpContents> DecodeDump(const std::string& data) {
  DumpContents out;
  if (!data.empty() && data[0] != '{') {  // raw frames
    size_t off = 0, frame = 0;
    while (off + 4 <= data.size()) {
      const auto* p = reinterpret_cast<const unsigned char*>(data.data() + off);
      size_t n = (size_t(p[0]) << 24) | (size_t(p[1]) << 16) | (size_t(p[2]) << 8) | p[3];
      if (off + 4 + n > data.size()) break;
      std::string_view body(data.data() + off + 4, n);
      off += 4 + n;
      bool is_header = false;
      if (Status st = ReadRecord(body, &out, &is_header); !st.ok()) {
        return Status::InvalidArgument("frame " + std::to_string(frame) + ": " + st.message());
      }
      if (frame++ == 0 && !is_header) return Status::InvalidArgument("no raw export header");
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
    bool header = false;
    Status st = packed.ok() ? ReadRecord(*packed, &out, &header) : packed.status();
    if (!st.ok())
      return Status::InvalidArgument("line " + std::to_string(line_no) + ": " + st.message());
  }
  return out;
}

}  // namespace litestash::cli
