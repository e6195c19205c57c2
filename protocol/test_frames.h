// Test helpers shared by the protocol unit tests: building MessagePack request bodies and
// length-prefixed frames, and reading answers back as msgpack objects.
#pragma once

#include <msgpack.hpp>
#include <string>
#include <string_view>

namespace litestash::testing {

inline std::string Frame(std::string_view body) {
  const auto n = static_cast<uint32_t>(body.size());
  std::string out{static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                  static_cast<char>(n)};
  out.append(body);
  return out;
}

// Packs a map built by `fill(packer)` with `pairs` entries.
template <typename Fill>
std::string PackMap(uint32_t pairs, Fill fill) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_map(pairs);
  fill(pk);
  return std::string(buf.data(), buf.size());
}

// Unpacks an answer frame (with its 4-byte prefix) to an object handle.
inline msgpack::object_handle Answer(const std::string& frame) {
  return msgpack::unpack(frame.data() + 4, frame.size() - 4);
}

// Returns the error code string of an error answer, or "ok".
inline std::string AnswerCode(const std::string& frame) {
  auto oh = Answer(frame);
  auto m = oh.get().as<std::map<std::string, msgpack::object>>();
  if (m.at("ok").as<bool>()) return "ok";
  return m.at("error").as<std::map<std::string, std::string>>().at("code");
}

}  // namespace litestash::testing
