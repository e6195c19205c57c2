defmodule LiteStash.ClientTest do
  @moduledoc "The LiteStash GenServer client against the real engine (fresh temp data dirs)."
  use ExUnit.Case, async: true

  alias LiteStash.Msgpack.{Bin, Ext}
  import LiteStash.TestHelpers

  setup do
    {pid, dir} = start_stash!()
    %{s: pid, dir: dir}
  end

  test "hello was checked on start: protocol 2, keep_versions, features", %{s: s} do
    info = LiteStash.info(s)
    assert info.hello["protocol"] == 2
    assert info.protocol == 2
    assert info.hello["hash"] == "blake2b-512"
    assert info.shards == 16
    assert is_integer(info.os_pid)
    assert info.keep_versions == 0
    assert LiteStash.keep_versions(s) == 0
    assert "streams" in info.features and "blocking_reads" in info.features
    assert LiteStash.features(s) == info.hello["features"]
    assert LiteStash.supports?(s, "streams")
    assert LiteStash.supports?(s, :blocking_reads)
    refute LiteStash.supports?(s, "no-such-feature")
    assert LiteStash.ping(s) == :ok
  end

  test "set/get of maps, vectors, scalars; maps come back with string keys", %{s: s} do
    assert :ok = LiteStash.set(s, "user:1001", %{name: "Alice", score: 99})
    assert {:ok, %{"name" => "Alice", "score" => 99}} = LiteStash.get(s, "user:1001")
    assert :ok = LiteStash.set(s, "vec:1", [0.1, 0.5, 0.9])
    assert {:ok, [0.1, 0.5, 0.9]} = LiteStash.get(s, "vec:1")

    values = [
      nil,
      true,
      false,
      0,
      -1,
      18_446_744_073_709_551_615,
      -9_223_372_036_854_775_808,
      1.5,
      "",
      "ünïcødé 😀",
      [],
      %{},
      %Bin{data: <<0, 255>>},
      %Ext{type: 9, data: "abc"},
      %{"nested" => [%{"a" => [1, 2, %{}]}]}
    ]

    for {v, i} <- Enum.with_index(values) do
      assert :ok = LiteStash.set(s, "v:#{i}", v)
      assert {:ok, got} = LiteStash.get(s, "v:#{i}")
      assert got === v
    end

    assert {:ok, 1.5} = (:ok = LiteStash.set(s, "f32", {:f32, 1.5})) && LiteStash.get(s, "f32")
    assert {:ok, <<0xCA, _::binary>>} = LiteStash.get_raw(s, "f32")
    assert {:error, :not_found} = LiteStash.get(s, "missing")
    assert {:error, :not_found} = LiteStash.get_raw(s, "missing")
    assert {:ok, nil} = LiteStash.get(s, "v:0"), "a stored nil is found"
  end

  test "raw bytes are returned exactly as written (get_raw, mget_raw)", %{s: s} do
    raws = ~w(cc05 ce00000007 ca3fc00000 d903616263 da0000 de0001a17801 dd000000020102
              c70307aabbcc d6ff00000000 c0)

    for {h, i} <- Enum.with_index(raws) do
      assert :ok = LiteStash.set_raw(s, "raw:#{i}", unhex(h))
      assert {:ok, got} = LiteStash.get_raw(s, "raw:#{i}")
      assert hex(got) == h
    end

    keys = for i <- 0..(length(raws) - 1), do: "raw:#{i}"
    assert {:ok, got} = LiteStash.mget_raw(s, keys ++ ["nope"])
    assert Enum.map(got, &(&1 && hex(&1))) == raws ++ [nil]
    assert {:ok, [5, 7, 1.5, "abc", "", %{"x" => 1}, [1, 2] | _]} = LiteStash.mget(s, keys)

    assert {:error, {:invalid_msgpack, {:trailing_bytes, 1}}} = LiteStash.set_raw(s, "k", <<1, 2>>)
    assert {:error, {:invalid_msgpack, :truncated}} = LiteStash.set_raw(s, "k", <<0x92, 1>>)
    assert {:error, {:invalid_msgpack, _}} = LiteStash.mset_raw(s, [{"k", <<0xC1>>}])
    assert {:error, :not_found} = LiteStash.get(s, "k"), "refused locally, nothing sent"
  end

  test "delete, exists, count, clear, sync", %{s: s} do
    assert {:ok, false} = LiteStash.exists(s, "d")
    assert :ok = LiteStash.set(s, "d", 1)
    assert {:ok, true} = LiteStash.exists(s, "d")
    assert {:ok, 1} = LiteStash.count(s)
    assert {:ok, true} = LiteStash.delete(s, "d")
    assert {:ok, false} = LiteStash.delete(s, "d")
    assert {:ok, false} = LiteStash.exists(s, "d")
    assert :ok = LiteStash.mset(s, %{"c1" => 1, "c2" => 2, "c3" => 3})
    assert {:ok, 3} = LiteStash.count(s)
    assert :ok = LiteStash.sync(s)
    assert :ok = LiteStash.clear(s)
    assert {:ok, 0} = LiteStash.count(s)
    assert {:error, :not_found} = LiteStash.get(s, "c1")
  end

  test "mset, mget (order, repeats, default), mdelete", %{s: s} do
    assert :ok = LiteStash.mset(s, [{"m:a", 1}, {"m:b", "two"}, {"m:c", [3]}])
    assert {:ok, [1, nil, "two", 1, [3]]} = LiteStash.mget(s, ["m:a", "zz", "m:b", "m:a", "m:c"])
    assert {:ok, [1, :none]} = LiteStash.mget(s, ["m:a", "zz"], default: :none)
    assert {:ok, []} = LiteStash.mget(s, [])
    assert :ok = LiteStash.mset(s, [])
    assert {:ok, 2} = LiteStash.mdelete(s, ["m:a", "m:b", "zz"])
    assert {:ok, 0} = LiteStash.mdelete(s, [])
    assert {:ok, [nil, nil, [3]]} = LiteStash.mget(s, ["m:a", "m:b", "m:c"])
  end

  test "scan pages in UTF-8 byte order; scan_all follows pages", %{s: s} do
    keys = ["p:b", "p:a", "p:é", "p:~", "p:😀", "p:c", "q:1"]
    assert :ok = LiteStash.mset(s, Enum.map(keys, &{&1, 0}))
    assert {:ok, ["p:a", "p:b"], true} = LiteStash.scan(s, prefix: "p:", limit: 2)

    assert {:ok, ["p:c", "p:~", "p:é", "p:😀"], false} =
             LiteStash.scan(s, prefix: "p:", after: "p:b")

    assert {:ok, all} = LiteStash.scan_all(s, prefix: "p:", limit: 1)
    assert all == ["p:a", "p:b", "p:c", "p:~", "p:é", "p:😀"]
    assert {:ok, every, false} = LiteStash.scan(s)
    assert every == Enum.sort(keys)
    assert {:ok, [], false} = LiteStash.scan(s, prefix: "nothing")
  end

  test "ttl, expire, persist and real expiry", %{s: s} do
    assert :ok = LiteStash.set(s, "t", "v", ttl_ms: 60_000)
    assert {:ok, ms} = LiteStash.ttl(s, "t")
    assert ms > 0 and ms <= 60_000
    assert {:ok, true} = LiteStash.persist(s, "t")
    assert {:ok, :infinity} = LiteStash.ttl(s, "t")
    assert {:ok, false} = LiteStash.persist(s, "t")
    assert {:ok, true} = LiteStash.expire(s, "t", 60_000)
    assert :ok = LiteStash.set(s, "t", "v2")
    assert {:ok, :infinity} = LiteStash.ttl(s, "t"), "set without ttl clears the expiry"
    assert {:error, :not_found} = LiteStash.ttl(s, "missing")
    assert {:ok, false} = LiteStash.expire(s, "missing", 1000)

    assert :ok = LiteStash.set(s, "short", 1, ttl_ms: 50)
    assert :ok = LiteStash.mset(s, [{"short2", 2}], ttl_ms: 50)
    Process.sleep(150)
    assert {:error, :not_found} = LiteStash.get(s, "short")
    assert {:ok, false} = LiteStash.exists(s, "short2")
    assert {:ok, 1} = LiteStash.count(s)
    assert {:ok, stats} = LiteStash.stats(s)
    assert length(stats["shards"]) == 16
    assert Enum.sum(Enum.map(stats["shards"], & &1["keys"])) >= 1
    assert Enum.sum(Enum.map(stats["shards"], & &1["pages_written"])) >= 1
  end

  test "typed engine errors", %{s: s} do
    assert {:error, {:invalid_key, m}} = LiteStash.set(s, "", 1)
    assert is_binary(m)
    assert {:error, {:invalid_key, _}} = LiteStash.get(s, String.duplicate("k", 1025))
    assert {:error, {:invalid_key, _}} = LiteStash.get(s, <<0xFF, 0xFE>>)
    assert {:error, {:invalid_key, _}} = LiteStash.mget(s, ["ok", ""])
    assert {:error, {:bad_request, _}} = LiteStash.set(s, "k", 1, ttl_ms: 0)
    assert {:error, {:type_error, _}} = LiteStash.set(s, "k", 1, ttl_ms: -5)
    assert {:error, {:type_error, _}} = LiteStash.expire(s, "k", "soon")
    assert {:error, {:bad_request, _}} = LiteStash.scan(s, limit: 0)
    assert {:error, {:wrong_shard, _}} = LiteStash.set(s, "a", 1, shard: 2)
    assert {:error, :not_found} = LiteStash.get(s, "a")
    assert {:error, {:unknown_op, _}} = LiteStash.request(s, "frobnicate", [])
    assert {:error, {:bad_request, _}} = LiteStash.request(s, "get", [{"key", "a"}, {"x", 1}])
    assert {:ok, %{"ok" => true, "found" => false}} = LiteStash.request(s, "get", [{"key", "a"}])
    assert {:error, {:unencodable, {1, 2}}} = LiteStash.set(s, "k", {1, 2})

    # Frame-level errors answer with id nil.
    assert {:ok, %{"ok" => false, "id" => nil, "error" => %{"code" => "bad_frame"}}} =
             LiteStash.send_frame(s, "")

    assert {:ok, %{"id" => nil, "error" => %{"code" => "bad_request"}}} =
             LiteStash.send_frame(s, <<0xC1>>)

    assert LiteStash.ping(s) == :ok, "still serving after the errors"
  end

  test "value_too_large and frame_too_large with small limits" do
    {s, _} = start_stash!(max_value_bytes: 100, max_frame_bytes: 1000)
    assert :ok = LiteStash.set(s, "small", String.duplicate("x", 50))
    assert {:error, {:value_too_large, _}} = LiteStash.set(s, "big", String.duplicate("x", 200))

    assert {:error, {:value_too_large, _}} =
             LiteStash.mset(s, [{"big", String.duplicate("x", 200)}])

    assert {:ok, %{"id" => nil, "error" => %{"code" => "frame_too_large"}}} =
             LiteStash.send_frame(s, :binary.copy(<<0>>, 5000))

    assert {:ok, "x" <> _} = LiteStash.get(s, "small")
    assert {:error, :not_found} = LiteStash.get(s, "big")
  end

  test "concurrent callers are matched by id", %{s: s} do
    results =
      1..400
      |> Task.async_stream(
        fn i ->
          key = "conc:#{rem(i, 50)}:#{i}"
          :ok = LiteStash.set(s, key, %{"i" => i, "pad" => String.duplicate("p", rem(i, 97))})
          {:ok, %{"i" => ^i}} = LiteStash.get(s, key)
          {:ok, true} = LiteStash.exists(s, key)
          i
        end,
        max_concurrency: 64,
        timeout: 30_000
      )
      |> Enum.map(fn {:ok, i} -> i end)

    assert Enum.sort(results) == Enum.to_list(1..400)
    assert {:ok, 400} = LiteStash.count(s)
  end

  test "data survives a restart on the same data dir", %{s: s, dir: dir} do
    assert :ok = LiteStash.set(s, "durable", [1, 2, 3])
    assert :ok = LiteStash.stop(s)
    refute Process.alive?(s)
    {s2, ^dir} = start_stash!(data_dir: dir)
    assert {:ok, [1, 2, 3]} = LiteStash.get(s2, "durable")
  end

  test "a call timing out answers {:error, :timeout}; the client keeps working", %{s: s} do
    os_pid = LiteStash.info(s).os_pid
    {_, 0} = System.cmd("kill", ["-STOP", "#{os_pid}"])

    try do
      assert {:error, :timeout} = LiteStash.ping(s, timeout: 200)
    after
      System.cmd("kill", ["-CONT", "#{os_pid}"])
    end

    assert :ok = LiteStash.ping(s)
  end

  test "engine killed: pending callers get {:engine_exited, status}, nobody hangs", %{s: s} do
    os_pid = LiteStash.info(s).os_pid
    ref = Process.monitor(s)
    # Freeze the engine so the requests below are surely pending when it dies.
    {_, 0} = System.cmd("kill", ["-STOP", "#{os_pid}"])
    tasks = for i <- 1..20, do: Task.async(fn -> LiteStash.get(s, "k#{i}", timeout: 20_000) end)
    Process.sleep(100)
    {_, 0} = System.cmd("kill", ["-KILL", "#{os_pid}"])

    for t <- tasks do
      assert {:error, {:engine_exited, status}} = Task.await(t, 10_000)
      assert status == 128 + 9
    end

    assert_receive {:DOWN, ^ref, :process, ^s, {:shutdown, {:engine_exited, 137}}}, 5_000
    assert {:error, :not_running} = LiteStash.get(s, "k1")
  end

  test "start failures are reported, not hung" do
    assert {:error, {:engine_not_found, _}} =
             LiteStash.start(engine: "/nonexistent/litestash-engine", name: nil)

    # An engine that exits before its hello: engine_death_test.exs (status 64 or :epipe).
  end

  test "default registered name: module functions without a server" do
    dir = tmp_dir!("named")
    name = :"litestash_named_#{System.unique_integer([:positive])}"
    # The registered-name variant, then the real default name in a linked, supervised process.
    {:ok, _} =
      start_supervised(
        {LiteStash, engine: engine!(), data_dir: dir, name: name, log_level: "error"}
      )

    assert :ok = LiteStash.set(name, "n", 1)
    assert {:ok, 1} = LiteStash.get(name, "n")
  end
end

defmodule LiteStash.DefaultNameTest do
  @moduledoc "The default name `LiteStash` (not async: the name is global)."
  use ExUnit.Case, async: false
  import LiteStash.TestHelpers

  test "module functions work against the default server" do
    {:ok, _} =
      start_supervised(
        {LiteStash, engine: engine!(), data_dir: tmp_dir!("default"), log_level: "error"}
      )

    assert :ok = LiteStash.set("user:1001", %{name: "Alice", score: 99})
    assert {:ok, %{"name" => "Alice", "score" => 99}} = LiteStash.get("user:1001")
    assert :ok = LiteStash.set("vec:1", [0.1, 0.5, 0.9], ttl_ms: 60_000)
    assert {:ok, true} = LiteStash.exists("vec:1")
    assert {:ok, [%{"name" => "Alice", "score" => 99}, nil]} = LiteStash.mget(["user:1001", "x"])
    assert {:ok, ["user:1001", "vec:1"], false} = LiteStash.scan()
    assert {:ok, 2} = LiteStash.count()
    assert {:ok, true} = LiteStash.delete("vec:1")
    assert :ok = LiteStash.ping()
  end

  test "versions, conditional writes, transactions, compact and backup without a server" do
    alias LiteStash.Txn

    {:ok, _} =
      start_supervised(
        {LiteStash,
         engine: engine!(), data_dir: tmp_dir!("default2"), log_level: "error", keep_versions: 5}
      )

    assert LiteStash.keep_versions() == 5
    assert {:ok, v1} = LiteStash.set_versioned("c", 1)
    assert {:ok, v2} = LiteStash.set_versioned("c", 2, if_version: v1)

    assert {:error, {:conflict, _, %{version: ^v2, key: "c"}}} =
             LiteStash.set("c", 3, if_version: v1)

    assert :ok = LiteStash.set("c", 3, if_version: v2)
    assert {:ok, 3, v3} = LiteStash.get_versioned("c")
    assert {:ok, 1} = LiteStash.get("c", version: v1)
    assert {:ok, 2, ^v2} = LiteStash.get_versioned("c", version: v2)
    assert {:ok, [{^v3, false}, {^v2, false}, {^v1, false}], false} = LiteStash.versions("c")
    assert {:ok, [{^v3, false}], true} = LiteStash.versions("c", limit: 1)

    assert [{^v2, false}, {^v1, false}] =
             LiteStash.versions_stream("c", before: v3) |> Enum.to_list()

    assert {:ok, [_, _, _]} = LiteStash.versions_all("c")
    assert {:ok, 4, v4} = LiteStash.update("c", &(&1 + 1))
    assert {:ok, 5, v5} = LiteStash.update("c", &(&1 + 1), max_attempts: 1)

    assert {:error, {:conflict, _, %{key: "c", version: ^v5}}} =
             Txn.new() |> Txn.check("c", 0) |> Txn.set("d", 1) |> LiteStash.commit()

    assert {:ok, [_, 1]} = LiteStash.commit(Txn.new() |> Txn.set("d", 1) |> Txn.xadd("s", 1))
    assert {:ok, [true]} = LiteStash.commit(Txn.new() |> Txn.delete("d"), timeout: 10_000)
    assert {:ok, [false]} = Txn.new() |> Txn.delete("d") |> Txn.commit()
    assert {:error, {:conflict, _, _}} = LiteStash.delete("c", if_version: v4)
    assert {:ok, %{versions_removed: removed}} = LiteStash.compact(keep_versions: 1)
    assert removed > 0
    assert {:ok, %{steps: _}} = LiteStash.compact()
    target = Path.join(tmp_dir!("default-bk"), "copy")
    assert {:ok, %{shards: 16}} = LiteStash.backup(target)
    assert {:error, {:bad_request, _}} = LiteStash.backup(target, timeout: 30_000)
  end
end
