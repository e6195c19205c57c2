defmodule LiteStash.MsgpackTest do
  @moduledoc "The Elixir MessagePack codec against byte vectors from the MessagePack spec."
  use ExUnit.Case, async: true
  import Bitwise

  alias LiteStash.Msgpack
  alias LiteStash.Msgpack.{Bin, Ext, Raw}
  import LiteStash.TestHelpers, only: [hex: 1, unhex: 1]

  defp enc(term), do: term |> Msgpack.encode!() |> hex()

  # {term, canonical encoding}: encode must give exactly these bytes and decode must give the
  # term back (bin decodes to %Bin{}, {:f32, x} decodes to the float x).
  @canonical [
    {nil, "c0"},
    {false, "c2"},
    {true, "c3"},
    {0, "00"},
    {127, "7f"},
    {128, "cc80"},
    {255, "ccff"},
    {256, "cd0100"},
    {65_535, "cdffff"},
    {65_536, "ce00010000"},
    {4_294_967_295, "ceffffffff"},
    {4_294_967_296, "cf0000000100000000"},
    {18_446_744_073_709_551_615, "cfffffffffffffffff"},
    {-1, "ff"},
    {-32, "e0"},
    {-33, "d0df"},
    {-128, "d080"},
    {-129, "d1ff7f"},
    {-32_768, "d18000"},
    {-32_769, "d2ffff7fff"},
    {-2_147_483_648, "d280000000"},
    {-2_147_483_649, "d3ffffffff7fffffff"},
    {-9_223_372_036_854_775_808, "d38000000000000000"},
    {1.0, "cb3ff0000000000000"},
    {-2.5, "cbc004000000000000"},
    {0.1, "cb3fb999999999999a"},
    {"", "a0"},
    {"a", "a161"},
    {"naïve", "a66e61c3af7665"},
    {[], "90"},
    {[1, [2, "x"]], "92019202a178"},
    {%{}, "80"},
    {%{"a" => 1, "b" => [true, nil]}, "82a16101a16292c3c0"},
    {%Bin{data: <<>>}, "c400"},
    {%Bin{data: <<0, 1, 255>>}, "c4030001ff"},
    {%Ext{type: 5, data: <<1>>}, "d40501"},
    {%Ext{type: 5, data: <<1, 2>>}, "d5050102"},
    {%Ext{type: -1, data: <<0, 0, 0, 0>>}, "d6ff00000000"},
    {%Ext{type: 1, data: <<0::64>>}, "d7010000000000000000"},
    {%Ext{type: 1, data: <<0::128>>}, "d80100000000000000000000000000000000"},
    {%Ext{type: 7, data: <<0xAA, 0xBB, 0xCC>>}, "c70307aabbcc"},
    {%Ext{type: -128, data: <<>>}, "c70080"}
  ]

  test "canonical encodings of every scalar family" do
    for {term, want} <- @canonical do
      assert enc(term) == want, "encode #{inspect(term)}"
      assert Msgpack.decode!(unhex(want)) === term, "decode #{want}"
    end
  end

  test "wrappers and conveniences" do
    assert enc({:f32, 1.5}) == "ca3fc00000"
    assert enc({:f64, 1}) == "cb3ff0000000000000"
    assert enc({:bin, "abc"}) == "c403616263"
    assert enc({:str, <<0xFF>>}) == "a1ff", "forced str even for invalid UTF-8"
    assert enc(<<0xFF, 0xFE>>) == "c402fffe", "invalid UTF-8 binary is sent as bin"
    assert enc(:foo) == "a3666f6f"
    assert enc(%{name: "Al"}) == "81a46e616d65a2416c"
    assert enc({:map, [{"b", 1}, {"a", 2}, {"b", 3}]}) == "83a16201a16102a16203"
    assert enc(%Raw{bytes: <<0xCC, 5>>}) == "cc05"
    assert enc([%Raw{bytes: <<0xCA, 0x3F, 0xC0, 0, 0>>}, 1]) == "92ca3fc0000001"
    assert enc({:f32, :nan}) == "ca7fc00000"
    assert enc({:f64, :infinity}) == "cb7ff0000000000000"
    assert enc({:f64, :neg_infinity}) == "cbfff0000000000000"
  end

  test "length boundaries pick the right header" do
    s31 = String.duplicate("x", 31)
    assert enc(s31) == "bf" <> hex(s31)
    assert String.starts_with?(enc(String.duplicate("x", 32)), "d920")
    assert String.starts_with?(enc(String.duplicate("x", 255)), "d9ff")
    assert String.starts_with?(enc(String.duplicate("x", 256)), "da0100")
    assert String.starts_with?(enc(String.duplicate("x", 65_535)), "daffff")
    assert String.starts_with?(enc(String.duplicate("x", 65_536)), "db00010000")
    assert String.starts_with?(enc({:bin, :binary.copy(<<0>>, 256)}), "c50100")
    assert String.starts_with?(enc({:bin, :binary.copy(<<0>>, 65_536)}), "c600010000")
    assert String.starts_with?(enc(%Ext{type: 2, data: :binary.copy(<<0>>, 256)}), "c8010002")

    assert String.starts_with?(
             enc(%Ext{type: 2, data: :binary.copy(<<0>>, 65_536)}),
             "c90001000002"
           )

    assert String.starts_with?(enc(List.duplicate(0, 15)), "9f")
    assert String.starts_with?(enc(List.duplicate(0, 16)), "dc0010")
    assert String.starts_with?(enc(List.duplicate(0, 65_536)), "dd00010000")
    m16 = Map.new(1..16, &{&1, 0})
    assert String.starts_with?(enc(m16), "de0010")
    m65536 = Map.new(1..65_536, &{&1, 0})
    assert String.starts_with?(enc(m65536), "df00010000")

    for bin <- [String.duplicate("y", 70_000), List.duplicate("z", 70_000), m65536] do
      assert Msgpack.decode!(Msgpack.encode!(bin)) == bin
    end
  end

  test "non-canonical encodings decode (every format family)" do
    for {h, want} <- [
          {"cc05", 5},
          {"cd0005", 5},
          {"ce00000007", 7},
          {"cf0000000000000001", 1},
          {"d0ff", -1},
          {"d1ffff", -1},
          {"d2ffffffff", -1},
          {"d3ffffffffffffffff", -1},
          {"d0050", nil},
          {"d903616263", "abc"},
          {"da0000", ""},
          {"db00000001 61", "a"},
          {"c50001ff", %Bin{data: <<255>>}},
          {"c600000000", %Bin{data: ""}},
          {"dc000101", [1]},
          {"dd000000020102", [1, 2]},
          {"de0001a17801", %{"x" => 1}},
          {"df00000000", %{}},
          {"c8000107ff", %Ext{type: 7, data: <<255>>}},
          {"c900000000f0", %Ext{type: -16, data: ""}},
          {"ca3fc00000", 1.5},
          {"ca7f800000", {:f32, :infinity}},
          {"caff800000", {:f32, :neg_infinity}},
          {"ca7fc00000", {:f32, :nan}},
          {"cb7ff8000000000001", {:f64, :nan}},
          {"81c0c3", %{nil => true}},
          {"8201010102", %{1 => 2}}
        ],
        want != nil do
      assert Msgpack.decode(unhex(String.replace(h, " ", ""))) == {:ok, want}, h
    end
  end

  test "malformed input is refused with a reason, never a crash" do
    assert Msgpack.decode(<<0xC1>>) == {:error, {:reserved_byte, 0xC1}}
    assert Msgpack.decode(<<>>) == {:error, :truncated}
    assert Msgpack.decode(unhex("a361")) == {:error, :truncated}
    assert Msgpack.decode(unhex("cd01")) == {:error, :truncated}
    assert Msgpack.decode(unhex("c70307aa")) == {:error, :truncated}
    # Declared sizes far beyond the input are refused before allocating anything.
    assert Msgpack.decode(unhex("ddffffffff")) == {:error, :truncated}
    assert Msgpack.decode(unhex("dfffffffff")) == {:error, :truncated}
    assert Msgpack.decode(unhex("dbffffffff")) == {:error, :truncated}
    assert Msgpack.decode(unhex("0102")) == {:error, {:trailing_bytes, 1}}

    assert Msgpack.decode(unhex("92 01 c1" |> String.replace(" ", ""))) ==
             {:error, {:reserved_byte, 0xC1}}

    assert {:error, {:unencodable, 18_446_744_073_709_551_616}} =
             Msgpack.encode(18_446_744_073_709_551_616)

    assert {:error, {:unencodable, -9_223_372_036_854_775_809}} =
             Msgpack.encode(-9_223_372_036_854_775_809)

    assert {:error, {:unencodable, {1, 2}}} = Msgpack.encode([{1, 2}])
    assert {:error, {:unencodable, _}} = Msgpack.encode(<<1::3>>)
    assert {:error, {:unencodable, _}} = Msgpack.encode(self())
  end

  test "nesting limit: 512 containers decode, 513 do not (decode and skip)" do
    ok = :binary.copy(<<0x91>>, 511) <> <<0x90>>
    deep = :binary.copy(<<0x91>>, 512) <> <<0x90>>
    assert {:ok, _} = Msgpack.decode(ok)
    assert Msgpack.skip(ok) == {:ok, 512}
    assert Msgpack.decode(deep) == {:error, :too_deep}
    assert Msgpack.skip(deep) == {:error, :too_deep}
    assert {:ok, _} = Msgpack.decode(deep, max_depth: 600)
    maps = :binary.copy(<<0x81, 0xA1, ?k>>, 513) <> <<0xC0>>
    assert Msgpack.decode(maps) == {:error, :too_deep}
  end

  test "skip returns the length of exactly one object" do
    for {_term, h} <- @canonical do
      bin = unhex(h)
      assert Msgpack.skip(bin <> <<0xC0, 0xC3>>) == {:ok, byte_size(bin)}, h
    end

    for h <- ~w(d903616263 da0000 c50001ff dd000000020102 de0001a17801 c8000107ff
                c900000000f0 cb3fb999999999999a 93928101c0c3a0c0 82a161920102a162c0) do
      bin = unhex(h)
      assert Msgpack.skip(bin <> <<0x01>>) == {:ok, byte_size(bin)}, h
    end

    assert Msgpack.skip(unhex("92a161")) == {:error, :truncated}
    assert Msgpack.skip(unhex("d9")) == {:error, :truncated}
    assert Msgpack.skip(unhex("d905616263")) == {:error, :truncated}
    assert Msgpack.skip(unhex("ddffffffff01")) == {:error, :truncated}
    assert Msgpack.skip(<<0xC1>>) == {:error, {:reserved_byte, 0xC1}}
  end

  test "decode_map_spans keeps each value's bytes exactly as sent" do
    # {"id": 7, "ok": true, "found": true, "value": float32 1.5, "version": uint64}
    body =
      unhex(
        "85a26964 07 a26f6b c3 a5666f756e64 c3 a576616c7565 ca3fc00000"
        |> String.replace(" ", "")
      ) <>
        unhex("a776657273696f6e cf0000000000000001")

    assert {:ok, spans} = Msgpack.decode_map_spans(body)
    assert spans["value"] == unhex("ca3fc00000")
    assert spans["version"] == unhex("cf0000000000000001")
    assert spans["id"] == <<7>>
    assert Msgpack.decode_map_spans(<<0x91, 0x01>>) == {:error, :not_a_map}
    assert Msgpack.decode_map_spans(unhex("8101c0")) == {:error, :non_str_key}
    assert Msgpack.decode_map_spans(unhex("81a16101ff")) == {:error, {:trailing_bytes, 1}}
    assert Msgpack.decode_map_spans(unhex("82a16101")) == {:error, :truncated}
  end

  test "split_array slices elements byte-exact" do
    assert Msgpack.split_array(unhex("93cc05c0d903616263")) ==
             {:ok, [unhex("cc05"), <<0xC0>>, unhex("d903616263")]}

    assert Msgpack.split_array(unhex("dc0000")) == {:ok, []}
    assert Msgpack.split_array(unhex("9201")) == {:error, :truncated}
    assert Msgpack.split_array(unhex("81a16101")) == {:error, :not_an_array}
  end

  test "random terms round-trip (deterministic seed)" do
    :rand.seed(:exsss, {1, 2, 3})

    for _ <- 1..300 do
      term = gen(3)
      assert Msgpack.decode!(Msgpack.encode!(term)) === term
      bin = Msgpack.encode!(term)
      assert Msgpack.skip(bin) == {:ok, byte_size(bin)}
    end
  end

  defp gen(0), do: gen_scalar()

  defp gen(d) do
    case :rand.uniform(8) do
      1 -> for _ <- 1..:rand.uniform(5), do: gen(d - 1)
      2 -> Map.new(1..:rand.uniform(5), fn _ -> {gen_scalar_key(), gen(d - 1)} end)
      _ -> gen_scalar()
    end
  end

  defp gen_scalar_key, do: Enum.random([gen_int(), "k#{:rand.uniform(1000)}"])

  defp gen_scalar do
    case :rand.uniform(9) do
      1 -> nil
      2 -> :rand.uniform(2) == 1
      3 -> gen_int()
      4 -> :rand.normal() * 1.0e6
      5 -> :crypto.strong_rand_bytes(:rand.uniform(40)) |> Base.encode64()
      6 -> %Bin{data: :crypto.strong_rand_bytes(:rand.uniform(300) - 1)}
      7 -> %Ext{type: :rand.uniform(256) - 129, data: :crypto.strong_rand_bytes(:rand.uniform(20))}
      8 -> "ünï¢ødé 😀 #{:rand.uniform(100)}"
      9 -> []
    end
  end

  defp gen_int do
    Enum.random([
      :rand.uniform(200) - 100,
      :rand.uniform(1 <<< 64) - 1,
      -:rand.uniform(1 <<< 63),
      :rand.uniform(70_000)
    ])
  end
end
