// Request and Answer: one request to build (op + packed fields) and one answer to read back.
//
// A Request holds each field's value already packed as MessagePack, so typed values go to the
// engine byte for byte (the `value` of a set is exactly what ParseValue() produced). An Answer
// owns one answer body and indexes its top-level fields by name; the getters read them with
// the protocol's MsgpackCursor, so values come back as the exact bytes the engine sent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace litestash::cli {

// Packing helpers: each returns one complete MessagePack object.
std::string PackUint(uint64_t v);
std::string PackStr(std::string_view s);
std::string PackBool(bool b);
// Always float32 (ca) / float64 (cb): msgpack-cxx's pack_float/pack_double write an integral
// value as an int, which would lose the type the user asked for.
std::string PackFloat32(float f);
std::string PackFloat64(double d);
std::string PackArray(const std::vector<std::string>& packed_items);
// A map of str keys to already packed values, in the order given.
std::string PackMap(const std::vector<std::pair<std::string, std::string>>& fields);

struct Request {
  std::string op;
  std::vector<std::pair<std::string, std::string>> fields;  // name, packed value

  Request() = default;
  explicit Request(std::string op_name) : op(std::move(op_name)) {}
  Request& Raw(std::string name, std::string packed) {
    fields.emplace_back(std::move(name), std::move(packed));
    return *this;
  }
  Request& Uint(std::string name, uint64_t v) { return Raw(std::move(name), PackUint(v)); }
  Request& Str(std::string name, std::string_view s) { return Raw(std::move(name), PackStr(s)); }
  // The frame {"id": id, "op": op, fields...} with its length prefix.
  std::string Encode(uint64_t id) const;
};

class Answer {
 public:
  // Fails when `body` is not a MessagePack map with str field names.
  static Result<Answer> Parse(std::string body);

  std::optional<uint64_t> id() const { return id_; }
  bool ok() const { return ok_; }
  const std::string& code() const { return code_; }        // error answers
  const std::string& message() const { return message_; }  // error answers
  const std::string& body() const { return body_; }

  // The exact bytes of a field (or of the error map's field for error answers: ErrorField).
  std::optional<std::string_view> Field(std::string_view name) const;
  std::optional<std::string_view> ErrorField(std::string_view name) const;
  bool Has(std::string_view name) const { return Field(name).has_value(); }
  std::optional<uint64_t> Uint(std::string_view name) const;  // nil or absent: nullopt
  bool Bool(std::string_view name) const;                     // absent or not bool: false
  std::optional<std::string> Str(std::string_view name) const;
  // The items of an array field, each as its exact bytes (empty when absent or not an array).
  std::vector<std::string_view> Items(std::string_view name) const;
  // Field names in the order the engine wrote them.
  std::vector<std::string> Names() const;

 private:
  std::string body_;
  std::vector<std::pair<std::string, std::pair<size_t, size_t>>> fields_;  // name, offset+len
  std::optional<uint64_t> id_;
  bool ok_ = false;
  std::string code_, message_;
};

// Helpers over single packed objects (items of Answer::Items, for example).
std::optional<uint64_t> UintOf(std::string_view packed);
std::optional<std::string> StrOf(std::string_view packed);
std::optional<bool> BoolOf(std::string_view packed);
std::vector<std::string_view> ItemsOf(std::string_view packed);
// The pairs of a packed map, each as exact bytes.
std::vector<std::pair<std::string_view, std::string_view>> PairsOf(std::string_view packed);

}  // namespace litestash::cli
