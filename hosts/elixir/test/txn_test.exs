defmodule LiteStash.TxnTest do
  @moduledoc "Transactions (`LiteStash.Txn` + `LiteStash.commit/3`) against the real engine."
  use ExUnit.Case, async: true

  alias LiteStash.{Entry, Routing, Txn}
  import LiteStash.TestHelpers

  setup do
    {pid, dir} = start_stash!()
    %{s: pid, dir: dir}
  end

  # `n` keys with the given prefix that all route to distinct shards (of 16)
  defp spread_keys(prefix, n) do
    Stream.iterate(0, &(&1 + 1))
    |> Stream.map(&"#{prefix}#{&1}")
    |> Stream.uniq_by(&Routing.shard(&1, 16))
    |> Enum.take(n)
  end

  test "the builder: ops and checks in the order added, nothing sent" do
    txn =
      Txn.new()
      |> Txn.check("a", 5)
      |> Txn.set("a", 1, ttl_ms: 10, ignored: true)
      |> Txn.delete("b")
      |> Txn.xadd("s", %{x: 1})
      |> Txn.set_raw("c", <<0xC0>>)
      |> Txn.xadd_raw("s", <<1>>)
      |> Txn.check("b", 0)

    assert Txn.checks(txn) == [{"a", 5}, {"b", 0}]

    assert Txn.ops(txn) == [
             {:set, "a", {:term, 1}, [ttl_ms: 10]},
             {:delete, "b"},
             {:xadd, "s", {:term, %{x: 1}}},
             {:set, "c", {:raw, <<0xC0>>}, []},
             {:xadd, "s", {:raw, <<1>>}}
           ]

    assert_raise FunctionClauseError, fn -> Txn.check(txn, "a", -1) end
    assert_raise FunctionClauseError, fn -> Txn.set(txn, :not_a_binary, 1) end
  end

  test "set, delete and xadd across shards: results in op order, all applied", %{s: s} do
    [k1, k2, k3, gone] = spread_keys("t:", 4)
    :ok = LiteStash.set(s, gone, "bye")
    {:ok, vk1} = LiteStash.set_versioned(s, k1, "before")

    txn =
      Txn.new()
      |> Txn.check(k1, vk1)
      |> Txn.check(k3, 0)
      |> Txn.set(k1, %{"n" => 1})
      |> Txn.set(k2, [1, 2, 3], ttl_ms: 60_000)
      |> Txn.xadd("log", %{"event" => "moved"})
      |> Txn.delete(gone)
      |> Txn.delete("never-there")
      |> Txn.xadd("log", "second")
      |> Txn.set_raw(k3, <<0xD9, 3, "abc">>)
      |> Txn.xadd_raw("log", <<0xCA, 0x3F, 0xC0, 0, 0>>)

    assert {:ok, [v1, v2, 1, true, false, 2, v3, 3] = results} = LiteStash.commit(s, txn)
    assert length(results) == length(Txn.ops(txn))
    assert v1 > vk1
    assert {:ok, %{"n" => 1}, ^v1} = LiteStash.get_versioned(s, k1)
    assert {:ok, [1, 2, 3], ^v2} = LiteStash.get_versioned(s, k2)
    assert {:ok, ms} = LiteStash.ttl(s, k2)
    assert is_integer(ms) and ms > 0
    assert {:ok, <<0xD9, 3, "abc">>} = LiteStash.get_raw(s, k3)
    assert {:ok, "abc", ^v3} = LiteStash.get_versioned(s, k3)
    assert {:error, :not_found} = LiteStash.get(s, gone)

    assert {:ok,
            [
              %Entry{id: 1, value: %{"event" => "moved"}},
              %Entry{id: 2, value: "second"},
              %Entry{id: 3, value: 1.5}
            ], false} = LiteStash.xrange(s, "log")

    assert {:ok, [_, _, %Entry{value: <<0xCA, 0x3F, 0xC0, 0, 0>>}], false} =
             LiteStash.xrange_raw(s, "log")
  end

  test "commit's argument orders and Txn.commit/3 all run the transaction", %{s: s} do
    t = fn k -> Txn.new() |> Txn.set(k, k) end
    assert {:ok, [_]} = LiteStash.commit(s, t.("o1"))
    assert {:ok, [_]} = t.("o2") |> LiteStash.commit(s)
    assert {:ok, [_]} = t.("o3") |> LiteStash.commit(s, timeout: 60_000)
    assert {:ok, [_]} = LiteStash.commit(s, t.("o4"), timeout: :infinity)
    assert {:ok, [_]} = t.("o5") |> Txn.commit(s)
    assert {:ok, [_]} = t.("o6") |> Txn.commit(s, timeout: 10_000)
    assert {:ok, ["o1", "o2", "o3", "o4", "o5", "o6"]} = LiteStash.mget(s, ~w(o1 o2 o3 o4 o5 o6))
  end

  test "a failed check writes nothing: conflict with the key and its current version",
       %{s: s} do
    [a, b, c, d] = spread_keys("acct:", 4)
    {:ok, va} = LiteStash.set_versioned(s, a, 100)
    {:ok, vb} = LiteStash.set_versioned(s, b, 50)
    :ok = LiteStash.set(s, d, "held")
    # someone else moves a on after we read it
    {:ok, va2} = LiteStash.set_versioned(s, a, 101)

    txn =
      Txn.new()
      |> Txn.check(b, vb)
      |> Txn.check(a, va)
      |> Txn.set(a, 70)
      |> Txn.set(b, 80)
      |> Txn.set(c, "new")
      |> Txn.delete(d)
      |> Txn.xadd("audit", "transfer")

    assert {:error, {:conflict, msg, %{key: ^a, version: ^va2}}} = LiteStash.commit(s, txn)
    assert is_binary(msg)

    # nothing of it happened, on any shard
    assert {:ok, 101, ^va2} = LiteStash.get_versioned(s, a)
    assert {:ok, 50, ^vb} = LiteStash.get_versioned(s, b)
    assert {:error, :not_found} = LiteStash.get(s, c)
    assert {:ok, "held"} = LiteStash.get(s, d)
    assert {:ok, %{exists: false}} = LiteStash.xinfo(s, "audit")
    assert {:ok, 3} = LiteStash.count(s)

    # a key set and deleted in one transaction is refused before anything is checked
    assert {:error, {:bad_request, _}} =
             txn |> Txn.check(a, va2) |> Txn.delete(b) |> LiteStash.commit(s)

    assert {:ok, 101} = LiteStash.get(s, a)

    # a check of 0 on a live key fails with its version; on an absent key it holds
    assert {:error, {:conflict, _, %{key: ^b, version: ^vb}}} =
             Txn.new() |> Txn.check(b, 0) |> Txn.set(c, 1) |> LiteStash.commit(s)

    assert {:error, :not_found} = LiteStash.get(s, c)

    # several failed checks: one of them is reported, with that key's version
    assert {:error, {:conflict, _, %{key: k, version: v}}} =
             Txn.new()
             |> Txn.check(a, 1)
             |> Txn.check(b, 1)
             |> Txn.set(c, 1)
             |> LiteStash.commit(s)

    assert {k, v} in [{a, va2}, {b, vb}]
    assert {:error, :not_found} = LiteStash.get(s, c)

    # with the right versions it goes through
    assert {:ok, [_, _, _, true, 1]} =
             Txn.new()
             |> Txn.check(a, va2)
             |> Txn.check(b, vb)
             |> Txn.check(c, 0)
             |> Txn.set(a, 71)
             |> Txn.set(b, 80)
             |> Txn.set(c, "new")
             |> Txn.delete(d)
             |> Txn.xadd("audit", "transfer")
             |> LiteStash.commit(s)

    assert {:ok, [71, 80, "new"]} = LiteStash.mget(s, [a, b, c])
  end

  test "refused transactions: engine errors and local encoding errors, nothing written",
       %{s: s} do
    assert {:error, {:bad_request, _}} = LiteStash.commit(s, Txn.new())
    assert {:error, {:bad_request, _}} = LiteStash.commit(s, Txn.new() |> Txn.check("x", 0))

    assert {:error, {:invalid_key, _}} =
             Txn.new() |> Txn.set("ok", 1) |> Txn.set("", 1) |> LiteStash.commit(s)

    assert {:error, {:invalid_key, _}} =
             Txn.new() |> Txn.set("ok", 1) |> Txn.xadd("", 1) |> LiteStash.commit(s)

    assert {:error, {:bad_request, _}} =
             Txn.new() |> Txn.set("ok", 1, ttl_ms: 0) |> LiteStash.commit(s)

    assert {:error, {:unencodable, {1, 2}}} =
             Txn.new() |> Txn.set("ok", 1) |> Txn.xadd("s", {1, 2}) |> LiteStash.commit(s)

    assert {:error, {:invalid_msgpack, {:trailing_bytes, 1}}} =
             Txn.new() |> Txn.set_raw("ok", <<1, 2>>) |> LiteStash.commit(s)

    assert {:error, {:invalid_msgpack, _}} =
             Txn.new() |> Txn.xadd_raw("s", <<0x92>>) |> LiteStash.commit(s)

    assert {:ok, 0} = LiteStash.count(s)
    assert {:ok, [], false} = LiteStash.xstreams(s)
  end

  test "transfers from two connections with checks: totals conserved, one log entry each",
       %{s: a, dir: dir} do
    {b, ^dir} = start_stash!(data_dir: dir)
    accounts = spread_keys("bal:", 4)
    :ok = LiteStash.mset(a, Enum.map(accounts, &{&1, 100}))

    # read both balances with their versions; the checks make the transfer conditional on
    # nobody having written either account since
    transfer = fn conn, from, to, amount ->
      Stream.repeatedly(fn ->
        {:ok, f, fv} = LiteStash.get_versioned(conn, from)
        {:ok, t, tv} = LiteStash.get_versioned(conn, to)

        Txn.new()
        |> Txn.check(from, fv)
        |> Txn.check(to, tv)
        |> Txn.set(from, f - amount)
        |> Txn.set(to, t + amount)
        |> Txn.xadd("transfers", [from, to, amount])
        |> LiteStash.commit(conn)
        |> case do
          {:ok, [_, _, id]} when is_integer(id) -> :done
          {:error, {:conflict, _, %{key: k}}} when k in [from, to] -> :retry
        end
      end)
      |> Enum.find(&(&1 == :done))
    end

    tasks =
      for {conn, w} <- [{a, 0}, {b, 1}, {a, 2}, {b, 3}] do
        Task.async(fn ->
          for i <- 1..15 do
            from = Enum.at(accounts, rem(w + i, 4))
            to = Enum.at(accounts, rem(w + i + 1 + rem(i, 3), 4))
            transfer.(conn, from, to, rem(i, 7) + 1)
          end
        end)
      end

    Enum.each(tasks, &Task.await(&1, 120_000))
    {:ok, balances} = LiteStash.mget(b, accounts)
    assert Enum.sum(balances) == 400
    assert {:ok, entries, false} = LiteStash.xrange(a, "transfers", limit: 1000)
    assert length(entries) == 60
    # replaying the log gives the balances
    replayed =
      Enum.reduce(entries, Map.new(accounts, &{&1, 100}), fn %Entry{value: [f, t, amt]}, acc ->
        acc |> Map.update!(f, &(&1 - amt)) |> Map.update!(t, &(&1 + amt))
      end)

    assert Enum.map(accounts, &replayed[&1]) == balances
  end
end
