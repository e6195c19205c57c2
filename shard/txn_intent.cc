#include "shard/txn_intent.h"

#include <msgpack.hpp>

namespace litestash {
namespace {

struct Sink {
  std::string* out;
  void write(const char* p, size_t n) { out->append(p, n); }
};

std::string_view BytesOf(const msgpack::object& o) {
  if (o.type == msgpack::type::BIN) return {o.via.bin.ptr, o.via.bin.size};
  if (o.type == msgpack::type::STR) return {o.via.str.ptr, o.via.str.size};
  throw msgpack::type_error();
}

const msgpack::object& ArrayOf(const msgpack::object& o) {
  if (o.type != msgpack::type::ARRAY) throw msgpack::type_error();
  return o;
}

const msgpack::object& At(const msgpack::object& array, uint32_t i) {
  if (array.type != msgpack::type::ARRAY || array.via.array.size <= i) throw msgpack::type_error();
  return array.via.array.ptr[i];
}

}  // namespace

std::string EncodeIntent(const IntentBody& body) {
  std::string out;
  Sink sink{&out};
  msgpack::packer<Sink> pk(sink);
  pk.pack_array(4);
  pk.pack_uint64(body.txn_id);
  pk.pack_int64(body.now_ms);
  pk.pack_int64(body.now_us);
  pk.pack_array(static_cast<uint32_t>(body.parts.size()));
  for (const IntentPart& part : body.parts) {
    pk.pack_array(3);
    pk.pack_uint32(part.shard);
    pk.pack_uint64(part.part_version);
    pk.pack_array(static_cast<uint32_t>(part.ops.size()));
    for (const WriteOp& op : part.ops) {
      pk.pack_array(4);
      pk.pack_uint8(op.kind);
      pk.pack_bin(static_cast<uint32_t>(op.name.size()));
      pk.pack_bin_body(op.name.data(), static_cast<uint32_t>(op.name.size()));
      pk.pack_bin(static_cast<uint32_t>(op.value.size()));
      pk.pack_bin_body(op.value.data(), static_cast<uint32_t>(op.value.size()));
      if (op.expires_at) {
        pk.pack_int64(*op.expires_at);
      } else {
        pk.pack_nil();
      }
    }
  }
  return out;
}

Result<IntentBody> DecodeIntent(std::string_view bytes) {
  try {
    msgpack::object_handle oh = msgpack::unpack(bytes.data(), bytes.size());
    const msgpack::object& top = oh.get();
    IntentBody body;
    body.txn_id = At(top, 0).as<uint64_t>();
    body.now_ms = At(top, 1).as<int64_t>();
    body.now_us = At(top, 2).as<int64_t>();
    const msgpack::object& parts = ArrayOf(At(top, 3));
    for (uint32_t i = 0; i < parts.via.array.size; ++i) {
      const msgpack::object& p = At(parts, i);
      IntentPart part;
      part.shard = At(p, 0).as<uint32_t>();
      part.part_version = At(p, 1).as<uint64_t>();
      const msgpack::object& ops = ArrayOf(At(p, 2));
      for (uint32_t j = 0; j < ops.via.array.size; ++j) {
        const msgpack::object& o = At(ops, j);
        WriteOp op;
        const auto kind = At(o, 0).as<uint32_t>();
        if (kind > WriteOp::kClear) throw msgpack::type_error();
        op.kind = static_cast<WriteOp::Kind>(kind);
        op.name = std::string(BytesOf(At(o, 1)));
        op.value = std::string(BytesOf(At(o, 2)));
        if (!At(o, 3).is_nil()) op.expires_at = At(o, 3).as<int64_t>();
        part.ops.push_back(std::move(op));
      }
      body.parts.push_back(std::move(part));
    }
    return body;
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("a stored transaction intent does not decode: ") +
                              e.what());
  }
}

}  // namespace litestash
