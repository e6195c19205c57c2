#include "protocol/request_decoder.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <unordered_set>

#include "common/utf8.h"
#include "protocol/msgpack_cursor.h"

namespace litestash {
namespace {

// Ranks of the checks that run after the fields are known to exist (docs/protocol.md, "Error
// precedence" steps 9-13): the lowest-ranked problem found is the one answered.
enum Rank {
  kRankType = 9,
  kRankKeyRule = 10,
  kRankValueSize = 11,
  kRankRange = 12,
  kRankValidator = 13,
  kRankNone
};

constexpr size_t kMaxPathBytes = 4096;

// Quotes host-supplied text for an error message: at most 64 characters, cut at a character
// boundary, with invalid UTF-8 and control bytes written as \xNN, so the message is always a
// valid UTF-8 str that strict MessagePack decoders accept.
std::string Quote(std::string_view s) {
  std::string out = "'";
  size_t chars = 0;
  size_t i = 0;
  while (i < s.size() && chars < 64) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80             ? 1
                 : (c & 0xE0) == 0xC0 ? 2
                 : (c & 0xF0) == 0xE0 ? 3
                 : (c & 0xF8) == 0xF0 ? 4
                                      : 0;
    if (len > 0 && i + len <= s.size() && IsValidUtf8(s.substr(i, len)) && c >= 0x20 && c != 0x7F) {
      out.append(s.substr(i, len));
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      out += hex;
      len = 1;
    }
    i += len;
    ++chars;
  }
  if (i < s.size()) out += "...";
  return out + "'";
}

std::string Kind(const MsgScalar& v) { return std::string(MsgKindName(v.kind)); }

// The fields of one map (a request, or a nested op): their names' and values' byte spans.
struct FieldSpans {
  std::optional<std::string_view> id, op;
  std::vector<std::pair<std::string_view, std::string_view>> fields;  // name, value span
  std::string non_str_name;  // kind of the first field name that is not a str
  std::string duplicate;     // the first known name given twice (quoted)
};

class Decoder {
 public:
  Decoder(Request* req, const OpCatalog& ops, const Limits& limits, DecodeError* err)
      : req_(req), ops_(ops), limits_(limits), err_(err) {}

  bool Run();

 private:
  bool Fail(StatusCode code, std::string message) {
    err_->id = id_;
    err_->status = Status(code, std::move(message));
    return false;
  }
  // Remembers a problem of the given rank; the lowest rank (earliest on a tie) wins.
  void Note(Rank rank, StatusCode code, std::string message) {
    if (rank < pending_rank_) {
      pending_rank_ = rank;
      pending_ = Status(code, std::move(message));
    }
  }

  // Walks a map's `count` fields. False if the bytes are malformed.
  bool ReadSpans(MsgpackCursor& c, uint32_t count, FieldSpans* out) const;
  bool CheckIdAndShape(const MsgpackCursor& c, const FieldSpans& spans);
  // Steps 7-8 for one map against `schema`: unknown, not taken and missing fields. Returns the
  // problem (code + message) or OK; fills slot spans by schema index.
  Status MatchFields(const OpSchema& schema, const FieldSpans& spans, std::string_view where,
                     std::array<std::optional<std::string_view>, kMaxFieldsPerOp>* by_index) const;
  // Steps 9-12 for every present field of `target`, in schema order.
  void DecodeFields(Request* target,
                    const std::array<std::optional<std::string_view>, kMaxFieldsPerOp>& by_index,
                    std::string_view where);
  void DecodeField(Request* target, size_t index, const FieldSpec& spec, std::string_view span,
                   const std::string& name);
  bool ReadKey(MsgpackCursor& c, const std::string& what, std::string_view* key);
  std::optional<uint64_t> ReadUint(MsgpackCursor& c, const std::string& what);
  void CheckValue(std::string_view span, const std::string& what);
  bool ReadArray(MsgpackCursor& c, const FieldSpec& spec, const std::string& what,
                 const char* shape, uint32_t* n);
  void DecodeNestedOps(Request* parent, const FieldSpec& spec, std::string_view span,
                       const std::string& what);
  static void Finish(Request* target);

  Request* req_;
  const OpCatalog& ops_;
  const Limits& limits_;
  DecodeError* err_;

  std::optional<uint64_t> id_;
  Rank pending_rank_ = kRankNone;
  Status pending_;
};

bool Decoder::Run() {
  MsgpackCursor c(req_->frame);
  uint32_t count = 0;
  bool malformed = false;
  if (!c.ReadMapHeader(&count, &malformed)) {
    MsgScalar top;
    if (malformed || !c.ReadScalar(&top)) {
      return Fail(StatusCode::kInvalidArgument, "body is not valid MessagePack");
    }
    return Fail(StatusCode::kInvalidArgument, "request must be a MessagePack map, got " + Kind(top));
  }
  FieldSpans spans;
  if (!ReadSpans(c, count, &spans)) {
    return Fail(StatusCode::kInvalidArgument, "body is not valid MessagePack");
  }
  if (!spans.non_str_name.empty()) {
    return Fail(StatusCode::kInvalidArgument, "field names must be str, got " + spans.non_str_name);
  }
  if (!CheckIdAndShape(c, spans)) return false;

  std::array<std::optional<std::string_view>, kMaxFieldsPerOp> by_index;
  if (Status st = MatchFields(*req_->schema, spans, "", &by_index); !st.ok()) {
    return Fail(st.code(), st.message());
  }
  DecodeFields(req_, by_index, "");
  if (pending_rank_ == kRankNone && req_->schema->validate != nullptr) {
    if (Status st = req_->schema->validate(*req_); !st.ok()) {
      Note(kRankValidator, st.code(), st.message());
    }
  }
  if (pending_rank_ != kRankNone) return Fail(pending_.code(), pending_.message());
  return true;
}

bool Decoder::ReadSpans(MsgpackCursor& c, uint32_t count, FieldSpans* out) const {
  out->fields.reserve(std::min<uint32_t>(count, 8));
  // Known names seen, for duplicates: a linear scan while few (no allocation), a set beyond (a
  // hostile map may hold tens of thousands of fields).
  constexpr size_t kFew = 16;
  std::array<std::string_view, kFew> few;
  size_t few_count = 0;
  std::unordered_set<std::string_view> many;
  auto seen_before = [&](std::string_view n) {
    if (many.empty() && few_count < kFew) {
      if (std::find(few.begin(), few.begin() + few_count, n) != few.begin() + few_count) {
        return true;
      }
      few[few_count++] = n;
      return false;
    }
    if (many.empty()) many.insert(few.begin(), few.end());
    return !many.insert(n).second;
  };
  for (uint32_t i = 0; i < count; ++i) {
    MsgScalar name;
    std::string_view span;
    if (!c.ReadScalar(&name) || !c.Skip(&span)) return false;
    if (name.kind != MsgKind::kStr) {
      if (out->non_str_name.empty()) out->non_str_name = Kind(name);
      continue;
    }
    // Duplicates count for names some op knows; an unknown name is reported as unknown.
    const bool known = name.bytes == "id" || name.bytes == "op" || ops_.IsKnownField(name.bytes);
    if (known && seen_before(name.bytes)) {
      if (out->duplicate.empty()) out->duplicate = Quote(name.bytes);
      continue;
    }
    if (name.bytes == "id") {
      out->id = span;
    } else if (name.bytes == "op") {
      out->op = span;
    } else {
      out->fields.emplace_back(name.bytes, span);
    }
  }
  return true;
}

// Steps 3-6 of the precedence: id, trailing bytes, duplicates, op.
bool Decoder::CheckIdAndShape(const MsgpackCursor& c, const FieldSpans& spans) {
  if (!spans.id) return Fail(StatusCode::kInvalidArgument, "missing field 'id'");
  MsgScalar id;
  MsgpackCursor idc(*spans.id);
  if (!idc.ReadScalar(&id) || id.kind != MsgKind::kUint) {
    return Fail(StatusCode::kWrongType, "'id' must be a uint64, got " + Kind(id));
  }
  id_ = id.u;
  req_->id = id.u;
  if (!c.at_end()) {
    return Fail(StatusCode::kInvalidArgument,
                std::to_string(c.remaining()) + " bytes follow the request object");
  }
  if (!spans.duplicate.empty()) {
    return Fail(StatusCode::kInvalidArgument, "duplicate field " + spans.duplicate);
  }
  if (!spans.op) return Fail(StatusCode::kInvalidArgument, "missing field 'op'");
  MsgScalar op;
  MsgpackCursor opc(*spans.op);
  if (!opc.ReadScalar(&op) || op.kind != MsgKind::kStr) {
    return Fail(StatusCode::kWrongType, "'op' must be a str, got " + Kind(op));
  }
  const OpSchema* schema = ops_.Find(op.bytes);
  if (schema == nullptr) return Fail(StatusCode::kUnknownOp, "unknown op " + Quote(op.bytes));
  req_->schema = schema;
  return true;
}

Status Decoder::MatchFields(
    const OpSchema& schema, const FieldSpans& spans, std::string_view where,
    std::array<std::optional<std::string_view>, kMaxFieldsPerOp>* by_index) const {
  const std::string op(schema.name);
  std::string unknown, not_taken;
  for (const auto& [name, span] : spans.fields) {
    const int i = schema.FieldIndex(name);
    if (i >= 0) {
      (*by_index)[static_cast<size_t>(i)] = span;
    } else if (!ops_.IsKnownField(name)) {
      if (unknown.empty()) unknown = Quote(name);
    } else if (not_taken.empty()) {
      not_taken = std::string(name);
    }
  }
  const std::string at = where.empty() ? "" : std::string(where) + ": ";
  if (!unknown.empty()) {
    return Status::InvalidArgument(at + "unknown field " + unknown + " for op '" + op + "'");
  }
  if (!not_taken.empty()) {
    return Status::InvalidArgument(at + "op '" + op + "' does not take field '" + not_taken + "'");
  }
  for (size_t i = 0; i < schema.fields.size(); ++i) {
    if (schema.fields[i].required && !(*by_index)[i]) {
      return Status::InvalidArgument(at + "op '" + op + "' requires field '" +
                                     std::string(schema.fields[i].name) + "'");
    }
  }
  return Status::Ok();
}

void Decoder::DecodeFields(
    Request* target, const std::array<std::optional<std::string_view>, kMaxFieldsPerOp>& by_index,
    std::string_view where) {
  const OpSchema& schema = *target->schema;
  for (size_t i = 0; i < schema.fields.size(); ++i) {
    if (!by_index[i]) continue;
    const FieldSpec& spec = schema.fields[i];
    std::string name = where.empty() ? "'" + std::string(spec.name) + "'"
                                     : std::string(where) + ".'" + std::string(spec.name) + "'";
    DecodeField(target, i, spec, *by_index[i], name);
  }
  Finish(target);
}

void Decoder::Finish(Request* target) {
  const OpSchema& schema = *target->schema;
  if (!schema.route_field.empty()) target->route_key = target->Bytes(schema.route_field);
  const int shard = schema.FieldIndex("shard");
  if (shard >= 0 && target->slots[shard].present) target->shard = target->slots[shard].u;
}

std::optional<uint64_t> Decoder::ReadUint(MsgpackCursor& c, const std::string& what) {
  MsgScalar v;
  if (!c.ReadScalar(&v) || v.kind != MsgKind::kUint) {
    Note(kRankType, StatusCode::kWrongType, what + " must be a uint, got " + Kind(v));
    return std::nullopt;
  }
  return v.u;
}

// Reads one key (a str obeying the key rules). Returns false on a type error (noted).
bool Decoder::ReadKey(MsgpackCursor& c, const std::string& what, std::string_view* key) {
  MsgScalar v;
  if (!c.ReadScalar(&v) || v.kind != MsgKind::kStr) {
    Note(kRankType, StatusCode::kWrongType, what + " must be a str, got " + Kind(v));
    return false;
  }
  *key = v.bytes;
  if (v.bytes.empty()) {
    Note(kRankKeyRule, StatusCode::kInvalidKey, what + " is empty");
  } else if (v.bytes.size() > limits_.max_key_bytes) {
    Note(kRankKeyRule, StatusCode::kInvalidKey,
         what + " is " + std::to_string(v.bytes.size()) + " bytes, more than " +
             std::to_string(limits_.max_key_bytes));
  } else if (!IsValidUtf8(v.bytes)) {
    Note(kRankKeyRule, StatusCode::kInvalidKey, what + " is not valid UTF-8");
  }
  return true;
}

void Decoder::CheckValue(std::string_view span, const std::string& what) {
  if (span.size() > limits_.max_value_bytes) {
    Note(kRankValueSize, StatusCode::kTooLarge,
         what + " is " + std::to_string(span.size()) + " bytes, more than " +
             std::to_string(limits_.max_value_bytes));
  }
}

// Reads an array header of a list field and checks its count. False on a type error (noted).
bool Decoder::ReadArray(MsgpackCursor& c, const FieldSpec& spec, const std::string& what,
                        const char* shape, uint32_t* n) {
  bool malformed = false;
  if (!c.ReadArrayHeader(n, &malformed)) {
    Note(kRankType, StatusCode::kWrongType, what + " must be " + shape);
    return false;
  }
  if (*n > spec.max_items) {
    Note(kRankRange, StatusCode::kInvalidArgument,
         what + " has " + std::to_string(*n) + " items, at most " +
             std::to_string(spec.max_items) + " are allowed per request");
  }
  return true;
}

void Decoder::DecodeField(Request* target, size_t index, const FieldSpec& spec,
                          std::string_view span, const std::string& name) {
  Request::Slot& slot = target->slots[index];
  MsgpackCursor c(span);
  switch (spec.type) {
    case FieldType::kKey:
      if (ReadKey(c, name, &slot.bytes)) slot.present = true;
      break;
    case FieldType::kValue:
      CheckValue(span, name);
      slot.bytes = span;
      slot.present = true;
      break;
    case FieldType::kUint: {
      auto v = ReadUint(c, name);
      if (!v) break;
      if (*v < spec.min || *v > spec.max) {
        Note(kRankRange, StatusCode::kInvalidArgument,
             spec.max == std::numeric_limits<uint64_t>::max()
                 ? name + " must be at least " + std::to_string(spec.min)
                 : name + " must be " + std::to_string(spec.min) + ".." + std::to_string(spec.max));
      }
      slot.u = *v;
      slot.present = true;
      break;
    }
    case FieldType::kText:
    case FieldType::kPath: {
      MsgScalar v;
      if (!c.ReadScalar(&v) || v.kind != MsgKind::kStr) {
        Note(kRankType, StatusCode::kWrongType, name + " must be a str, got " + Kind(v));
        break;
      }
      const bool path = spec.type == FieldType::kPath;
      const size_t max = path ? kMaxPathBytes : limits_.max_key_bytes;
      if (v.bytes.size() > max || (path && v.bytes.empty()) || !IsValidUtf8(v.bytes)) {
        Note(kRankRange, StatusCode::kInvalidArgument,
             name + " must be valid UTF-8 of " + (path ? "1.." : "at most ") +
                 std::to_string(max) + " bytes");
      }
      slot.bytes = v.bytes;
      slot.present = true;
      break;
    }
    case FieldType::kKeyArray: {
      uint32_t n = 0;
      if (!ReadArray(c, spec, name, "an array of str", &n)) break;
      slot.present = true;
      // No reserve() from the declared count: it is the host's claim, and each element costs
      // more here than its bytes in the frame. The vector grows with elements really present.
      for (uint32_t i = 0; i < n; ++i) {
        std::string_view key;
        if (!ReadKey(c, name + "[" + std::to_string(i) + "]", &key)) break;
        if (i < spec.max_items) target->keys.push_back(key);
      }
      break;
    }
    case FieldType::kUintArray: {
      uint32_t n = 0;
      if (!ReadArray(c, spec, name, "an array of uint", &n)) break;
      slot.present = true;
      for (uint32_t i = 0; i < n; ++i) {
        auto v = ReadUint(c, name + "[" + std::to_string(i) + "]");
        if (!v) break;
        if (i < spec.max_items) target->uints.push_back(*v);
      }
      break;
    }
    case FieldType::kEntries:
    case FieldType::kChecks: {
      const bool entries = spec.type == FieldType::kEntries;
      const char* pair = entries ? "[key, value]" : "[key, version]";
      uint32_t n = 0;
      if (!ReadArray(c, spec, name, entries ? "an array of [key, value] pairs"
                                            : "an array of [key, version] pairs",
                     &n)) {
        break;
      }
      slot.present = true;
      for (uint32_t i = 0; i < n; ++i) {
        const std::string where = name + "[" + std::to_string(i) + "]";
        uint32_t arity = 0;
        bool malformed = false;
        if (!c.ReadArrayHeader(&arity, &malformed)) {
          Note(kRankType, StatusCode::kWrongType, where + " must be a " + pair + " array");
          break;
        }
        if (arity != 2) {
          Note(kRankType, StatusCode::kInvalidArgument,
               where + " has " + std::to_string(arity) + " elements, expected " + pair);
          break;
        }
        std::string_view key;
        if (!ReadKey(c, where + " key", &key)) break;
        if (entries) {
          std::string_view value;
          if (!c.Skip(&value)) break;  // cannot fail: the whole span was validated
          CheckValue(value, where + " value");
          if (i < spec.max_items) target->entries.emplace_back(key, value);
        } else {
          auto version = ReadUint(c, where + " version");
          if (!version) break;
          if (i < spec.max_items) target->checks.emplace_back(key, *version);
        }
      }
      break;
    }
    case FieldType::kOps:
      DecodeNestedOps(target, spec, span, name);
      slot.present = true;
      break;
  }
}

void Decoder::DecodeNestedOps(Request* parent, const FieldSpec& spec, std::string_view span,
                              const std::string& what) {
  MsgpackCursor c(span);
  uint32_t n = 0;
  if (!ReadArray(c, spec, what, "an array of maps", &n)) return;
  if (n == 0) {
    Note(kRankRange, StatusCode::kInvalidArgument,
         what + " must hold 1.." + std::to_string(spec.max_items) + " ops");
  }
  std::string allowed;
  for (const NestedOpSpec& op : parent->schema->nested) {
    allowed += (allowed.empty() ? "" : ", ") + std::string(op.name);
  }
  for (uint32_t i = 0; i < n && i < spec.max_items; ++i) {
    const std::string where = what + "[" + std::to_string(i) + "]";
    uint32_t count = 0;
    bool malformed = false;
    if (!c.ReadMapHeader(&count, &malformed)) {
      Note(kRankType, StatusCode::kWrongType, where + " must be a map");
      return;
    }
    FieldSpans spans;
    if (!ReadSpans(c, count, &spans)) return;  // cannot happen: the span was validated
    auto problem = [&](StatusCode code, std::string message) {
      Note(kRankType, code, where + ": " + std::move(message));
    };
    if (!spans.non_str_name.empty()) return problem(StatusCode::kInvalidArgument,
                                                    "field names must be str");
    if (spans.id) return problem(StatusCode::kInvalidArgument, "a nested op takes no 'id'");
    if (!spans.duplicate.empty()) {
      return problem(StatusCode::kInvalidArgument, "duplicate field " + spans.duplicate);
    }
    if (!spans.op) return problem(StatusCode::kInvalidArgument, "missing field 'op'");
    MsgScalar op;
    MsgpackCursor opc(*spans.op);
    if (!opc.ReadScalar(&op) || op.kind != MsgKind::kStr) {
      return problem(StatusCode::kWrongType, "'op' must be a str, got " + Kind(op));
    }
    const OpSchema* schema = ops_.Nested(*parent->schema, op.bytes);
    if (schema == nullptr) {
      if (ops_.Find(op.bytes) == nullptr) {
        return problem(StatusCode::kUnknownOp, "unknown op " + Quote(op.bytes));
      }
      return problem(StatusCode::kInvalidArgument, "op " + Quote(op.bytes) + " is not allowed in '" +
                                                       std::string(parent->schema->name) +
                                                       "' (allowed: " + allowed + ")");
    }
    auto nested = std::make_unique<Request>();
    nested->id = parent->id;
    nested->schema = schema;
    std::array<std::optional<std::string_view>, kMaxFieldsPerOp> by_index;
    if (Status st = MatchFields(*schema, spans, where, &by_index); !st.ok()) {
      Note(kRankType, st.code(), st.message());
      return;
    }
    DecodeFields(nested.get(), by_index, where);
    parent->ops.push_back(std::move(nested));
  }
}

}  // namespace

RequestPtr DecodeRequest(std::string frame, const OpCatalog& ops, const Limits& limits,
                         DecodeError* error) {
  auto req = std::make_unique<Request>();
  req->frame = std::move(frame);  // from here on the bytes never move again
  Decoder decoder(req.get(), ops, limits, error);
  if (!decoder.Run()) return nullptr;
  return req;
}

}  // namespace litestash
