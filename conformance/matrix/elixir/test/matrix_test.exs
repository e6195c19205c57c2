defmodule LiteStash.DatasetTest do
  @moduledoc "dataset.json: native Elixir encoding and a write/read round trip through the engine."
  use ExUnit.Case, async: true
  alias LiteStash.Msgpack
  alias LiteStash.Matrix.Vectors

  defp hex(bin), do: Base.encode16(bin, case: :lower)
  defp unhex(hex), do: Base.decode16!(hex, case: :mixed)

  defp tmp_dir!(tag) do
    dir =
      Path.join(
        System.tmp_dir!(),
        "litestash-ex-matrix-#{tag}-#{System.os_time(:nanosecond)}-" <>
          "#{System.unique_integer([:positive])}"
      )

    File.mkdir_p!(dir)
    on_exit(fn -> File.rm_rf!(dir) end)
    dir
  end

  test "native encoding of every dataset description gives value_hex exactly" do
    for e <- Vectors.load!("dataset")["entries"] do
      assert hex(Msgpack.encode!(Vectors.native(e["json"]))) == e["value_hex"], e["key"]
      assert Msgpack.decode!(unhex(e["value_hex"])) === Vectors.expected(e["json"]), e["key"]
    end
  end

  test "matrix write then verify on one data dir" do
    import ExUnit.CaptureIO
    dir = tmp_dir!("matrix")
    n = length(Vectors.load!("dataset")["entries"])
    streams = Vectors.load!("streams")["streams"]
    live = streams |> Enum.map(& &1["length"]) |> Enum.sum()
    streams_line = "verify OK #{length(streams)} streams #{live} entries"
    {h, t} = LiteStash.Matrix.History.counts(LiteStash.Matrix.History.load!())

    out = capture_io(fn -> assert LiteStash.Matrix.main(["write", dir]) == 0 end)
    assert out =~ ~r/^write OK #{n} keys/
    assert out =~ ~r/^write OK #{length(streams)} streams /m
    assert out =~ ~r/^write OK \d+ history steps \(3 conflicts as expected\), #{t} txns/m

    assert capture_io(fn -> assert LiteStash.Matrix.main(["verify", dir]) == 0 end) ==
             "verify OK #{n} keys\n#{streams_line}\nverify OK #{h} histories #{t} txns\n"

    # verify can fail: change one entry and expect a non-zero status naming the key
    {:ok, s} = LiteStash.start(data_dir: dir, name: nil, log_level: "error")

    on_exit(fn ->
      try do
        if Process.alive?(s), do: LiteStash.stop(s)
      catch
        :exit, _ -> :ok
      end
    end)

    :ok = LiteStash.set(s, "ds:int:zero", 1)
    :ok = LiteStash.stop(s)

    err =
      capture_io(:stderr, fn ->
        capture_io(fn -> assert LiteStash.Matrix.main(["verify", dir]) == 1 end)
      end)

    assert err =~ "ds:int:zero"
  end

  test "verify notices stream changes: an entry, an offset, a retention, an extra stream" do
    import ExUnit.CaptureIO
    [first | _] = streams = Vectors.load!("streams")["streams"]
    name = first["stream"]
    group = first["groups"] |> Map.keys() |> Enum.sort() |> hd()

    changes = [
      {fn s -> {:ok, _} = LiteStash.xadd(s, name, "extra") end, "xrange ids"},
      {fn s -> :ok = LiteStash.xcommit(s, name, group, 0) end, "xoffset #{inspect(group)}"},
      {fn s -> {:ok, _} = LiteStash.xtrim(s, name, maxlen: 1) end, "xrange ids"},
      {fn s -> {:ok, _} = LiteStash.xadd(s, "zz:not-in-the-file", 1) end, "xstreams lists"}
    ]

    for {change, complaint} <- changes do
      dir = tmp_dir!("matrix-streams")
      capture_io(fn -> assert LiteStash.Matrix.main(["write", dir]) == 0 end)
      {:ok, s} = LiteStash.start(data_dir: dir, name: nil, log_level: "error")
      change.(s)
      :ok = LiteStash.stop(s)

      {out, err} =
        with_io(:stderr, fn ->
          capture_io(fn -> assert LiteStash.Matrix.main(["verify", dir]) == 1 end)
        end)

      refute out =~ "streams", "no streams OK line after a change (#{complaint})"
      assert err =~ complaint
      if complaint != "xstreams lists", do: assert(err =~ inspect(name))
    end

    assert length(streams) >= 1
  end

  test "verify notices history changes: a version more, a failed txn's key, a stream entry" do
    import ExUnit.CaptureIO

    changes = [
      {fn s -> {:ok, _} = LiteStash.set_versioned(s, "h:counter", -5) end, ~s(history "h:counter")},
      {fn s -> :ok = LiteStash.set(s, "h:acct:new", "must not exist") end,
       ~s(txn "stale-transfer")},
      {fn s -> {:ok, _} = LiteStash.xadd(s, "h:events", 1) end, ~s(history stream "h:events")},
      {fn s -> {:ok, true} = LiteStash.delete(s, "h:many") end, ~s(history "h:many")}
    ]

    for {change, complaint} <- changes do
      dir = tmp_dir!("matrix-history")
      capture_io(fn -> assert LiteStash.Matrix.main(["write", dir]) == 0 end)
      {:ok, s} = LiteStash.start(data_dir: dir, name: nil, log_level: "error")
      change.(s)
      :ok = LiteStash.stop(s)

      {out, err} =
        with_io(:stderr, fn ->
          capture_io(fn -> assert LiteStash.Matrix.main(["verify", dir]) == 1 end)
        end)

      refute out =~ "histories", "no histories OK line after a change (#{complaint})"
      assert err =~ complaint
    end
  end

  test "history.json: native encodings and descriptions agree" do
    doc = LiteStash.Matrix.History.load!()

    for k <- doc["keys"], v <- k["versions"], not v["deleted"] do
      assert Msgpack.decode!(unhex(v["value_hex"])) === Vectors.expected(v["json"]), k["key"]
    end

    assert Enum.count(doc["steps"], &(&1["op"] == "txn")) >= 3
  end
end
