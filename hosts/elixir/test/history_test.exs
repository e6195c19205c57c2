defmodule LiteStash.HistoryTest do
  @moduledoc """
  Key history (`--keep-versions`, `versions/3`, `get/3` with `version:`), `compact/2` and
  `backup/3` against the real engine.
  """
  use ExUnit.Case, async: true

  alias LiteStash.{Entry, Txn}
  import LiteStash.TestHelpers

  defp write_all!(s, key, values),
    do: for(v <- values, do: elem({:ok, _} = LiteStash.set_versioned(s, key, v), 1))

  describe "keep_versions: 3" do
    setup do
      {pid, dir} = start_stash!(keep_versions: 3)
      %{s: pid, dir: dir}
    end

    test "hello reports the depth", %{s: s} do
      assert LiteStash.keep_versions(s) == 3
      assert LiteStash.info(s).hello["keep_versions"] == 3
    end

    test "versions: current first, the 3 newest superseded kept, tombstones flagged", %{s: s} do
      [v1, v2, v3, v4] = write_all!(s, "doc", ["a", "b", "c", "d"])

      assert {:ok, [{^v4, false}, {^v3, false}, {^v2, false}, {^v1, false}], false} =
               LiteStash.versions(s, "doc")

      for {v, value} <- [{v1, "a"}, {v2, "b"}, {v3, "c"}, {v4, "d"}] do
        assert {:ok, ^value} = LiteStash.get(s, "doc", version: v)
        assert {:ok, ^value, ^v} = LiteStash.get_versioned(s, "doc", version: v)
      end

      # a delete records a tombstone of its own version; the oldest version drops out
      assert {:ok, true} = LiteStash.delete(s, "doc")
      assert {:ok, [{tomb, true}, {^v4, false}, {^v3, false}], false} = LiteStash.versions(s, "doc")
      assert tomb > v4
      assert {:error, :not_found} = LiteStash.get(s, "doc")
      assert {:error, :not_found} = LiteStash.get(s, "doc", version: tomb), "a tombstone"
      assert {:error, :not_found} = LiteStash.get(s, "doc", version: v2), "trimmed"
      assert {:ok, "d"} = LiteStash.get(s, "doc", version: v4)
      assert {:ok, <<0xA1, "c">>} = LiteStash.get_raw(s, "doc", version: v3)

      # written again: the current version leads again
      [v6] = write_all!(s, "doc", ["f"])

      assert {:ok, [{^v6, false}, {^tomb, true}, {^v4, false}, {^v3, false}], false} =
               LiteStash.versions(s, "doc")

      # a conditional write against a kept (not current) version is still a conflict
      assert {:error, {:conflict, _, %{version: ^v6}}} =
               LiteStash.set(s, "doc", "x", if_version: v4)

      # absent key, no history
      assert {:ok, [], false} = LiteStash.versions(s, "never")
      assert {:error, {:invalid_key, _}} = LiteStash.versions(s, "")
    end

    test "paging: limit, before, more; versions_stream and versions_all", %{s: s} do
      vs = write_all!(s, "p", [1, 2, 3, 4]) |> Enum.reverse()
      assert {:ok, page1, true} = LiteStash.versions(s, "p", limit: 3)
      assert Enum.map(page1, &elem(&1, 0)) == Enum.take(vs, 3)
      {last, false} = List.last(page1)
      assert {:ok, [{v, false}], false} = LiteStash.versions(s, "p", before: last, limit: 3)
      assert v == List.last(vs)
      assert {:ok, page, false} = LiteStash.versions(s, "p", limit: 4)
      assert length(page) == 4, "more is false when exactly limit are left"
      assert {:ok, [], false} = LiteStash.versions(s, "p", before: List.last(vs))

      all = Enum.map(vs, &{&1, false})
      assert LiteStash.versions_stream(s, "p", limit: 1) |> Enum.to_list() == all
      assert LiteStash.versions_stream(s, "p", limit: 3) |> Enum.take(2) == Enum.take(all, 2)

      assert LiteStash.versions_stream(s, "p", before: Enum.at(vs, 1)) |> Enum.to_list() ==
               Enum.drop(all, 2)

      assert {:ok, ^all} = LiteStash.versions_all(s, "p", limit: 2)
      assert {:ok, ^all} = LiteStash.versions_all(s, "p")
      assert {:ok, []} = LiteStash.versions_all(s, "none")

      assert {:error, {:bad_request, _}} = LiteStash.versions(s, "p", limit: 0)
      assert {:error, {:bad_request, _}} = LiteStash.versions_all(s, "p", limit: 10_001)

      assert_raise LiteStash.Error, ~r/invalid_key/, fn ->
        LiteStash.versions_stream(s, "") |> Enum.to_list()
      end
    end

    test "an expired key has no history", %{s: s} do
      write_all!(s, "e", [1, 2])
      :ok = LiteStash.set(s, "e", 3, ttl_ms: 30)
      assert {:ok, [_, _, _], false} = LiteStash.versions(s, "e")
      Process.sleep(80)
      assert {:ok, [], false} = LiteStash.versions(s, "e")
    end

    test "transactions and mdelete/clear keep history too", %{s: s} do
      [v1] = write_all!(s, "t", [1])
      {:ok, [v2]} = Txn.new() |> Txn.check("t", v1) |> Txn.set("t", 2) |> LiteStash.commit(s)
      {:ok, [true]} = Txn.new() |> Txn.delete("t") |> LiteStash.commit(s)
      assert {:ok, [{tomb, true}, {^v2, false}, {^v1, false}], false} = LiteStash.versions(s, "t")
      assert tomb > v2

      write_all!(s, "m", [1])
      assert {:ok, 1} = LiteStash.mdelete(s, ["m"])
      assert {:ok, [{_, true}, {_, false}], false} = LiteStash.versions(s, "m")
    end

    test "compact: keep_versions for one run trims history, the recorded depth stays",
         %{s: s} do
      for k <- ~w(c1 c2 c3), do: write_all!(s, k, Enum.to_list(1..5))
      assert {:ok, [_, _, _, _], false} = LiteStash.versions(s, "c1")

      assert {:ok, r} = LiteStash.compact(s, keep_versions: 1)

      assert %{
               versions_removed: 6,
               expired_removed: expired,
               entries_removed: 0,
               bytes_reclaimed: bytes,
               steps: steps,
               max_step_us: max_us
             } = r

      assert is_integer(expired) and is_integer(bytes) and is_integer(max_us)
      assert steps >= 16, "at least one step per shard"

      for k <- ~w(c1 c2 c3) do
        assert {:ok, [{_, false}, {_, false}], false} = LiteStash.versions(s, k)
        assert {:ok, 5} = LiteStash.get(s, k)
      end

      # the recorded depth (3) applies again to the next writes
      write_all!(s, "c1", [6, 7, 8])
      assert {:ok, [_, _, _, _], false} = LiteStash.versions(s, "c1")
      assert {:ok, %{versions_removed: 0}} = LiteStash.compact(s)
      assert {:ok, %{versions_removed: 0}} = LiteStash.compact(s, keep_versions: :all)
      # c1 keeps 3 superseded versions, c2 and c3 one each
      assert {:ok, %{versions_removed: 5}} = LiteStash.compact(s, keep_versions: 0)
      for k <- ~w(c1 c2 c3), do: assert({:ok, [{_, false}], false} = LiteStash.versions(s, k))
      assert {:error, {:type_error, _}} = LiteStash.compact(s, keep_versions: -1)
    end
  end

  test "keep_versions: :all keeps every version; hello says :all" do
    {s, _} = start_stash!(keep_versions: :all)
    assert LiteStash.keep_versions(s) == :all
    vs = write_all!(s, "all", Enum.to_list(1..30))
    assert {:ok, all} = LiteStash.versions_all(s, "all", limit: 7)
    assert all == vs |> Enum.reverse() |> Enum.map(&{&1, false})
    assert {:ok, 1} = LiteStash.get(s, "all", version: hd(vs))
  end

  test "--keep-versions through engine_args; the depth is recorded in the data dir" do
    {s, dir} = start_stash!()
    assert LiteStash.keep_versions(s) == 0
    [_, v2] = write_all!(s, "k", [1, 2])
    assert {:ok, [{^v2, false}], false} = LiteStash.versions(s, "k")
    :ok = LiteStash.stop(s)

    {s2, ^dir} = start_stash!(data_dir: dir, engine_args: ["--keep-versions", "2"])
    assert LiteStash.keep_versions(s2) == 2
    [v3, v4, v5] = write_all!(s2, "k", [3, 4, 5])
    assert {:ok, [{^v5, false}, {^v4, false}, {^v3, false}], false} = LiteStash.versions(s2, "k")
    :ok = LiteStash.stop(s2)

    # restarted without the flag, the data dir keeps its recorded depth
    {s3, ^dir} = start_stash!(data_dir: dir)
    assert LiteStash.keep_versions(s3) == 2
    assert {:ok, 3} = LiteStash.get(s3, "k", version: v3)
  end

  test "compact removes expired keys, aged stream entries and gives back space" do
    {s, _} = start_stash!()
    big = String.duplicate("x", 20_000)
    :ok = LiteStash.mset(s, for(i <- 1..200, do: {"big:#{i}", big}))
    :ok = LiteStash.mset(s, for(i <- 1..20, do: {"exp:#{i}", i}), ttl_ms: 20)
    for i <- 1..5, do: {:ok, _} = LiteStash.xadd(s, "aged", i, max_age_ms: 50)
    {:ok, 200} = LiteStash.mdelete(s, for(i <- 1..200, do: "big:#{i}"))
    Process.sleep(100)

    assert {:ok, r} = LiteStash.compact(s, timeout: :infinity)
    # the background sweeper (every 500 ms) may have got to some of them first; after compact
    # none is left either way
    assert r.expired_removed in 0..20
    assert r.entries_removed in 0..5
    assert r.bytes_reclaimed > 2_000_000, "the deleted 4 MB went back to the file system"
    assert {:ok, 0} = LiteStash.count(s)
    assert {:ok, %{exists: true, length: 0, last_id: 5}} = LiteStash.xinfo(s, "aged")
  end

  describe "backup" do
    setup do
      {pid, dir} = start_stash!(keep_versions: 2)
      %{s: pid, dir: dir}
    end

    test "copies the data dir; a new connection on the copy has the data", %{s: s} do
      [_, v2] = write_all!(s, "doc", ["a", "b"])
      :ok = LiteStash.mset(s, for(i <- 1..50, do: {"k:#{i}", %{"i" => i}}))
      :ok = LiteStash.set(s, "ttl", "t", ttl_ms: 3_600_000)
      {:ok, [_, 1]} = Txn.new() |> Txn.set("tx", 1) |> Txn.xadd("log", "e1") |> LiteStash.commit(s)
      :ok = LiteStash.xcommit(s, "log", "g", 1)

      target = Path.join([tmp_dir!("bk"), "nested", "parents", "copy"])
      assert {:ok, %{shards: 16, bytes: bytes}} = LiteStash.backup(s, target)
      assert bytes > 0

      # written after the backup: not in it
      :ok = LiteStash.set(s, "late", 1)

      shard_files = target |> File.ls!() |> Enum.filter(&String.ends_with?(&1, ".db"))
      assert length(shard_files) == 16

      {copy, ^target} = start_stash!(data_dir: target)
      assert LiteStash.keep_versions(copy) == 2
      assert {:ok, 53} = LiteStash.count(copy)
      assert {:ok, "b", ^v2} = LiteStash.get_versioned(copy, "doc")
      assert {:ok, versions} = LiteStash.versions_all(s, "doc")
      assert {:ok, ^versions} = LiteStash.versions_all(copy, "doc")
      assert {:ok, "a"} = LiteStash.get(copy, "doc", version: versions |> List.last() |> elem(0))
      assert {:ok, %{"i" => 17}} = LiteStash.get(copy, "k:17")
      assert {:ok, ms} = LiteStash.ttl(copy, "ttl")
      assert is_integer(ms)
      assert {:ok, 1} = LiteStash.get(copy, "tx")
      assert {:ok, [%Entry{id: 1, value: "e1"}], false} = LiteStash.xrange(copy, "log")
      assert {:ok, 1} = LiteStash.xoffset(copy, "log", "g")
      assert {:error, :not_found} = LiteStash.get(copy, "late")

      # the copy is independent: writes there do not reach the original
      :ok = LiteStash.set(copy, "only-in-copy", 1)
      assert {:error, :not_found} = LiteStash.get(s, "only-in-copy")
    end

    test "an existing empty dir is fine; a non-empty one is a bad_request, left as it is",
         %{s: s} do
      :ok = LiteStash.set(s, "k", 1)
      empty = tmp_dir!("bk-empty")
      assert {:ok, %{shards: 16}} = LiteStash.backup(s, empty, timeout: 60_000)

      # the copy just made is itself a non-empty dir now
      before = File.ls!(empty) |> Enum.sort()
      assert {:error, {:bad_request, msg}} = LiteStash.backup(s, empty)
      assert msg =~ "not an empty directory"
      assert File.ls!(empty) |> Enum.sort() == before

      busy = tmp_dir!("bk-busy")
      File.write!(Path.join(busy, "notes.txt"), "mine")
      assert {:error, {:bad_request, _}} = LiteStash.backup(s, busy)
      assert File.ls!(busy) == ["notes.txt"]
      assert File.read!(Path.join(busy, "notes.txt")) == "mine"
      # no partial sibling directory was left behind
      assert busy |> Path.dirname() |> File.ls!() |> Enum.filter(&String.contains?(&1, "partial")) ==
               []
    end
  end

  test "backup of a --memory engine is a data dir on disk" do
    {s, _} = start_stash!(memory: true)
    :ok = LiteStash.set(s, "mem", [1, 2])
    target = Path.join(tmp_dir!("bk-mem"), "copy")
    assert {:ok, %{shards: 16}} = LiteStash.backup(s, target)
    {copy, _} = start_stash!(data_dir: target)
    assert {:ok, [1, 2]} = LiteStash.get(copy, "mem")
  end
end
