defmodule LiteStash.StreamsTest do
  @moduledoc "The stream ops (xadd ... xoffset) against the real engine (fresh temp data dirs)."
  use ExUnit.Case, async: true

  alias LiteStash.Entry
  alias LiteStash.Msgpack.{Bin, Ext}
  import LiteStash.TestHelpers

  setup do
    {pid, dir} = start_stash!()
    %{s: pid, dir: dir}
  end

  defp ids(entries), do: Enum.map(entries, & &1.id)

  defp append!(s, stream, n, opts \\ []) do
    for i <- 1..n do
      {:ok, %{entry_id: id}} = LiteStash.xadd(s, stream, %{"n" => i}, opts)
      id
    end
  end

  test "xadd/xget/xrange: native values, ids from 1, ts strictly increasing", %{s: s} do
    values = [
      %{"order" => 1, "sku" => "A-1"},
      [0.1, 0.5, 0.9],
      nil,
      "ünïcødé 😀",
      18_446_744_073_709_551_615,
      %Bin{data: <<0, 255>>},
      %Ext{type: 9, data: "abc"}
    ]

    added =
      for v <- values do
        assert {:ok, %{entry_id: id, ts: ts}} = LiteStash.xadd(s, "st:a", v)
        {id, ts}
      end

    assert Enum.map(added, &elem(&1, 0)) == Enum.to_list(1..7)
    tss = Enum.map(added, &elem(&1, 1))
    assert tss == Enum.sort(tss) and tss == Enum.uniq(tss)
    assert Enum.all?(tss, &(&1 > 1_700_000_000_000_000))

    assert {:ok, entries, false} = LiteStash.xrange(s, "st:a")
    assert Enum.map(entries, &{&1.id, &1.ts}) == added
    assert Enum.map(entries, & &1.value) === values
    assert [%Entry{id: 1, value: %{"order" => 1}} | _] = entries

    assert {:ok, [e3, nil, e1, e3, nil]} = LiteStash.xget(s, "st:a", [3, 99, 1, 3, 0])
    assert %Entry{id: 3, value: nil} = e3
    assert e1 == hd(entries)
    assert {:ok, []} = LiteStash.xget(s, "st:a", [])
    assert {:ok, [nil]} = LiteStash.xget(s, "no-such-stream", [1])
    assert {:ok, [], false} = LiteStash.xrange(s, "no-such-stream")
    assert {:ok, [], false} = LiteStash.xread(s, "no-such-stream", 0)

    # streams and keys are separate namespaces
    assert {:error, :not_found} = LiteStash.get(s, "st:a")
    assert :ok = LiteStash.set(s, "st:a", "a key")
    assert {:ok, 7} = LiteStash.xinfo(s, "st:a") |> then(fn {:ok, i} -> {:ok, i.length} end)
    assert :ok = LiteStash.clear(s)
    assert {:ok, %{exists: true, length: 7}} = LiteStash.xinfo(s, "st:a")
    assert {:error, {:unencodable, {1, 2}}} = LiteStash.xadd(s, "st:a", {1, 2})
  end

  test "raw variants keep the exact bytes (xadd_raw, xget_raw, xrange_raw, xread_raw)", %{s: s} do
    raws = ~w(cc05 ce00000007 ca3fc00000 d903616263 da0000 de0001a17801 dd000000020102
              c70307aabbcc d6ff00000000 c0 82a16101a162c0)

    for {h, i} <- Enum.with_index(raws, 1) do
      assert {:ok, %{entry_id: ^i}} = LiteStash.xadd_raw(s, "raw", unhex(h))
    end

    assert {:ok, got, false} = LiteStash.xrange_raw(s, "raw")
    assert Enum.map(got, &hex(&1.value)) == raws
    assert {:ok, got2, false} = LiteStash.xread_raw(s, "raw", 0)
    assert got2 == got
    assert {:ok, got3} = LiteStash.xget_raw(s, "raw", Enum.to_list(1..length(raws)) ++ [99])
    assert Enum.map(got3, &(&1 && hex(&1.value))) == raws ++ [nil]
    assert Enum.map(Enum.drop(got3, -1), & &1.ts) == Enum.map(got, & &1.ts)

    # decoded reads of the same entries
    assert {:ok, [%Entry{value: 5}, %Entry{value: 7}, %Entry{value: 1.5}, %Entry{value: "abc"}],
            true} = LiteStash.xrange(s, "raw", limit: 4)

    # refused locally: not exactly one object; nothing appended
    assert {:error, {:invalid_msgpack, {:trailing_bytes, 1}}} =
             LiteStash.xadd_raw(s, "raw", <<1, 2>>)

    assert {:error, {:invalid_msgpack, :truncated}} = LiteStash.xadd_raw(s, "raw", <<0x92, 1>>)
    assert {:ok, %{last_id: 11}} = LiteStash.xinfo(s, "raw")
  end

  test "xrange paging: after, before, limit, more", %{s: s} do
    append!(s, "p", 25)
    assert {:ok, page1, true} = LiteStash.xrange(s, "p", limit: 10)
    assert ids(page1) == Enum.to_list(1..10)
    assert {:ok, page2, true} = LiteStash.xrange(s, "p", after: 10, limit: 10)
    assert ids(page2) == Enum.to_list(11..20)
    assert {:ok, page3, false} = LiteStash.xrange(s, "p", after: 20, limit: 10)
    assert ids(page3) == Enum.to_list(21..25)
    assert {:ok, exact, false} = LiteStash.xrange(s, "p", after: 15, limit: 10)
    assert ids(exact) == Enum.to_list(16..25), "more is false when exactly limit are left"

    # backward with only `before`: the entries just below it, ascending
    assert {:ok, back, true} = LiteStash.xrange(s, "p", before: 21, limit: 5)
    assert ids(back) == Enum.to_list(16..20)
    assert {:ok, back2, false} = LiteStash.xrange(s, "p", before: 4, limit: 5)
    assert ids(back2) == [1, 2, 3]

    # after + before window
    assert {:ok, win, true} = LiteStash.xrange(s, "p", after: 5, before: 12, limit: 3)
    assert ids(win) == [6, 7, 8]
    assert {:ok, win2, false} = LiteStash.xrange(s, "p", after: 5, before: 12)
    assert ids(win2) == Enum.to_list(6..11)
    assert {:ok, [], false} = LiteStash.xrange(s, "p", after: 7, before: 8)
    assert {:ok, [], false} = LiteStash.xrange(s, "p", after: 9, before: 3)

    # default limit 100; xread pages the same way
    assert {:ok, all, false} = LiteStash.xrange(s, "p")
    assert length(all) == 25
    assert {:ok, r, true} = LiteStash.xread(s, "p", 22, limit: 2)
    assert ids(r) == [23, 24]
    assert {:ok, [%Entry{id: 25}], false} = LiteStash.xread(s, "p", 24)
    assert {:ok, [], false} = LiteStash.xread(s, "p", 25)
  end

  test "retention: maxlen and max_age_ms on xadd, xinfo, ids continue", %{s: s} do
    assert {:ok, %{exists: false, length: 0, groups: %{}, first_id: nil, last_ts: nil}} =
             LiteStash.xinfo(s, "r")

    append!(s, "r", 5, maxlen: 3)

    assert {:ok, info} = LiteStash.xinfo(s, "r")
    assert %{exists: true, length: 3, first_id: 3, last_id: 5, maxlen: 3, max_age_ms: nil} = info
    assert {:ok, kept, false} = LiteStash.xrange(s, "r")
    assert ids(kept) == [3, 4, 5]
    assert info.first_ts == hd(kept).ts and info.last_ts == List.last(kept).ts
    assert {:ok, [nil, nil, %Entry{id: 3}]} = LiteStash.xget(s, "r", [1, 2, 3])

    # each retention field separately; the last value given wins
    assert {:ok, %{entry_id: 6}} = LiteStash.xadd(s, "r", 6, max_age_ms: 2_592_000_000)
    assert {:ok, %{maxlen: 3, max_age_ms: 2_592_000_000, length: 3}} = LiteStash.xinfo(s, "r")
    assert {:ok, %{entry_id: 7}} = LiteStash.xadd(s, "r", 7, maxlen: 2)
    assert {:ok, %{maxlen: 2, length: 2, first_id: 6}} = LiteStash.xinfo(s, "r")

    # age retention removes old entries (at the next append here; also in the background)
    append!(s, "age", 3)
    Process.sleep(30)
    assert {:ok, %{entry_id: 4}} = LiteStash.xadd(s, "age", "new", max_age_ms: 20)
    assert {:ok, [%Entry{id: 4, value: "new"}], false} = LiteStash.xrange(s, "age")
  end

  test "xtrim: maxlen, min_id, max_age_ms, union; trimmed to nothing still exists", %{s: s} do
    append!(s, "t", 10)
    assert {:ok, 2} = LiteStash.xtrim(s, "t", min_id: 3)
    assert {:ok, %{first_id: 3, length: 8, maxlen: nil}} = LiteStash.xinfo(s, "t")
    assert {:ok, 3} = LiteStash.xtrim(s, "t", maxlen: 5)
    assert {:ok, %{first_id: 6, length: 5, maxlen: nil}} = LiteStash.xinfo(s, "t"), "not stored"
    assert {:ok, 0} = LiteStash.xtrim(s, "t", max_age_ms: 60_000)
    assert {:ok, 2} = LiteStash.xtrim(s, "t", maxlen: 4, min_id: 8)
    assert {:ok, 3} = LiteStash.xtrim(s, "t", max_age_ms: 0)

    assert {:ok, %{exists: true, length: 0, first_id: 11, last_id: 10, first_ts: nil}} =
             LiteStash.xinfo(s, "t")

    assert {:ok, %{entry_id: 11}} = LiteStash.xadd(s, "t", "after trim")
    assert {:ok, 0} = LiteStash.xtrim(s, "no-such-stream", maxlen: 0)
    assert {:error, {:bad_request, _}} = LiteStash.xtrim(s, "t", [])
    assert {:error, {:bad_request, _}} = LiteStash.xtrim(s, "t")
  end

  test "xdrop removes entries and offsets; a new stream restarts at 1", %{s: s} do
    append!(s, "d", 3)
    assert :ok = LiteStash.xcommit(s, "d", "g", 2)
    assert {:ok, true} = LiteStash.xdrop(s, "d")
    assert {:ok, false} = LiteStash.xdrop(s, "d")
    assert {:ok, %{exists: false}} = LiteStash.xinfo(s, "d")
    assert {:ok, nil} = LiteStash.xoffset(s, "d", "g")
    assert {:ok, %{entry_id: 1}} = LiteStash.xadd(s, "d", "again")
    assert {:ok, nil} = LiteStash.xoffset(s, "d", "g")
  end

  test "xstreams pages, xstreams_all, stream_names iterates lazily", %{s: s} do
    names = ["s:b", "s:a", "s:é", "s:~", "s:😀", "s:c", "t:1"]
    for n <- names, do: {:ok, _} = LiteStash.xadd(s, n, 0)

    assert {:ok, ["s:a", "s:b"], true} = LiteStash.xstreams(s, prefix: "s:", limit: 2)

    assert {:ok, ["s:c", "s:~", "s:é", "s:😀"], false} =
             LiteStash.xstreams(s, prefix: "s:", after: "s:b")

    assert {:ok, every, false} = LiteStash.xstreams(s)
    assert every == Enum.sort(names)
    assert {:ok, all} = LiteStash.xstreams_all(s, prefix: "s:", limit: 1)
    assert all == ["s:a", "s:b", "s:c", "s:~", "s:é", "s:😀"]

    lazy = LiteStash.stream_names(s, limit: 2)
    assert Enum.to_list(lazy) == Enum.sort(names)
    assert Enum.take(lazy, 3) == ["s:a", "s:b", "s:c"]
    assert LiteStash.stream_names(s, prefix: "s:", after: "s:é") |> Enum.to_list() == ["s:😀"]
    assert LiteStash.stream_names(s, prefix: "zz") |> Enum.to_list() == []
    assert :ok = LiteStash.clear(s)
    assert {:ok, ^every, false} = LiteStash.xstreams(s), "clear removes keys only"

    assert_raise LiteStash.Error, ~r/bad_request/, fn ->
      LiteStash.stream_names(s, limit: 0) |> Enum.to_list()
    end

    assert {:error, {:bad_request, _}} = LiteStash.xstreams_all(s, limit: 0)
  end

  test "offsets: xcommit, xoffset, xinfo groups; replay and 0 allowed", %{s: s} do
    append!(s, "o", 5)
    assert {:ok, nil} = LiteStash.xoffset(s, "o", "billing")
    assert :ok = LiteStash.xcommit(s, "o", "billing", 4)
    assert :ok = LiteStash.xcommit(s, "o", "audit", 0)
    assert :ok = LiteStash.xcommit(s, "o", "grüppe", 5)
    assert {:ok, 4} = LiteStash.xoffset(s, "o", "billing")
    assert {:ok, 0} = LiteStash.xoffset(s, "o", "audit")
    assert :ok = LiteStash.xcommit(s, "o", "billing", 2)
    assert {:ok, 2} = LiteStash.xoffset(s, "o", "billing"), "a commit may move backwards"

    assert {:ok, %{groups: %{"billing" => 2, "audit" => 0, "grüppe" => 5}}} =
             LiteStash.xinfo(s, "o")

    assert {:error, {:bad_request, _}} = LiteStash.xcommit(s, "o", "billing", 6), "past last_id"
    assert {:error, {:bad_request, _}} = LiteStash.xcommit(s, "nope", "billing", 0)
    assert {:ok, 2} = LiteStash.xoffset(s, "o", "billing")
    assert {:ok, nil} = LiteStash.xoffset(s, "nope", "billing")
    assert {:error, {:invalid_key, _}} = LiteStash.xcommit(s, "o", "", 1)
  end

  test "errors: names, types, ranges, wrong shard", %{s: s} do
    assert {:error, {:invalid_key, _}} = LiteStash.xadd(s, "", 1)
    assert {:error, {:invalid_key, _}} = LiteStash.xadd(s, String.duplicate("s", 1025), 1)
    assert {:error, {:invalid_key, _}} = LiteStash.xrange(s, <<0xFF>>)
    assert {:error, {:type_error, _}} = LiteStash.xadd(s, 5, 1)
    assert {:error, {:bad_request, _}} = LiteStash.xadd(s, "e", 1, maxlen: 0)
    assert {:error, {:bad_request, _}} = LiteStash.xadd(s, "e", 1, max_age_ms: 0)
    assert {:error, {:type_error, _}} = LiteStash.xadd(s, "e", 1, maxlen: -1)
    assert {:error, {:type_error, _}} = LiteStash.xget(s, "e", "1")
    assert {:error, {:type_error, _}} = LiteStash.xget(s, "e", [1, -1])
    assert {:error, {:bad_request, _}} = LiteStash.xrange(s, "e", limit: 0)
    assert {:error, {:bad_request, _}} = LiteStash.xrange(s, "e", limit: 10_001)
    assert {:error, {:type_error, _}} = LiteStash.xrange(s, "e", after: "x")
    assert {:error, {:bad_request, _}} = LiteStash.xread(s, "e", 0, wait_ms: 60_001)
    assert {:error, {:type_error, _}} = LiteStash.xread(s, "e", -1)
    assert {:error, {:wrong_shard, _}} = LiteStash.xadd(s, "a", 1, shard: 2)
    assert {:error, {:wrong_shard, _}} = LiteStash.xinfo(s, "a", shard: 2)
    assert {:ok, %{exists: false}} = LiteStash.xinfo(s, "a"), "refused requests write nothing"
    assert {:error, {:bad_request, _}} = LiteStash.request(s, "xstreams", [{"stream", "a"}])

    # the low-level request routes streams like keys
    assert {:ok, %{"ok" => true, "entry_id" => 1}} =
             LiteStash.request(s, "xadd", [{"stream", "a"}, {"value", 1}])
  end

  test "a blocking xread is woken by an append from another process", %{s: s} do
    reader = Task.async(fn -> :timer.tc(fn -> LiteStash.xread(s, "w", 0, wait_ms: 10_000) end) end)
    Process.sleep(150)

    # the server keeps serving other callers while the read waits
    {us, :ok} = :timer.tc(fn -> LiteStash.ping(s) end)
    assert us < 1_000_000
    assert :ok = LiteStash.set(s, "k", 1)
    assert {:ok, 1} = LiteStash.get(s, "k")
    assert Task.yield(reader, 0) == nil, "still waiting"

    appender = Task.async(fn -> LiteStash.xadd(s, "w", "wake up") end)
    assert {:ok, %{entry_id: 1}} = Task.await(appender)
    {waited, result} = Task.await(reader, 10_000)
    assert {:ok, [%Entry{id: 1, value: "wake up"}], false} = result
    assert waited < 5_000_000

    # entries already there: answered at once whatever wait_ms
    assert {:ok, [%Entry{id: 1}], false} = LiteStash.xread(s, "w", 0, wait_ms: 10_000)
  end

  test "a blocking xread times out empty; its timeout counts on top of wait_ms", %{s: s} do
    append!(s, "q", 2)
    {us, result} = :timer.tc(fn -> LiteStash.xread(s, "q", 2, wait_ms: 300, timeout: 100) end)
    assert {:ok, [], false} = result
    assert us >= 290_000 and us < 5_000_000

    # many parked readers do not hold up each other or the appender
    readers = for _ <- 1..20, do: Task.async(fn -> LiteStash.xread(s, "q", 2, wait_ms: 10_000) end)
    Process.sleep(100)
    assert {:ok, %{entry_id: 3}} = LiteStash.xadd(s, "q", "three")

    for r <- readers do
      assert {:ok, [%Entry{id: 3, value: "three"}], false} = Task.await(r, 10_000)
    end
  end

  test "an append by another engine process on the data dir wakes the read", %{s: s, dir: dir} do
    {other, ^dir} = start_stash!(data_dir: dir)
    reader = Task.async(fn -> LiteStash.xread(s, "x", 0, wait_ms: 10_000) end)
    Process.sleep(150)
    assert {:ok, %{entry_id: 1}} = LiteStash.xadd(other, "x", "from the other engine")
    assert {:ok, [%Entry{value: "from the other engine"}], false} = Task.await(reader, 10_000)
    assert {:ok, %{entry_id: 2}} = LiteStash.xadd(s, "x", "ids are shared")
    assert {:ok, %{last_id: 2}} = LiteStash.xinfo(other, "x")
  end

  test "streams and offsets survive a restart on the same data dir", %{s: s, dir: dir} do
    append!(s, "dur", 4, maxlen: 3)
    assert :ok = LiteStash.xcommit(s, "dur", "g", 3)
    assert {:ok, before, false} = LiteStash.xrange(s, "dur")
    assert :ok = LiteStash.stop(s)
    {s2, ^dir} = start_stash!(data_dir: dir)
    assert {:ok, ^before, false} = LiteStash.xrange(s2, "dur")
    assert {:ok, %{maxlen: 3, groups: %{"g" => 3}}} = LiteStash.xinfo(s2, "dur")
    assert {:ok, %{entry_id: 5}} = LiteStash.xadd(s2, "dur", 5)
  end
end

defmodule LiteStash.StreamsDefaultNameTest do
  @moduledoc "Every stream op in its default-server form (not async: the name is global)."
  use ExUnit.Case, async: false
  import LiteStash.TestHelpers
  alias LiteStash.Entry

  test "stream functions without a server use the process named LiteStash" do
    {:ok, _} =
      start_supervised({LiteStash, engine: engine!(), data_dir: tmp_dir!("dn"), log_level: "error"})

    assert {:ok, %{entry_id: 1}} = LiteStash.xadd("ev", %{"a" => 1})
    assert {:ok, %{entry_id: 2}} = LiteStash.xadd("ev", 2, maxlen: 10)
    assert {:ok, %{entry_id: 3}} = LiteStash.xadd_raw("ev", <<0xCC, 3>>)
    assert {:ok, %{entry_id: 4}} = LiteStash.xadd_raw("ev", <<4>>, max_age_ms: 60_000)
    assert {:ok, [%Entry{id: 1, value: %{"a" => 1}}, nil]} = LiteStash.xget("ev", [1, 9])
    assert {:ok, [%Entry{value: <<0xCC, 3>>}]} = LiteStash.xget_raw("ev", [3], timeout: 5000)
    assert {:ok, [_, _, _, _], false} = LiteStash.xrange("ev")
    assert {:ok, [%Entry{id: 2}], true} = LiteStash.xrange("ev", limit: 1, after: 1)

    assert {:ok, [%Entry{id: 1, value: <<0x81, _::binary>>}], true} =
             LiteStash.xrange_raw("ev", limit: 1)

    assert {:ok, [%Entry{id: 4}], false} = LiteStash.xrange_raw("ev", after: 3)
    assert {:ok, [_, _, _, _], false} = LiteStash.xread("ev", 0)
    assert {:ok, [], false} = LiteStash.xread("ev", 4, wait_ms: 50)
    assert {:ok, [%Entry{value: <<4>>}], false} = LiteStash.xread_raw("ev", 3)
    assert {:ok, [], false} = LiteStash.xread_raw("ev", 4, wait_ms: 10)
    assert {:ok, %{length: 4, maxlen: 10}} = LiteStash.xinfo("ev")
    assert {:ok, %{length: 4}} = LiteStash.xinfo("ev", timeout: 5000)
    assert :ok = LiteStash.xcommit("ev", "g", 2)
    assert :ok = LiteStash.xcommit("ev", "h", 1, timeout: 5000)
    assert {:ok, 2} = LiteStash.xoffset("ev", "g")
    assert {:ok, 1} = LiteStash.xoffset("ev", "h", timeout: 5000)
    assert {:ok, ["ev"], false} = LiteStash.xstreams()
    assert {:ok, ["ev"], false} = LiteStash.xstreams(prefix: "e")
    assert {:ok, ["ev"]} = LiteStash.xstreams_all()
    assert ["ev"] = LiteStash.stream_names() |> Enum.to_list()
    assert ["ev"] = LiteStash.stream_names(prefix: "e") |> Enum.to_list()

    # the consumer and the subscriber default to the server named LiteStash too
    drained = LiteStash.Consumer.stream("ev", "cg", wait_ms: 0, stop_when_idle: true)
    assert Enum.map(drained, & &1.id) == [1, 2, 3, 4]
    assert {:ok, 4} = LiteStash.xoffset("ev", "cg")
    assert [%Entry{id: 1}] = LiteStash.Consumer.stream("ev", "cg2") |> Enum.take(1)
    {:ok, sub} = LiteStash.Subscriber.start_link(stream: "ev", from: 4)
    assert_receive {:litestash_entry, "ev", %Entry{id: 4}}, 2_000
    :ok = LiteStash.Subscriber.stop(sub)

    assert {:ok, 1} = LiteStash.xtrim("ev", min_id: 2)
    assert {:ok, true} = LiteStash.xdrop("ev")
    assert {:ok, false} = LiteStash.xdrop("ev", timeout: 5000)
    assert "streams" in LiteStash.features()
    assert LiteStash.supports?("blocking_reads")
    assert LiteStash.keep_versions() == 0
  end
end
