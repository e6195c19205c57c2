#include "protocol/request_decoder.h"

#include <algorithm>
#include <array>
#include <cstdio>

#include "common/utf8.h"
#include "protocol/msgpack_cursor.h"

namespace litestash {
namespace {

// Ranks of the checks that run after the fields are known to exist (docs/protocol.md, "Error
// precedence" steps 9-12): the lowest-ranked problem found is the one answered.
enum Rank { kRankType = 9, kRankKeyRule = 10, kRankValueSize = 11, kRankRange = 12, kRankNone };

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

class Decoder {
 public:
  Decoder(Request* req, const Limits& limits, DecodeError* err)
      : req_(req), limits_(limits), err_(err) {}

  bool Run();

 private:
  bool Fail(ErrorCode code, std::string message) {
    err_->id = id_;
    err_->status = Status(code, std::move(message));
    return false;
  }
  // Remembers a problem of the given rank; the lowest rank (earliest on a tie) wins.
  void Note(Rank rank, ErrorCode code, std::string message) {
    if (rank < pending_rank_) {
      pending_rank_ = rank;
      pending_ = Status(code, std::move(message));
    }
  }

  bool ReadFields(MsgpackCursor& c, uint32_t count);
  bool CheckIdAndShape(const MsgpackCursor& c);
  void DecodeField(const FieldSpec& spec, std::string_view span);
  bool ReadKey(MsgpackCursor& c, std::string_view what, std::string_view* key);
  void CheckValue(std::string_view span, std::string_view what);
  void CheckCount(uint32_t n, std::string_view what);
  std::optional<uint64_t> ReadUint(std::string_view span, std::string_view name);

  Request* req_;
  const Limits& limits_;
  DecodeError* err_;

  std::optional<uint64_t> id_;
  std::optional<std::string_view> id_span_, op_span_;
  std::array<std::optional<std::string_view>, kFieldCount> fields_;
  std::string non_str_field_, duplicate_, unknown_;
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
      return Fail(ErrorCode::kBadRequest, "body is not valid MessagePack");
    }
    return Fail(ErrorCode::kBadRequest,
                "request must be a MessagePack map, got " + std::string(MsgKindName(top.kind)));
  }
  if (!ReadFields(c, count)) return false;
  if (!CheckIdAndShape(c)) return false;

  const OpSchema& schema = req_->schema();
  const FieldMask allowed = schema.required | schema.optional;
  for (const FieldSpec& spec : AllFields()) {
    const bool present = fields_[static_cast<size_t>(spec.id)].has_value();
    if (present && !(allowed & Bit(spec.id))) {
      return Fail(ErrorCode::kBadRequest, "op '" + std::string(schema.name) +
                                              "' does not take field '" + std::string(spec.name) +
                                              "'");
    }
  }
  for (const FieldSpec& spec : AllFields()) {
    if ((schema.required & Bit(spec.id)) && !fields_[static_cast<size_t>(spec.id)]) {
      return Fail(ErrorCode::kBadRequest, "op '" + std::string(schema.name) + "' requires field '" +
                                              std::string(spec.name) + "'");
    }
  }
  for (const FieldSpec& spec : AllFields()) {
    if (const auto& span = fields_[static_cast<size_t>(spec.id)]) DecodeField(spec, *span);
  }
  if (pending_rank_ != kRankNone) return Fail(pending_.code(), pending_.message());
  return true;
}

// Walks the top-level map, recording each field's byte span. Any malformation is answered at
// once with id nil: nothing read so far can be trusted.
bool Decoder::ReadFields(MsgpackCursor& c, uint32_t count) {
  for (uint32_t i = 0; i < count; ++i) {
    MsgScalar name;
    std::string_view span;
    if (!c.ReadScalar(&name) || !c.Skip(&span)) {
      return Fail(ErrorCode::kBadRequest, "body is not valid MessagePack");
    }
    if (name.kind != MsgKind::kStr) {
      if (non_str_field_.empty()) non_str_field_ = MsgKindName(name.kind);
      continue;
    }
    std::optional<std::string_view>* slot = nullptr;
    if (name.bytes == "id") {
      slot = &id_span_;
    } else if (name.bytes == "op") {
      slot = &op_span_;
    } else if (auto f = FindField(name.bytes)) {
      slot = &fields_[static_cast<size_t>(*f)];
    } else {
      if (unknown_.empty()) unknown_ = Quote(name.bytes);
      continue;
    }
    if (slot->has_value()) {
      if (duplicate_.empty()) duplicate_ = Quote(name.bytes);
      continue;
    }
    *slot = span;
  }
  if (!non_str_field_.empty()) {
    return Fail(ErrorCode::kBadRequest, "field names must be str, got " + non_str_field_);
  }
  return true;
}

// Steps 3-7 of the precedence: id, trailing bytes, duplicates, op, unknown fields.
bool Decoder::CheckIdAndShape(const MsgpackCursor& c) {
  if (!id_span_) return Fail(ErrorCode::kBadRequest, "missing field 'id'");
  MsgScalar id;
  MsgpackCursor idc(*id_span_);
  if (!idc.ReadScalar(&id) || id.kind != MsgKind::kUint) {
    return Fail(ErrorCode::kTypeError,
                "'id' must be a uint64, got " + std::string(MsgKindName(id.kind)));
  }
  id_ = id.u;
  req_->id = id.u;
  if (!c.at_end()) {
    return Fail(ErrorCode::kBadRequest,
                std::to_string(c.remaining()) + " bytes follow the request object");
  }
  if (!duplicate_.empty()) return Fail(ErrorCode::kBadRequest, "duplicate field " + duplicate_);
  if (!op_span_) return Fail(ErrorCode::kBadRequest, "missing field 'op'");
  MsgScalar op;
  MsgpackCursor opc(*op_span_);
  if (!opc.ReadScalar(&op) || op.kind != MsgKind::kStr) {
    return Fail(ErrorCode::kTypeError,
                "'op' must be a str, got " + std::string(MsgKindName(op.kind)));
  }
  const OpSchema* schema = FindOp(op.bytes);
  if (schema == nullptr) return Fail(ErrorCode::kUnknownOp, "unknown op " + Quote(op.bytes));
  req_->op = schema->code;
  if (!unknown_.empty()) {
    return Fail(ErrorCode::kBadRequest,
                "unknown field " + unknown_ + " for op '" + std::string(schema->name) + "'");
  }
  return true;
}

std::optional<uint64_t> Decoder::ReadUint(std::string_view span, std::string_view name) {
  MsgpackCursor c(span);
  MsgScalar v;
  if (!c.ReadScalar(&v) || v.kind != MsgKind::kUint) {
    Note(kRankType, ErrorCode::kTypeError,
         "'" + std::string(name) + "' must be a uint, got " + std::string(MsgKindName(v.kind)));
    return std::nullopt;
  }
  return v.u;
}

// Reads one key (a str obeying the key rules). Returns false on a type error (noted).
bool Decoder::ReadKey(MsgpackCursor& c, std::string_view what, std::string_view* key) {
  MsgScalar v;
  if (!c.ReadScalar(&v) || v.kind != MsgKind::kStr) {
    Note(kRankType, ErrorCode::kTypeError,
         std::string(what) + " must be a str, got " + std::string(MsgKindName(v.kind)));
    return false;
  }
  *key = v.bytes;
  if (v.bytes.empty()) {
    Note(kRankKeyRule, ErrorCode::kInvalidKey, std::string(what) + " is empty");
  } else if (v.bytes.size() > limits_.max_key_bytes) {
    Note(kRankKeyRule, ErrorCode::kInvalidKey,
         std::string(what) + " is " + std::to_string(v.bytes.size()) + " bytes, more than " +
             std::to_string(limits_.max_key_bytes));
  } else if (!IsValidUtf8(v.bytes)) {
    Note(kRankKeyRule, ErrorCode::kInvalidKey, std::string(what) + " is not valid UTF-8");
  }
  return true;
}

void Decoder::CheckCount(uint32_t n, std::string_view what) {
  if (n > kMaxKeysPerRequest) {
    Note(kRankRange, ErrorCode::kBadRequest,
         "'" + std::string(what) + "' has " + std::to_string(n) + " items, at most " +
             std::to_string(kMaxKeysPerRequest) + " are allowed per request");
  }
}

void Decoder::CheckValue(std::string_view span, std::string_view what) {
  if (span.size() > limits_.max_value_bytes) {
    Note(kRankValueSize, ErrorCode::kValueTooLarge,
         std::string(what) + " is " + std::to_string(span.size()) + " bytes, more than " +
             std::to_string(limits_.max_value_bytes));
  }
}

void Decoder::DecodeField(const FieldSpec& spec, std::string_view span) {
  const std::string name(spec.name);
  switch (spec.type) {
    case FieldType::kKey: {
      MsgpackCursor c(span);
      ReadKey(c, "'key'", &req_->key);
      break;
    }
    case FieldType::kValue:
      CheckValue(span, "'value'");
      req_->value = span;
      break;
    case FieldType::kUint: {
      auto v = ReadUint(span, spec.name);
      if (!v) break;
      if (spec.id == FieldId::kShard) {
        req_->shard = *v;
      } else if (spec.id == FieldId::kTtlMs) {
        if (*v == 0) Note(kRankRange, ErrorCode::kBadRequest, "'ttl_ms' must be at least 1");
        req_->ttl_ms = *v;
      } else if (spec.id == FieldId::kLimit) {
        if (*v == 0 || *v > kMaxScanLimit) {
          Note(kRankRange, ErrorCode::kBadRequest,
               "'limit' must be 1.." + std::to_string(kMaxScanLimit));
        }
        req_->limit = *v;
      }
      break;
    }
    case FieldType::kText: {
      MsgpackCursor c(span);
      MsgScalar v;
      if (!c.ReadScalar(&v) || v.kind != MsgKind::kStr) {
        Note(kRankType, ErrorCode::kTypeError,
             "'" + name + "' must be a str, got " + std::string(MsgKindName(v.kind)));
        break;
      }
      if (v.bytes.size() > limits_.max_key_bytes || !IsValidUtf8(v.bytes)) {
        Note(kRankRange, ErrorCode::kBadRequest,
             "'" + name + "' must be valid UTF-8 of at most " +
                 std::to_string(limits_.max_key_bytes) + " bytes");
      }
      if (spec.id == FieldId::kPrefix) req_->prefix = v.bytes;
      if (spec.id == FieldId::kAfter) req_->after = v.bytes;
      break;
    }
    case FieldType::kKeyArray: {
      MsgpackCursor c(span);
      uint32_t n = 0;
      bool malformed = false;
      if (!c.ReadArrayHeader(&n, &malformed)) {
        Note(kRankType, ErrorCode::kTypeError, "'" + name + "' must be an array of str");
        break;
      }
      // No reserve() from the declared count: it is the host's claim, and each element costs
      // more here than its bytes in the frame. The vector grows with elements really present.
      CheckCount(n, name);
      for (uint32_t i = 0; i < n; ++i) {
        std::string_view key;
        if (!ReadKey(c, "'" + name + "'[" + std::to_string(i) + "]", &key)) break;
        if (i < kMaxKeysPerRequest) req_->keys.push_back(key);
      }
      break;
    }
    case FieldType::kEntries: {
      MsgpackCursor c(span);
      uint32_t n = 0;
      bool malformed = false;
      if (!c.ReadArrayHeader(&n, &malformed)) {
        Note(kRankType, ErrorCode::kTypeError, "'entries' must be an array of [key, value] pairs");
        break;
      }
      CheckCount(n, "entries");
      for (uint32_t i = 0; i < n; ++i) {
        const std::string where = "'entries'[" + std::to_string(i) + "]";
        uint32_t arity = 0;
        if (!c.ReadArrayHeader(&arity, &malformed)) {
          Note(kRankType, ErrorCode::kTypeError, where + " must be a [key, value] array");
          break;
        }
        if (arity != 2) {
          Note(kRankType, ErrorCode::kBadRequest,
               where + " has " + std::to_string(arity) + " elements, expected [key, value]");
          break;
        }
        std::string_view key, value;
        if (!ReadKey(c, where + " key", &key)) break;
        if (!c.Skip(&value)) break;  // cannot fail: the whole span was validated
        CheckValue(value, where + " value");
        if (i < kMaxKeysPerRequest) req_->entries.emplace_back(key, value);
      }
      break;
    }
  }
}

}  // namespace

RequestPtr DecodeRequest(std::string frame, const Limits& limits, DecodeError* error) {
  auto req = std::make_unique<Request>();
  req->frame = std::move(frame);  // from here on the bytes never move again
  Decoder decoder(req.get(), limits, error);
  if (!decoder.Run()) return nullptr;
  return req;
}

}  // namespace litestash
