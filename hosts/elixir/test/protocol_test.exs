defmodule LiteStash.ProtocolTest do
  @moduledoc """
  The `hello` handshake (protocols 1 and 2 accepted, anything else refused) and the shape of
  `conflict` errors, against a scripted stand-in engine (`LiteStash.FakeEngine`): this engine
  build never sends `conflict`, and always answers protocol 2.
  """
  use ExUnit.Case, async: true

  import LiteStash.TestHelpers
  alias LiteStash.FakeEngine

  defp start_fake!(answers) do
    script = FakeEngine.script!(tmp_dir!("fake"), answers)
    result = LiteStash.start(engine: script, name: nil, log_level: nil)

    with {:ok, pid} <- result do
      on_exit(fn ->
        try do
          if Process.alive?(pid), do: LiteStash.stop(pid)
        catch
          :exit, _ -> :ok
        end
      end)
    end

    result
  end

  test "protocol 1 is accepted (no keep_versions, no features: 0 and [])" do
    {:ok, s} = start_fake!([FakeEngine.hello(1)])
    info = LiteStash.info(s)
    assert info.protocol == 1
    assert info.keep_versions == 0
    assert info.features == []
    refute LiteStash.supports?(s, "streams")
  end

  test "protocol 2: keep_versions (0xffffffff is :all) and features are exposed" do
    hello = FakeEngine.hello(2, %{"keep_versions" => 0xFFFFFFFF, "features" => ["streams", "cas"]})
    {:ok, s} = start_fake!([hello])
    assert LiteStash.keep_versions(s) == :all
    assert LiteStash.features(s) == ["streams", "cas"]
    assert LiteStash.supports?(s, "cas")

    {:ok, s2} = start_fake!([FakeEngine.hello(2, %{"keep_versions" => 3, "features" => []})])
    assert LiteStash.keep_versions(s2) == 3
  end

  test "any other protocol is refused" do
    for p <- [0, 3, 17, "2", nil] do
      assert {:error, {:incompatible_engine, %{"protocol" => ^p}}} =
               start_fake!([FakeEngine.hello(p)])
    end

    assert {:error, {:incompatible_engine, _}} =
             start_fake!([Map.delete(FakeEngine.hello(2), "protocol")])

    assert {:error, {:incompatible_engine, _}} =
             start_fake!([FakeEngine.hello(2, %{"hash" => "sha256"})])
  end

  test "conflict errors carry version and key" do
    conflict = fn id, extra ->
      %{
        "id" => id,
        "ok" => false,
        "error" => Map.merge(%{"code" => "conflict", "message" => "version mismatch"}, extra)
      }
    end

    {:ok, s} =
      start_fake!([
        FakeEngine.hello(2),
        conflict.(1, %{"version" => 1_796_000_000_000_001}),
        conflict.(2, %{"version" => 0}),
        conflict.(3, %{"version" => 42, "key" => "other"}),
        %{"id" => 4, "ok" => false, "error" => %{"code" => "wrong_shard", "message" => "m"}}
      ])

    # single-key writes: the engine sends version only; the key is the request's
    assert {:error, {:conflict, "version mismatch", %{version: 1_796_000_000_000_001, key: "k"}}} =
             LiteStash.set(s, "k", 1)

    assert {:error, {:conflict, _, %{version: 0, key: "gone"}}} = LiteStash.delete(s, "gone")

    # a transaction: the engine names the key whose check failed
    assert {:error, {:conflict, "version mismatch", %{version: 42, key: "other"}}} =
             LiteStash.request(s, "txn", [{"ops", []}])

    # other errors keep their two-element form
    assert {:error, {:wrong_shard, "m"}} = LiteStash.get(s, "x")
  end

  test "LiteStash.Error.from_wire" do
    alias LiteStash.Error
    assert Error.from_wire(%{"code" => "bad_request", "message" => "m"}) == {:bad_request, "m"}
    assert Error.from_wire(%{"code" => "new_code", "message" => "m"}) == {"new_code", "m"}

    assert Error.from_wire(%{"code" => "conflict", "message" => "m", "version" => 5}) ==
             {:conflict, "m", %{version: 5, key: nil}}

    assert Error.from_wire(%{"code" => 5}) == nil
    assert Exception.message(%Error{reason: {:bad_request, "m"}}) =~ "bad_request"
  end
end
