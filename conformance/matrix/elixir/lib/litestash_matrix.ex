defmodule LiteStash.Matrix do
  @moduledoc """
  The cross-language matrix role of the Elixir host (`conformance/matrix/elixir/matrix.sh`),
  built on the `:litestash` library (`hosts/elixir`) like any application:

  * `write DATA_DIR` — stores every entry of `dataset.json`. When this host's native encoding
    of the entry's `json` description gives exactly `value_hex`, the entry is written with
    `LiteStash.set/4` (a real native write); otherwise the raw bytes go through `set_raw/4`.
    Then appends every stream of `streams.json` (entry by entry, natively or raw by the same
    rule, with the stream's `maxlen`/`max_age_ms` when not null, checking each answered entry
    id) and commits its groups' offsets. Then runs the steps of `history.json`
    (`LiteStash.Matrix.History`): writes with `if_version:`, deletes, transactions; the engine
    is started with the file's `keep_versions:`, which the data dir records.
  * `verify DATA_DIR` — reads every key back and checks (a) the raw bytes equal `value_hex` and
    (b) the decoded value is strictly equal (`===`, so 1 and 1.0 differ) to the Elixir term the
    `json` description stands for. Then checks every stream as the vectors README says:
    `xstreams` (paged) lists exactly the file's names, `xinfo` (length, ids, retention, groups,
    first/last ts), `xrange` paged from the start (ids, exact bytes, decoded values, strictly
    increasing ts), `xget` of ids 1..last_id (trimmed ids absent, the rest identical to
    `xrange`), `xoffset` of every group and of a group that never committed. Then checks
    `history.json`: the recorded depth, every key's versions, `get` at each version, the
    transactions' effects. Prints `verify OK N keys`, `verify OK S streams M entries`
    (M = live entries) and `verify OK H histories T txns`, or every mismatch.

  Returns the exit status for the script.
  """

  alias LiteStash.Msgpack
  alias LiteStash.Matrix.{History, Vectors}

  def main(argv) do
    case argv do
      ["write", dir] -> run(dir, :write, &write/2)
      ["verify", dir] -> run(dir, :verify, &verify/2)
      _ -> usage()
    end
  end

  defp usage do
    IO.puts(:stderr, "usage: matrix.sh write|verify DATA_DIR")
    64
  end

  defp run(dir, mode, fun) do
    entries = Vectors.load!("dataset")["entries"]
    streams = Vectors.load!("streams")["streams"]
    history = History.load!()
    # The writer sets the history depth; the data dir records it for the reader.
    depth = if mode == :write, do: [keep_versions: history["keep_versions"]], else: []

    case LiteStash.start([data_dir: dir, name: nil, log_level: "warn"] ++ depth) do
      {:ok, pid} ->
        try do
          fun.(pid, {entries, streams, history})
        after
          LiteStash.stop(pid)
        end

      {:error, reason} ->
        IO.puts(:stderr, "elixir matrix: cannot start the engine: #{inspect(reason)}")
        1
    end
  end

  defp write(pid, {entries, streams, history}) do
    keys_status = write_keys(pid, entries)
    streams_status = write_streams(pid, streams)
    history_status = History.write(pid, history)
    :ok = LiteStash.sync(pid)
    Enum.max([keys_status, streams_status, history_status])
  end

  # {:native, term} when this host's encoding of the description gives exactly `value_hex`,
  # else {:raw, bytes}.
  defp native_or_raw(e) do
    bytes = Vectors.unhex!(e["value_hex"])
    native = Vectors.native(e["json"])

    if Msgpack.encode(native) |> elem(1) |> IO.iodata_to_binary() == bytes,
      do: {:native, native},
      else: {:raw, bytes}
  end

  defp write_keys(pid, entries) do
    results =
      for e <- entries do
        {mode, result} =
          case native_or_raw(e) do
            {:native, term} -> {:native, LiteStash.set(pid, e["key"], term)}
            {:raw, bytes} -> {:raw, LiteStash.set_raw(pid, e["key"], bytes)}
          end

        {e["key"], mode, result}
      end

    failures = for {k, _m, r} <- results, r != :ok, do: {k, r}

    if failures == [] do
      native = Enum.count(results, fn {_, m, _} -> m == :native end)

      IO.puts(
        "write OK #{length(results)} keys (#{native} native, #{length(results) - native} raw)"
      )

      0
    else
      Enum.each(failures, fn {k, r} ->
        IO.puts(:stderr, "write FAILED #{inspect(k)}: #{inspect(r)}")
      end)

      1
    end
  end

  defp write_streams(pid, streams) do
    results =
      for st <- streams, e <- st["entries"] do
        name = st["stream"]

        opts =
          for f <- [:maxlen, :max_age_ms],
              st[Atom.to_string(f)] != nil,
              do: {f, st[Atom.to_string(f)]}

        want_id = e["id"]

        {mode, result} =
          case native_or_raw(e) do
            {:native, term} -> {:native, LiteStash.xadd(pid, name, term, opts)}
            {:raw, bytes} -> {:raw, LiteStash.xadd_raw(pid, name, bytes, opts)}
          end

        case result do
          {:ok, %{entry_id: ^want_id}} -> {:ok, mode}
          other -> {:error, "#{inspect(name)} entry #{want_id}: #{inspect(other)}"}
        end
      end

    commits =
      for st <- streams, {group, id} <- Enum.sort(st["groups"]) do
        case LiteStash.xcommit(pid, st["stream"], group, id) do
          :ok -> :ok
          other -> {:error, "#{inspect(st["stream"])} group #{inspect(group)}: #{inspect(other)}"}
        end
      end

    case for({:error, msg} <- results ++ commits, do: msg) do
      [] ->
        native = Enum.count(results, &(&1 == {:ok, :native}))

        IO.puts(
          "write OK #{length(streams)} streams #{length(results)} entries " <>
            "(#{native} native, #{length(results) - native} raw), #{length(commits)} offsets"
        )

        0

      failures ->
        Enum.each(failures, &IO.puts(:stderr, "write FAILED stream " <> &1))
        1
    end
  end

  defp verify(pid, {entries, streams, history}) do
    keys_status = verify_keys(pid, entries)
    streams_status = verify_streams(pid, streams, History.stream_names(history))
    # The statuses stay in order so that the OK lines come out in order.
    history_status = History.verify(pid, history)
    Enum.max([keys_status, streams_status, history_status])
  end

  defp verify_keys(pid, entries) do
    failures =
      Enum.flat_map(entries, fn e ->
        key = e["key"]
        want_bytes = Vectors.unhex!(e["value_hex"])
        want = Vectors.expected(e["json"])

        case LiteStash.get_raw(pid, key) do
          {:ok, ^want_bytes} ->
            case Msgpack.decode(want_bytes) do
              {:ok, got} when got === want -> []
              {:ok, got} -> ["#{inspect(key)}: decoded #{inspect(got)}, expected #{inspect(want)}"]
              {:error, r} -> ["#{inspect(key)}: cannot decode: #{inspect(r)}"]
            end

          {:ok, got} ->
            [
              "#{inspect(key)}: bytes #{Base.encode16(got, case: :lower)}, expected " <>
                e["value_hex"]
            ]

          other ->
            ["#{inspect(key)}: #{inspect(other)}"]
        end
      end)

    if failures == [] do
      IO.puts("verify OK #{length(entries)} keys")
      0
    else
      Enum.each(failures, &IO.puts(:stderr, "verify FAILED " <> &1))
      IO.puts(:stderr, "verify FAILED #{length(failures)} of #{length(entries)} keys")
      1
    end
  end

  # other_names: streams of history.json, which xstreams lists too
  defp verify_streams(pid, streams, other_names) do
    want_names = (Enum.map(streams, & &1["stream"]) ++ other_names) |> Enum.sort()

    names_failures =
      try do
        # small pages, so that paging is exercised
        case LiteStash.stream_names(pid, limit: 2) |> Enum.to_list() do
          ^want_names -> []
          got -> ["xstreams lists #{inspect(got)}, expected #{inspect(want_names)}"]
        end
      rescue
        e in LiteStash.Error -> ["xstreams: #{inspect(e.reason)}"]
      end

    failures = names_failures ++ Enum.flat_map(streams, &verify_stream(pid, &1))
    live = streams |> Enum.map(& &1["length"]) |> Enum.sum()

    if failures == [] do
      IO.puts("verify OK #{length(streams)} streams #{live} entries")
      0
    else
      Enum.each(failures, &IO.puts(:stderr, "verify FAILED stream " <> &1))
      IO.puts(:stderr, "verify FAILED #{length(failures)} stream checks")
      1
    end
  end

  defp verify_stream(pid, st) do
    name = st["stream"]
    tag = inspect(name)

    case xrange_all(pid, name, 0, []) do
      {:ok, ranged} ->
        Enum.map(
          check_entries(st, ranged) ++
            check_info(pid, st, ranged) ++ check_xget(pid, st, ranged) ++ check_offsets(pid, st),
          &"#{tag}: #{&1}"
        )

      {:error, reason} ->
        ["#{tag}: xrange: #{inspect(reason)}"]
    end
  end

  # Every live entry, raw, paging forward 3 at a time from the start.
  defp xrange_all(pid, name, after_id, acc) do
    case LiteStash.xrange_raw(pid, name, after: after_id, limit: 3) do
      {:ok, [_ | _] = page, true} -> xrange_all(pid, name, List.last(page).id, [page | acc])
      {:ok, page, false} -> {:ok, Enum.concat(Enum.reverse([page | acc]))}
      {:ok, [], true} -> {:error, :empty_page_with_more}
      {:error, _} = err -> err
    end
  end

  defp live_ids(st), do: Enum.to_list(st["first_id"]..st["last_id"]//1)

  defp check_entries(st, ranged) do
    by_id = Map.new(st["entries"], &{&1["id"], &1})
    got_ids = Enum.map(ranged, & &1.id)

    ids =
      if got_ids == live_ids(st),
        do: [],
        else: ["xrange ids #{inspect(got_ids)}, expected #{inspect(live_ids(st))}"]

    values =
      Enum.flat_map(ranged, fn %LiteStash.Entry{id: id, value: bytes} ->
        case by_id[id] do
          nil ->
            ["entry #{id} is not in the file"]

          e ->
            want_bytes = Vectors.unhex!(e["value_hex"])
            want = Vectors.expected(e["json"])

            cond do
              bytes != want_bytes ->
                [
                  "entry #{id}: bytes #{Base.encode16(bytes, case: :lower)}, expected #{e["value_hex"]}"
                ]

              Msgpack.decode(bytes) !== {:ok, want} ->
                [
                  "entry #{id}: decoded #{inspect(Msgpack.decode(bytes))}, expected #{inspect(want)}"
                ]

              true ->
                []
            end
        end
      end)

    tss = Enum.map(ranged, & &1.ts)

    ts =
      if tss == Enum.uniq(Enum.sort(tss)),
        do: [],
        else: ["ts do not strictly increase along the ids: #{inspect(tss)}"]

    ids ++ values ++ ts
  end

  defp check_info(pid, st, ranged) do
    case LiteStash.xinfo(pid, st["stream"]) do
      {:ok, info} ->
        want = %{
          exists: true,
          length: st["length"],
          first_id: st["first_id"],
          last_id: st["last_id"],
          maxlen: st["maxlen"],
          max_age_ms: st["max_age_ms"],
          groups: st["groups"],
          first_ts: ranged |> List.first() |> then(&(&1 && &1.ts)),
          last_ts: ranged |> List.last() |> then(&(&1 && &1.ts))
        }

        for {k, v} <- Enum.sort(want), Map.get(info, k) != v do
          "xinfo #{k} = #{inspect(Map.get(info, k))}, expected #{inspect(v)}"
        end

      other ->
        ["xinfo: #{inspect(other)}"]
    end
  end

  defp check_xget(pid, st, ranged) do
    ids = Enum.to_list(1..st["last_id"]//1)
    by_id = Map.new(ranged, &{&1.id, &1})

    case LiteStash.xget_raw(pid, st["stream"], ids) do
      {:ok, got} when length(got) == length(ids) ->
        ids
        |> Enum.zip(got)
        |> Enum.flat_map(fn {id, entry} ->
          want = if id < st["first_id"], do: nil, else: Map.get(by_id, id)

          if entry == want,
            do: [],
            else: ["xget #{id}: #{inspect(entry)}, expected #{inspect(want)}"]
        end)

      other ->
        ["xget #{inspect(ids)}: #{inspect(other)}"]
    end
  end

  defp check_offsets(pid, st) do
    for {group, want} <- Enum.sort(st["groups"]) ++ [{"nobody", nil}],
        (got = LiteStash.xoffset(pid, st["stream"], group)) != {:ok, want} do
      "xoffset #{inspect(group)}: #{inspect(got)}, expected #{inspect(want)}"
    end
  end
end
