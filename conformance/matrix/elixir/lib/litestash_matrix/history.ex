defmodule LiteStash.Matrix.History do
  @moduledoc """
  The history and transaction part of the matrix data set (`conformance/vectors/history.json`,
  format `litestash-history/1`, see the vectors README), on the `:litestash` library's API:

  * `write/2` runs every step in order: `LiteStash.set_versioned/4` (natively, or a
    `LiteStash.Msgpack.Raw` value when the native encoding differs from `value_hex`) and
    `LiteStash.delete/3`, both with `if_version:` when the step says so, and transactions built
    with `LiteStash.Txn` (checks, `set`/`set_raw`, `delete`, `xadd`/`xadd_raw`) committed with
    `LiteStash.commit/3`. Versions are remembered as answered (a delete counts as 0) to resolve
    the step's `"current"`, `"absent"` and `"stale"` (the version answered before the current
    one). Every answer is checked: versions, `deleted?`, entry ids, and each expected conflict
    (its key and its version, the key's current one).
  * `verify/2` checks the data dir's recorded depth (`keep_versions` from `hello`), every key's
    full version list (paged by 4: tombstone flags and value bytes in order, versions strictly
    decreasing), `get` with `version:` at each listed version (exact bytes and decoded value;
    not found for a tombstone), the key's current value, the streams the transactions appended
    to, and each transaction's effects (a successful one's values and entries present, the
    failed one's absent).

  The engine must have been started with `keep_versions:` of the file for `write/2`.
  """

  alias LiteStash.Matrix.Vectors
  alias LiteStash.Msgpack
  alias LiteStash.Msgpack.Raw
  alias LiteStash.Txn

  @format "litestash-history/1"

  @doc "Loads history.json (its MessagePack twin) and checks its format."
  def load! do
    doc = Vectors.load!("history")

    unless doc["format"] == @format,
      do: raise("history: format #{inspect(doc["format"])}, this host reads #{@format}")

    doc
  end

  @doc "`{H, T}`: keys whose history is checked, transactions."
  def counts(doc), do: {length(doc["keys"]), Enum.count(doc["steps"], &(&1["op"] == "txn"))}

  @doc "The names of the streams the transactions append to."
  def stream_names(doc), do: Enum.map(doc["streams"], & &1["stream"])

  @doc "The keys live after the steps."
  def live_keys(doc), do: for(k <- doc["keys"], k["live"], do: k["key"])

  # {:native, term} when this host's encoding of the description gives exactly `value_hex`,
  # else {:raw, bytes}.
  defp native_or_raw(v) do
    bytes = Vectors.unhex!(v["value_hex"])
    native = Vectors.native(v["json"])

    case Msgpack.encode(native) do
      {:ok, io} -> if IO.iodata_to_binary(io) == bytes, do: {:native, native}, else: {:raw, bytes}
      _ -> {:raw, bytes}
    end
  end

  defp term_of(v) do
    case native_or_raw(v) do
      {:native, t} -> t
      {:raw, b} -> %Raw{bytes: b}
    end
  end

  # ------------------------------------------------------------------ write

  @doc "Runs every step; prints `write OK ...` and answers 0, or prints the failure, 1."
  def write(pid, doc) do
    result =
      doc["steps"]
      |> Enum.with_index(1)
      |> Enum.reduce_while({%{}, 0}, fn {st, i}, {answered, conflicts} ->
        where = "step #{i} (#{st["op"]} #{inspect(st["key"] || st["name"])})"

        case step(pid, st, answered) do
          {:ok, answered} -> {:cont, {answered, conflicts}}
          {:conflict, answered} -> {:cont, {answered, conflicts + 1}}
          {:error, msg} -> {:halt, {:error, "#{where}: #{msg}"}}
        end
      end)

    case result do
      {:error, msg} ->
        IO.puts(:stderr, "write FAILED history " <> msg)
        1

      {_, conflicts} ->
        IO.puts(
          "write OK #{length(doc["steps"])} history steps (#{conflicts} conflicts as expected), " <>
            "#{elem(counts(doc), 1)} txns"
        )

        0
    end
  end

  # answered: key => versions answered, newest first (0 for a delete)
  defp current(answered, key), do: answered |> Map.get(key, []) |> List.first(0)
  defp resolve(_answered, _key, "absent"), do: 0
  defp resolve(answered, key, "current"), do: current(answered, key)
  defp resolve(answered, key, "stale"), do: answered |> Map.fetch!(key) |> Enum.at(1)
  defp record(answered, key, v), do: Map.update(answered, key, [v], &[v | &1])

  defp if_version(answered, st) do
    case st["if_version"] do
      nil -> []
      want -> [if_version: resolve(answered, st["key"], want)]
    end
  end

  defp step(pid, %{"op" => "set"} = st, answered) do
    key = st["key"]

    pid
    |> LiteStash.set_versioned(key, term_of(st), if_version(answered, st))
    |> outcome(st, answered, key, fn version ->
      if is_integer(version) and version > current(answered, key),
        do: {:ok, record(answered, key, version)},
        else: {:error, "version #{inspect(version)} does not follow #{current(answered, key)}"}
    end)
  end

  defp step(pid, %{"op" => "delete"} = st, answered) do
    key = st["key"]

    pid
    |> LiteStash.delete(key, if_version(answered, st))
    |> outcome(st, answered, key, fn deleted ->
      if deleted === st["deleted"],
        do: {:ok, record(answered, key, 0)},
        else: {:error, "deleted #{inspect(deleted)}, expected #{inspect(st["deleted"])}"}
    end)
  end

  defp step(pid, %{"op" => "txn"} = st, answered) do
    txn =
      Enum.reduce(st["checks"], Txn.new(), fn c, t ->
        Txn.check(t, c["key"], resolve(answered, c["key"], c["version"]))
      end)

    txn =
      Enum.reduce(st["ops"], txn, fn
        %{"op" => "set"} = op, t ->
          case native_or_raw(op) do
            {:native, v} -> Txn.set(t, op["key"], v)
            {:raw, b} -> Txn.set_raw(t, op["key"], b)
          end

        %{"op" => "delete"} = op, t ->
          Txn.delete(t, op["key"])

        %{"op" => "xadd"} = op, t ->
          case native_or_raw(op) do
            {:native, v} -> Txn.xadd(t, op["stream"], v)
            {:raw, b} -> Txn.xadd_raw(t, op["stream"], b)
          end
      end)

    pid
    |> LiteStash.commit(txn)
    |> outcome(st, answered, st["conflict_key"], fn results ->
      txn_results(st, answered, results)
    end)
  end

  defp outcome(result, st, answered, conflict_key, on_ok) do
    case {result, st["expect"]} do
      {{:ok, r}, "ok"} ->
        on_ok.(r)

      {{:error, {:conflict, _msg, %{key: key, version: v}}}, "conflict"} ->
        want = current(answered, conflict_key)

        if key == conflict_key and v == want,
          do: {:conflict, answered},
          else:
            {:error,
             "conflict on key #{inspect(key)} at version #{inspect(v)}, expected key " <>
               "#{inspect(conflict_key)} at version #{want}"}

      {other, expect} ->
        {:error, "answered #{inspect(other)}, expected #{expect}"}
    end
  end

  defp txn_results(%{"ops" => ops}, answered, results) when length(results) == length(ops) do
    ops
    |> Enum.zip(results)
    |> Enum.reduce_while({:ok, answered}, fn {op, r}, {:ok, acc} ->
      deleted = op["deleted"]
      entry_id = op["entry_id"]

      case {op["op"], r} do
        {"set", v} when is_integer(v) ->
          if v > current(acc, op["key"]),
            do: {:cont, {:ok, record(acc, op["key"], v)}},
            else: {:halt, {:error, "set #{inspect(op["key"])}: version #{v}"}}

        {"delete", ^deleted} when is_boolean(deleted) ->
          {:cont, {:ok, record(acc, op["key"], 0)}}

        {"xadd", ^entry_id} when is_integer(entry_id) ->
          {:cont, {:ok, acc}}

        {kind, other} ->
          {:halt, {:error, "#{kind} #{inspect(op["key"] || op["stream"])}: #{inspect(other)}"}}
      end
    end)
  end

  defp txn_results(st, _answered, results),
    do: {:error, "#{length(results)} results for #{length(st["ops"])} ops"}

  # ------------------------------------------------------------------ verify

  @doc "Checks everything; prints `verify OK H histories T txns` and answers 0, or 1."
  def verify(pid, doc) do
    want_depth = doc["keep_versions"]

    depth =
      case LiteStash.keep_versions(pid) do
        ^want_depth -> []
        d -> ["hello keep_versions = #{inspect(d)}, expected #{want_depth}"]
      end

    checked = Enum.map(doc["keys"], &verify_key(pid, &1))
    found = Map.new(checked, fn {key, seen, _} -> {key, seen} end)
    key_failures = Enum.flat_map(checked, fn {_, _, failures} -> failures end)
    {entries, stream_failures} = verify_streams(pid, doc)

    txn_failures =
      for st <- doc["steps"], st["op"] == "txn", f <- verify_txn(st, found, entries) do
        "txn #{inspect(st["name"])}: #{f}"
      end

    case depth ++ key_failures ++ stream_failures ++ txn_failures do
      [] ->
        {h, t} = counts(doc)
        IO.puts("verify OK #{h} histories #{t} txns")
        0

      failures ->
        Enum.each(failures, &IO.puts(:stderr, "verify FAILED " <> &1))
        IO.puts(:stderr, "verify FAILED #{length(failures)} history checks")
        1
    end
  end

  # {key, [{deleted?, bytes | nil}] newest first, failures}
  defp verify_key(pid, k) do
    key = k["key"]
    want = k["versions"]
    tag = "history #{inspect(key)}: "

    case LiteStash.versions_all(pid, key, limit: 4) do
      {:ok, got} ->
        vs = Enum.map(got, &elem(&1, 0))
        flags = Enum.map(got, &elem(&1, 1))
        want_flags = Enum.map(want, & &1["deleted"])

        order =
          if Enum.all?(vs, &(is_integer(&1) and &1 > 0)) and
               vs == vs |> Enum.uniq() |> Enum.sort(:desc),
             do: [],
             else: ["versions #{inspect(vs)} do not strictly decrease (newest first)"]

        tombs =
          if flags == want_flags,
            do: [],
            else: ["versions: tombstone flags #{inspect(flags)}, expected #{inspect(want_flags)}"]

        {seen, value_failures} =
          got
          |> Enum.with_index()
          |> Enum.map(fn {{v, deleted}, n} ->
            check_version(pid, key, v, deleted, Enum.at(want, n), n)
          end)
          |> Enum.unzip()

        failures = order ++ tombs ++ List.flatten(value_failures) ++ check_current(pid, k, vs)
        {key, seen, Enum.map(failures, &(tag <> &1))}

      other ->
        {key, [], [tag <> "versions: #{inspect(other)}"]}
    end
  end

  defp check_version(pid, key, v, deleted, w, n) do
    got = LiteStash.get_raw(pid, key, version: v)

    seen =
      case got do
        {:ok, b} -> {deleted, b}
        _ -> {deleted, nil}
      end

    failures =
      cond do
        # more versions than expected: already reported, only recorded for the txn checks
        w == nil ->
          []

        w["deleted"] ->
          if got == {:error, :not_found},
            do: [],
            else: ["version ##{n} (#{v}) is a tombstone, but get gave #{inspect(got)}"]

        got == {:ok, Vectors.unhex!(w["value_hex"])} ->
          expected = Vectors.expected(w["json"])

          case LiteStash.get(pid, key, version: v) do
            {:ok, value} when value === expected -> []
            other -> ["version ##{n}: decoded #{inspect(other)}, expected #{inspect(expected)}"]
          end

        true ->
          ["get version ##{n} (#{v}): #{inspect(got)}, expected bytes #{w["value_hex"]}"]
      end

    {seen, failures}
  end

  defp check_current(pid, k, vs) do
    case {k["live"], LiteStash.get_raw(pid, k["key"]), LiteStash.get_versioned(pid, k["key"])} do
      {true, {:ok, bytes}, {:ok, _, version}} ->
        want = hd(k["versions"])["value_hex"]

        if [version] == Enum.take(vs, 1) and bytes == Vectors.unhex!(want),
          do: [],
          else: [
            "get: version #{version}, bytes #{Base.encode16(bytes, case: :lower)}, " <>
              "expected #{inspect(List.first(vs))} with #{want}"
          ]

      {false, {:error, :not_found}, {:error, :not_found}} ->
        []

      {live, raw, _} ->
        ["get: #{inspect(raw)}, expected #{if live, do: "the newest version", else: "absent"}"]
    end
  end

  # {stream => %{id => bytes}, failures}
  defp verify_streams(pid, doc) do
    results =
      for hs <- doc["streams"] do
        name = hs["stream"]

        case LiteStash.xrange_raw(pid, name, limit: 1000) do
          {:ok, got, false} ->
            want = Enum.map(hs["entries"], &{&1["id"], Vectors.unhex!(&1["value_hex"])})
            got_pairs = Enum.map(got, &{&1.id, &1.value})

            failures =
              if got_pairs == want,
                do: [],
                else: [
                  "history stream #{inspect(name)}: entries #{inspect(got_pairs)}, " <>
                    "expected #{inspect(want)}"
                ]

            {{name, Map.new(got_pairs)}, failures}

          other ->
            {{name, %{}}, ["history stream #{inspect(name)}: xrange #{inspect(other)}"]}
        end
      end

    {Map.new(results, &elem(&1, 0)), Enum.flat_map(results, &elem(&1, 1))}
  end

  defp verify_txn(st, found, entries) do
    ok? = st["expect"] == "ok"

    Enum.flat_map(st["ops"], fn
      %{"op" => "set", "key" => key} = op ->
        values = for {false, b} <- Map.get(found, key, []), b != nil, do: b
        present? = Vectors.unhex!(op["value_hex"]) in values

        cond do
          present? == ok? -> []
          ok? -> ["set #{inspect(key)}: value #{op["value_hex"]} missing"]
          true -> ["set #{inspect(key)}: value #{op["value_hex"]} present, the txn failed"]
        end

      %{"op" => "delete", "key" => key, "deleted" => true} when ok? ->
        if Enum.any?(Map.get(found, key, []), &elem(&1, 0)),
          do: [],
          else: ["delete #{inspect(key)}: no tombstone"]

      %{"op" => "xadd", "stream" => s} = op ->
        stored = Map.get(entries, s, %{})
        bytes = Vectors.unhex!(op["value_hex"])

        cond do
          ok? and Map.get(stored, op["entry_id"]) != bytes ->
            ["xadd #{inspect(s)}: entry #{op["entry_id"]} missing"]

          not ok? and bytes in Map.values(stored) ->
            ["xadd #{inspect(s)}: value #{op["value_hex"]} appended, the txn failed"]

          true ->
            []
        end

      _ ->
        []
    end)
  end
end
