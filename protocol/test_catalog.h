// A small OpCatalog for protocol unit tests that need only a few ops (the engine's real rows
// live in engine/ and are tested there and by request_decoder_test). Test-only.
#pragma once

#include <catch2/catch.hpp>

#include "protocol/op_catalog.h"

namespace litestash::testing {

// ping (no fields) and get (key, shard).
inline const OpCatalog& TestCatalog() {
  static const OpCatalog* catalog = [] {
    auto* c = new OpCatalog();
    REQUIRE(c->Add(MakeSchema("ping", Routing::kLocal, false, {})).ok());
    REQUIRE(c->Add(MakeSchema("get", Routing::kKeyed, false, {fields::Key(), fields::Shard()}, "",
                              "key"))
                .ok());
    return c;
  }();
  return *catalog;
}

}  // namespace litestash::testing
