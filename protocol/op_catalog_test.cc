#include "protocol/op_catalog.h"

#include <catch2/catch.hpp>

namespace litestash {
namespace {

using fields::Key;
using fields::Of;
using fields::Shard;
using fields::Value;

OpSchema Get() { return MakeSchema("get", Routing::kKeyed, false, {Key(), Shard()}, "", "key"); }
OpSchema Set() {
  return MakeSchema("set", Routing::kKeyed, true, {Key(), Value(), Shard()}, "", "key");
}

TEST_CASE("schemas are found by name and numbered in order") {
  OpCatalog c;
  REQUIRE(c.Add(Get()).ok());
  REQUIRE(c.Add(Set()).ok());
  CHECK(c.size() == 2);
  REQUIRE(c.Find("set") != nullptr);
  CHECK(c.Find("set")->id == 1);
  CHECK(&c.At(0) == c.Find("get"));
  CHECK(c.Find("nope") == nullptr);
  CHECK(c.IsKnownField("value"));
  CHECK(c.IsKnownField("shard"));
  CHECK_FALSE(c.IsKnownField("bogus"));
}

TEST_CASE("malformed schemas are refused with the reason") {
  OpCatalog c;
  REQUIRE(c.Add(Get()).ok());
  CHECK_FALSE(c.Add(Get()).ok());  // twice
  CHECK_FALSE(c.Add(MakeSchema("two", Routing::kLocal, false, {Key(), Key()})).ok());
  CHECK_FALSE(c.Add(MakeSchema("lists", Routing::kKeys, false,
                               {Of("a", FieldType::kKeyArray, true),
                                Of("b", FieldType::kKeyArray, true)}))
                  .ok());
  CHECK_FALSE(c.Add(MakeSchema("unrouted", Routing::kKeyed, false, {Value()}, "", "key")).ok());
  CHECK_FALSE(c.Add(MakeSchema("nokeys", Routing::kKeys, false, {})).ok());
  OpSchema reserved = MakeSchema("reserved", Routing::kLocal, false, {Of("id", FieldType::kUint, false)});
  CHECK_FALSE(c.Add(reserved).ok());
  auto bad_default = fields::UintWithDefault("limit", 0, 1, 10);
  CHECK_FALSE(c.Add(MakeSchema("dflt", Routing::kLocal, false, {bad_default})).ok());
  OpSchema nests_unknown = MakeSchema("batch", Routing::kAllShards, true,
                                      {Of("ops", FieldType::kOps, true)});
  nests_unknown.nested = {{"frob", {"key"}}};
  auto st = c.Add(nests_unknown);
  REQUIRE_FALSE(st.ok());
  CHECK_THAT(st.status().message(), Catch::Contains("frob"));
}

TEST_CASE("a nested op is its top-level op narrowed to the listed fields, in the same order") {
  OpCatalog c;
  REQUIRE(c.Add(Set()).ok());
  OpSchema batch =
      MakeSchema("batch", Routing::kAllShards, true, {Of("ops", FieldType::kOps, true)});
  batch.nested = {{"set", {"value", "key"}}};
  auto added = c.Add(batch);
  REQUIRE(added.ok());
  const OpSchema* nested = c.Nested(**added, "set");
  REQUIRE(nested != nullptr);
  CHECK(nested->id == c.Find("set")->id);  // runs as `set`
  REQUIRE(nested->fields.size() == 2);
  CHECK(nested->fields[0].name == "key");  // set's order, not the list's
  CHECK(nested->fields[1].name == "value");
  CHECK(nested->Field("shard") == nullptr);
  CHECK(c.Nested(**added, "get") == nullptr);
  OpSchema bad_field =
      MakeSchema("batch2", Routing::kAllShards, true, {Of("ops", FieldType::kOps, true)});
  bad_field.nested = {{"set", {"key", "ttl_ms"}}};
  CHECK_FALSE(c.Add(bad_field).ok());
}

}  // namespace
}  // namespace litestash
