#include "protocol/op_table.h"

#include <catch2/catch.hpp>
#include <string>

namespace litestash {
namespace {

TEST_CASE("rows are indexed by their code and found by name") {
  size_t i = 0;
  for (const OpSchema& op : AllOps()) {
    CHECK(static_cast<size_t>(op.code) == i++);
    REQUIRE(FindOp(op.name) == &op);
    CHECK(&SchemaOf(op.code) == &op);
    CHECK((op.required & op.optional) == 0);
  }
  CHECK(AllOps().size() == 17);
  CHECK(FindOp("SET") == nullptr);
  CHECK(FindOp("") == nullptr);
}

TEST_CASE("fields are indexed by their id and found by name") {
  size_t i = 0;
  for (const FieldSpec& f : AllFields()) {
    CHECK(static_cast<size_t>(f.id) == i++);
    CHECK(FindField(f.name) == f.id);
  }
  CHECK_FALSE(FindField("id").has_value());  // id and op are handled apart
  CHECK_FALSE(FindField("bogus").has_value());
}

TEST_CASE("`shard` is accepted exactly by the ops that take `key`") {
  for (const OpSchema& op : AllOps()) {
    const bool takes_key = (op.required | op.optional) & Bit(FieldId::kKey);
    const bool takes_shard = (op.required | op.optional) & Bit(FieldId::kShard);
    CHECK(takes_key == takes_shard);
    CHECK(takes_key == (op.routing == Routing::kKey));
  }
}

TEST_CASE("the contract's op table") {
  auto req = [](const char* name) { return FindOp(name)->required; };
  auto opt = [](const char* name) { return FindOp(name)->optional; };
  CHECK(req("set") == (Bit(FieldId::kKey) | Bit(FieldId::kValue)));
  CHECK(opt("set") == (Bit(FieldId::kShard) | Bit(FieldId::kTtlMs)));
  CHECK(req("mset") == Bit(FieldId::kEntries));
  CHECK(opt("mset") == Bit(FieldId::kTtlMs));
  CHECK(req("expire") == (Bit(FieldId::kKey) | Bit(FieldId::kTtlMs)));
  CHECK(opt("scan") == (Bit(FieldId::kPrefix) | Bit(FieldId::kAfter) | Bit(FieldId::kLimit)));
  for (const char* w : {"set", "delete", "mset", "mdelete", "clear", "expire", "persist"}) {
    CHECK(FindOp(w)->writes);
  }
  for (const char* r : {"get", "exists", "mget", "scan", "count", "ttl", "stats", "hello"}) {
    CHECK_FALSE(FindOp(r)->writes);
  }
}

}  // namespace
}  // namespace litestash
