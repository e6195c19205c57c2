defmodule LiteStash.CasTest do
  @moduledoc """
  Versions and conditional writes (set/delete with `if_version:`, `get_versioned`,
  `set_versioned`, `update/4`) against the real engine, including two connections
  incrementing one counter on one data dir.
  """
  use ExUnit.Case, async: true

  import LiteStash.TestHelpers

  setup do
    {pid, dir} = start_stash!()
    %{s: pid, dir: dir}
  end

  test "hello lists the protocol-2 write features", %{s: s} do
    for f <- ~w(versions cas txn compact backup), do: assert(LiteStash.supports?(s, f), f)
  end

  test "set_versioned / get_versioned: the same version, strictly increasing", %{s: s} do
    assert {:ok, v1} = LiteStash.set_versioned(s, "k", %{"n" => 1})
    assert is_integer(v1) and v1 > 1_700_000_000_000_000
    assert {:ok, %{"n" => 1}, ^v1} = LiteStash.get_versioned(s, "k")
    assert {:ok, v2} = LiteStash.set_versioned(s, "k", %{"n" => 2}, ttl_ms: 60_000)
    assert v2 > v1
    assert {:ok, %{"n" => 2}, ^v2} = LiteStash.get_versioned(s, "k")
    assert {:ok, ms} = LiteStash.ttl(s, "k")
    assert is_integer(ms) and ms > 0
    assert {:error, :not_found} = LiteStash.get_versioned(s, "missing")
    assert {:error, {:invalid_key, _}} = LiteStash.get_versioned(s, "")
    assert {:error, {:unencodable, {1}}} = LiteStash.set_versioned(s, "k", {1})
    # plain set still answers :ok and moves the version on
    assert :ok = LiteStash.set(s, "k", 3)
    assert {:ok, 3, v3} = LiteStash.get_versioned(s, "k")
    assert v3 > v2
  end

  test "set with if_version: applies on a match, conflict with the current version otherwise",
       %{s: s} do
    {:ok, v1} = LiteStash.set_versioned(s, "acct", 100)
    assert :ok = LiteStash.set(s, "acct", 90, if_version: v1)
    assert {:ok, 90, v2} = LiteStash.get_versioned(s, "acct")
    assert v2 > v1

    # stale version: nothing written, the error carries the current version and the key
    assert {:error, {:conflict, msg, %{version: ^v2, key: "acct"}}} =
             LiteStash.set(s, "acct", 80, if_version: v1)

    assert is_binary(msg)
    assert {:ok, 90, ^v2} = LiteStash.get_versioned(s, "acct")

    # set_versioned and set_raw take it too
    assert {:ok, v3} = LiteStash.set_versioned(s, "acct", 70, if_version: v2)

    assert {:error, {:conflict, _, %{version: ^v3}}} =
             LiteStash.set_versioned(s, "acct", 1, if_version: v2)

    assert :ok = LiteStash.set_raw(s, "acct", <<0xCC, 60>>, if_version: v3)
    assert {:ok, 60, v4} = LiteStash.get_versioned(s, "acct")

    assert {:error, {:conflict, _, %{version: ^v4, key: "acct"}}} =
             LiteStash.set_raw(s, "acct", <<1>>, if_version: v3)

    # a refused write with ttl_ms changes nothing, not even the expiry
    assert {:error, {:conflict, _, _}} = LiteStash.set(s, "acct", 0, if_version: 1, ttl_ms: 10)
    assert {:ok, :infinity} = LiteStash.ttl(s, "acct")
    assert {:ok, 60, ^v4} = LiteStash.get_versioned(s, "acct")

    # a bad if_version is the engine's type error, not a conflict
    assert {:error, {:type_error, _}} = LiteStash.set(s, "acct", 1, if_version: -1)
  end

  test "if_version: 0 means absent (or expired)", %{s: s} do
    assert {:ok, v} = LiteStash.set_versioned(s, "once", "first", if_version: 0)

    assert {:error, {:conflict, _, %{version: ^v, key: "once"}}} =
             LiteStash.set(s, "once", "second", if_version: 0)

    assert {:ok, "first"} = LiteStash.get(s, "once")

    # an expired key counts as absent
    assert :ok = LiteStash.set(s, "lease", "old", ttl_ms: 30)
    Process.sleep(80)
    assert :ok = LiteStash.set(s, "lease", "new", if_version: 0)
    assert {:ok, "new"} = LiteStash.get(s, "lease")

    # a version on an absent key: conflict with version 0
    assert {:error, {:conflict, _, %{version: 0, key: "nope"}}} =
             LiteStash.set(s, "nope", 1, if_version: v)

    assert {:error, :not_found} = LiteStash.get(s, "nope")
  end

  test "delete with if_version", %{s: s} do
    {:ok, v1} = LiteStash.set_versioned(s, "d", 1)
    {:ok, v2} = LiteStash.set_versioned(s, "d", 2)

    assert {:error, {:conflict, _, %{version: ^v2, key: "d"}}} =
             LiteStash.delete(s, "d", if_version: v1)

    assert {:error, {:conflict, _, %{version: ^v2}}} = LiteStash.delete(s, "d", if_version: 0)
    assert {:ok, 2} = LiteStash.get(s, "d")
    assert {:ok, true} = LiteStash.delete(s, "d", if_version: v2)
    assert {:error, :not_found} = LiteStash.get(s, "d")

    # absent: if_version 0 holds (nothing to delete), any other version is a conflict
    assert {:ok, false} = LiteStash.delete(s, "d", if_version: 0)

    assert {:error, {:conflict, _, %{version: 0, key: "d"}}} =
             LiteStash.delete(s, "d", if_version: v2)

    assert {:ok, false} = LiteStash.delete(s, "d")
  end

  test "get with version: without history only the current version is found", %{s: s} do
    {:ok, v1} = LiteStash.set_versioned(s, "g", "one")
    assert {:ok, "one"} = LiteStash.get(s, "g", version: v1)
    assert {:ok, "one", ^v1} = LiteStash.get_versioned(s, "g", version: v1)
    assert {:ok, <<0xA3, "one">>} = LiteStash.get_raw(s, "g", version: v1)
    {:ok, v2} = LiteStash.set_versioned(s, "g", "two")
    assert {:error, :not_found} = LiteStash.get(s, "g", version: v1), "keep_versions is 0"
    assert {:error, :not_found} = LiteStash.get(s, "g", version: v2 + 1)
    assert {:ok, "two"} = LiteStash.get(s, "g", version: v2)
    assert {:ok, [{^v2, false}], false} = LiteStash.versions(s, "g")
  end

  test "update/4: read-modify-write with retries", %{s: s} do
    assert {:ok, 1, v1} = LiteStash.update(s, "hits", &(&1 + 1), default: 0)
    assert {:ok, 2, v2} = LiteStash.update(s, "hits", &(&1 + 1), default: 0)
    assert v2 > v1
    assert {:ok, 2, ^v2} = LiteStash.get_versioned(s, "hits")
    assert {:ok, [:a], _} = LiteStash.update(s, "list", &[:a | &1 || []])
    assert {:ok, ["a"]} = LiteStash.get(s, "list")
    assert {:ok, "x", _} = LiteStash.update(s, "ttl", fn nil -> "x" end, ttl_ms: 60_000)
    assert {:ok, ms} = LiteStash.ttl(s, "ttl")
    assert is_integer(ms)

    # a writer that always gets in between: every attempt conflicts, the last conflict is
    # returned with the version that writer left
    me = self()

    meddle = fn n ->
      {:ok, v} = LiteStash.set_versioned(s, "hot", -1)
      send(me, {:meddled, v})
      n + 1
    end

    :ok = LiteStash.set(s, "hot", 10)

    assert {:error, {:conflict, _, %{key: "hot", version: v}}} =
             LiteStash.update(s, "hot", meddle, max_attempts: 3)

    assert_received {:meddled, _}
    assert_received {:meddled, _}
    assert_received {:meddled, ^v}
    refute_received {:meddled, _}
    assert {:ok, -1} = LiteStash.get(s, "hot")

    assert_raise ArgumentError, fn -> LiteStash.update(s, "hot", & &1, max_attempts: 0) end
    assert {:error, {:invalid_key, _}} = LiteStash.update(s, "", & &1)
  end

  test "CAS increments from two connections on one data dir lose no update", %{s: a, dir: dir} do
    {b, ^dir} = start_stash!(data_dir: dir)
    per_worker = 25
    workers = for conn <- [a, b], style <- [:manual, :manual, :update], do: {conn, style}

    # the loop a user writes by hand: read value + version, write with if_version, retry
    manual = fn conn ->
      Stream.repeatedly(fn ->
        {n, version} =
          case LiteStash.get_versioned(conn, "counter") do
            {:ok, n, v} -> {n, v}
            {:error, :not_found} -> {0, 0}
          end

        case LiteStash.set_versioned(conn, "counter", n + 1, if_version: version) do
          {:ok, new_version} -> {:done, n + 1, new_version}
          {:error, {:conflict, _, %{version: current}}} when current != version -> :retry
        end
      end)
      |> Enum.find(&(&1 != :retry))
    end

    results =
      workers
      |> Enum.map(fn {conn, style} ->
        Task.async(fn ->
          for _ <- 1..per_worker do
            case style do
              :manual ->
                manual.(conn)

              :update ->
                {:ok, n, v} =
                  LiteStash.update(conn, "counter", &(&1 + 1), default: 0, max_attempts: 10_000)

                {:done, n, v}
            end
          end
        end)
      end)
      |> Enum.flat_map(&Task.await(&1, 120_000))

    total = per_worker * length(workers)
    # every successful write wrote a distinct value 1..total and got a distinct version
    assert results |> Enum.map(&elem(&1, 1)) |> Enum.sort() == Enum.to_list(1..total)
    versions = Enum.map(results, &elem(&1, 2))
    assert length(Enum.uniq(versions)) == total
    # and the order of the values is the order of the versions (serializable)
    assert results |> Enum.sort_by(&elem(&1, 2)) |> Enum.map(&elem(&1, 1)) ==
             Enum.to_list(1..total)

    assert {:ok, ^total, last} = LiteStash.get_versioned(a, "counter")
    assert {:ok, ^total, ^last} = LiteStash.get_versioned(b, "counter")
    assert last == Enum.max(versions)
  end
end
