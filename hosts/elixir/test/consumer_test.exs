defmodule LiteStash.ConsumerTest do
  @moduledoc "LiteStash.Consumer (the consumer-group Stream) and LiteStash.Subscriber."
  use ExUnit.Case, async: true

  alias LiteStash.{Consumer, Entry, Subscriber}
  import LiteStash.TestHelpers

  setup do
    {pid, dir} = start_stash!()
    %{s: pid, dir: dir}
  end

  defp append!(s, stream, range) do
    for i <- range do
      {:ok, %{entry_id: ^i}} = LiteStash.xadd(s, stream, "v#{i}")
      i
    end
  end

  defp ids(entries), do: Enum.map(entries, & &1.id)

  # a drain: read everything there is, then stop
  defp drain(s, stream, group, opts \\ []) do
    Consumer.stream(s, stream, group, Keyword.merge([wait_ms: 0, stop_when_idle: true], opts))
  end

  describe "Consumer.stream" do
    test "reads from the start, emits in id order, commits each consumed batch", %{s: s} do
      append!(s, "c", 1..10)
      entries = drain(s, "c", "g", limit: 4) |> Enum.to_list()
      assert ids(entries) == Enum.to_list(1..10)
      assert [%Entry{id: 1, value: "v1"} | _] = entries
      assert {:ok, 10} = LiteStash.xoffset(s, "c", "g")

      # the batch commits happen as the entries are consumed, before the next read
      offsets =
        drain(s, "c", "g2", limit: 4)
        |> Enum.map(fn e -> {e.id, elem(LiteStash.xoffset(s, "c", "g2"), 1)} end)

      assert offsets == [
               {1, nil},
               {2, nil},
               {3, nil},
               {4, nil},
               {5, 4},
               {6, 4},
               {7, 4},
               {8, 4},
               {9, 8},
               {10, 8}
             ]

      assert {:ok, 10} = LiteStash.xoffset(s, "c", "g2")
      assert drain(s, "c", "g") |> Enum.to_list() == [], "nothing after the committed offset"
      append!(s, "c", 11..12)
      assert drain(s, "c", "g") |> Enum.map(& &1.id) == [11, 12]
    end

    test "a halt commits what was consumed except the last entry handed out", %{s: s} do
      append!(s, "h", 1..10)
      assert ids(Consumer.stream(s, "h", "g") |> Enum.take(5)) == [1, 2, 3, 4, 5]
      assert {:ok, 4} = LiteStash.xoffset(s, "h", "g")

      # take_while pulls the entry it rejects: that one must come again
      got = Consumer.stream(s, "h", "g") |> Stream.take_while(&(&1.id < 8)) |> Enum.to_list()
      assert ids(got) == [5, 6, 7]
      assert {:ok, 7} = LiteStash.xoffset(s, "h", "g")

      # a step that raises: the entry it failed on is not committed
      assert_raise RuntimeError, fn ->
        Consumer.stream(s, "h", "g")
        |> Stream.each(fn e -> if e.id == 9, do: raise("boom") end)
        |> Stream.run()
      end

      assert {:ok, 8} = LiteStash.xoffset(s, "h", "g")
      assert ids(drain(s, "h", "g") |> Enum.to_list()) == [9, 10]
      assert {:ok, 10} = LiteStash.xoffset(s, "h", "g")
    end

    test "resumes from the committed offset after the engine restarts", %{s: s, dir: dir} do
      append!(s, "orders", 1..6)
      assert ids(drain(s, "orders", "billing", limit: 3) |> Enum.take(4)) == [1, 2, 3, 4]
      assert {:ok, 3} = LiteStash.xoffset(s, "orders", "billing")
      assert :ok = LiteStash.stop(s)

      {s2, ^dir} = start_stash!(data_dir: dir)
      assert {:ok, 3} = LiteStash.xoffset(s2, "orders", "billing")
      append!(s2, "orders", 7..8)
      assert ids(drain(s2, "orders", "billing") |> Enum.to_list()) == [4, 5, 6, 7, 8]
      assert {:ok, 8} = LiteStash.xoffset(s2, "orders", "billing")
    end

    test "blocks for new entries appended by another process", %{s: s} do
      append!(s, "live", 1..2)

      consumer =
        Task.async(fn ->
          Consumer.stream(s, "live", "g", wait_ms: 10_000) |> Enum.take(5) |> ids()
        end)

      Process.sleep(200)
      assert Task.yield(consumer, 0) == nil
      for i <- 3..5, do: {:ok, _} = LiteStash.xadd(s, "live", i)
      assert Task.await(consumer, 10_000) == [1, 2, 3, 4, 5]
      assert {:ok, 4} = LiteStash.xoffset(s, "live", "g")
    end

    test "an idle wait with nothing new keeps waiting (not a halt)", %{s: s} do
      consumer = Task.async(fn -> Consumer.stream(s, "idle", "g", wait_ms: 50) |> Enum.take(1) end)
      Process.sleep(300)
      assert Task.yield(consumer, 0) == nil
      {:ok, _} = LiteStash.xadd(s, "idle", "finally")
      assert [%Entry{id: 1, value: "finally"}] = Task.await(consumer, 5_000)
    end

    test "on_trimmed: :earliest goes on at the oldest live entry, :error raises", %{s: s} do
      append!(s, "tr", 1..10)
      assert :ok = LiteStash.xcommit(s, "tr", "g", 2)
      assert {:ok, 5} = LiteStash.xtrim(s, "tr", min_id: 6)

      err =
        assert_raise LiteStash.Error, fn ->
          drain(s, "tr", "g", on_trimmed: :error) |> Enum.to_list()
        end

      assert {:trimmed, %{stream: "tr", group: "g", after: 2, next_id: 6}} = err.reason
      assert {:ok, 2} = LiteStash.xoffset(s, "tr", "g"), "nothing committed"

      assert ids(drain(s, "tr", "g") |> Enum.to_list()) == Enum.to_list(6..10)
      assert {:ok, 10} = LiteStash.xoffset(s, "tr", "g")

      # a group that never committed starts at the first live entry: not a loss
      assert ids(drain(s, "tr", "new", on_trimmed: :error) |> Enum.to_list()) ==
               Enum.to_list(6..10)
    end

    test "a stream dropped and created again is read from its new start", %{s: s} do
      append!(s, "re", 1..5)
      assert ids(drain(s, "re", "g") |> Enum.to_list()) == Enum.to_list(1..5)

      consumer =
        Task.async(fn -> Consumer.stream(s, "re", "keep", wait_ms: 100) |> Enum.take(7) end)

      # the consumer commits 5 when it asks for more, before it waits
      wait_until(fn -> LiteStash.xoffset(s, "re", "keep") == {:ok, 5} end)
      {:ok, true} = LiteStash.xdrop(s, "re")
      append!(s, "re", 1..2)
      assert ids(Task.await(consumer, 5_000)) == [1, 2, 3, 4, 5, 1, 2]
    end

    test "from: for a group that never committed; batches: true; raw: true", %{s: s} do
      append!(s, "f", 1..5)
      assert ids(drain(s, "f", "a", from: 3) |> Enum.to_list()) == [3, 4, 5]
      assert drain(s, "f", "b", from: :latest) |> Enum.to_list() == []
      append!(s, "f", 6..6)

      # from: :latest on another stream: append until the consumer (which opens at some point
      # meanwhile) gets an entry: never one that was there before it started
      append!(s, "fl", 1..3)

      latest =
        Task.async(fn -> Consumer.stream(s, "fl", "b", from: :latest) |> Enum.take(1) |> ids() end)

      got =
        Enum.reduce_while(4..500, nil, fn i, nil ->
          {:ok, %{entry_id: ^i}} = LiteStash.xadd(s, "fl", "v#{i}")

          case Task.yield(latest, 100) do
            {:ok, got} -> {:halt, got}
            nil -> {:cont, nil}
          end
        end)

      assert [id] = got
      assert id >= 4, "entry #{id} was there before the consumer started"
      assert ids(drain(s, "f", "a", from: 1) |> Enum.to_list()) == [6], "the commit wins"

      batches = drain(s, "f", "c", limit: 2, batches: true) |> Enum.to_list()
      assert Enum.map(batches, &ids/1) == [[1, 2], [3, 4], [5, 6]]
      assert {:ok, 6} = LiteStash.xoffset(s, "f", "c")

      assert [[_, _]] = Consumer.stream(s, "f", "d", limit: 2, batches: true) |> Enum.take(1)

      assert {:ok, nil} = LiteStash.xoffset(s, "f", "d"),
             "the last batch handed out is not committed"

      assert [%Entry{id: 1, value: <<0xA2, "v1">>}] = drain(s, "f", "e", raw: true) |> Enum.take(1)
    end

    test "engine errors raise LiteStash.Error", %{s: s} do
      assert_raise LiteStash.Error, ~r/invalid_key/, fn ->
        Consumer.stream(s, "c", "") |> Enum.take(1)
      end

      assert_raise LiteStash.Error, ~r/bad_request/, fn ->
        Consumer.stream(s, "c", "g", limit: 0) |> Enum.take(1)
      end

      assert_raise ArgumentError, fn ->
        Consumer.stream(s, "c", "g", on_trimmed: :skip) |> Enum.take(1)
      end
    end
  end

  describe "Subscriber" do
    test "sends existing and later entries as messages, in order", %{s: s} do
      append!(s, "sub", 1..3)
      {:ok, sub} = Subscriber.start_link(server: s, stream: "sub", to: self(), from: :earliest)

      for i <- 1..3 do
        assert_receive {:litestash_entry, "sub", %Entry{id: ^i, value: v}}, 2_000
        assert v == "v#{i}"
      end

      refute_receive {:litestash_entry, _, _}, 100
      spawn(fn -> for i <- 4..6, do: {:ok, _} = LiteStash.xadd(s, "sub", "v#{i}") end)

      for i <- 4..6 do
        assert_receive {:litestash_entry, "sub", %Entry{id: ^i, value: v}}, 2_000
        assert v == "v#{i}"
      end

      assert :ok = Subscriber.stop(sub)
    end

    test "from: :latest only sends entries appended after the start", %{s: s} do
      append!(s, "lat", 1..3)
      {:ok, _sub} = Subscriber.start_link(server: s, stream: "lat", to: self())
      refute_receive {:litestash_entry, _, _}, 200
      {:ok, _} = LiteStash.xadd(s, "lat", "new")
      assert_receive {:litestash_entry, "lat", %Entry{id: 4, value: "new"}}, 2_000

      {:ok, _} = Subscriber.start_link(server: s, stream: "lat", to: self(), from: 2, raw: true)

      for {i, raw} <- [{2, <<0xA2, "v2">>}, {3, <<0xA2, "v3">>}, {4, <<0xA3, "new">>}] do
        assert_receive {:litestash_entry, "lat", %Entry{id: ^i, value: ^raw}}, 2_000
      end

      # a stream that does not exist yet
      {:ok, _} = Subscriber.start_link(server: s, stream: "later", to: self(), wait_ms: 100)
      Process.sleep(150)
      {:ok, _} = LiteStash.xadd(s, "later", 1)
      assert_receive {:litestash_entry, "later", %Entry{id: 1, value: 1}}, 2_000
    end

    test "with a group: commits after each batch and resumes from the commit", %{s: s} do
      append!(s, "gs", 1..4)

      {:ok, sub} =
        Subscriber.start_link(server: s, stream: "gs", to: self(), group: "g", from: :earliest)

      for i <- 1..4, do: assert_receive({:litestash_entry, "gs", %Entry{id: ^i}}, 2_000)
      wait_until(fn -> LiteStash.xoffset(s, "gs", "g") == {:ok, 4} end)
      :ok = Subscriber.stop(sub)

      append!(s, "gs", 5..6)

      {:ok, _} =
        Subscriber.start_link(server: s, stream: "gs", to: self(), group: "g", from: :earliest)

      assert_receive {:litestash_entry, "gs", %Entry{id: 5}}, 2_000
      assert_receive {:litestash_entry, "gs", %Entry{id: 6}}, 2_000
      refute_receive {:litestash_entry, _, _}, 100
    end

    test "stops when the subscriber process dies", %{s: s} do
      test_pid = self()

      target =
        spawn(fn ->
          receive do
            {:litestash_entry, _, e} -> send(test_pid, {:got, e.id})
          end
        end)

      {:ok, sub} = Subscriber.start(server: s, stream: "die", to: target, wait_ms: 10_000)
      ref = Process.monitor(sub)
      {:ok, _} = LiteStash.xadd(s, "die", 1)
      assert_receive {:got, 1}, 2_000
      assert_receive {:DOWN, ^ref, :process, ^sub, :normal}, 2_000
      assert :ok = LiteStash.ping(s)
    end

    test "stops with the error when the engine goes away", %{s: s} do
      Process.flag(:trap_exit, true)
      {:ok, sub} = Subscriber.start_link(server: s, stream: "gone", to: self(), wait_ms: 10_000)
      Process.sleep(100)
      :ok = LiteStash.stop(s)
      assert_receive {:EXIT, ^sub, {:shutdown, {:litestash_error, reason}}}, 5_000

      assert reason in [:not_running, {:server_exit, :normal}] or
               match?({:engine_exited, _}, reason)
    end
  end
end
