defmodule LiteStash.RoutingTest do
  @moduledoc "BLAKE2b-512 digests and shard routing against conformance/vectors/hash_vectors."
  use ExUnit.Case, async: true

  alias LiteStash.{Routing, Vectors}
  import LiteStash.TestHelpers, only: [hex: 1]

  test "the contract's own vectors (16 shards)" do
    assert Routing.shard("user:1001", 16) == 14
    assert Routing.shard("a", 16) == 1
    assert Routing.shard("vec:1", 16) == 12
    assert binary_part(Routing.digest("user:1001"), 0, 8) |> hex() == "24c580f64b17c1ce"
  end

  test "RFC 7693 appendix A: BLAKE2b-512(\"abc\")" do
    assert hex(Routing.digest("abc")) ==
             "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1" <>
               "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"
  end

  test "every hash vector: digest and shard for each shard count" do
    doc = Vectors.load!("hash_vectors")
    assert doc["format"] == "litestash-hash-vectors/1"
    assert doc["hash"] == "blake2b-512"
    vectors = doc["vectors"]
    assert length(vectors) >= 1000

    for v <- vectors do
      key = v["key"]
      assert hex(key) == v["key_utf8_hex"]
      assert hex(Routing.digest(key)) == v["blake2b512_hex"], "digest of #{inspect(key)}"

      for {n, shard} <- v["shard"] do
        assert Routing.shard(key, String.to_integer(n)) == shard,
               "shard of #{inspect(key)} among #{n}"
      end
    end
  end
end
