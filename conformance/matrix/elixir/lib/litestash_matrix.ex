defmodule LiteStash.Matrix do
  @moduledoc """
  The cross-language matrix role of the Elixir host (`conformance/matrix/elixir/matrix.sh`),
  built on the `:litestash` library (`hosts/elixir`) like any application:

  * `write DATA_DIR` — stores every entry of `dataset.json`. When this host's native encoding
    of the entry's `json` description gives exactly `value_hex`, the entry is written with
    `LiteStash.set/4` (a real native write); otherwise the raw bytes go through `set_raw/4`.
  * `verify DATA_DIR` — reads every key back and checks (a) the raw bytes equal `value_hex` and
    (b) the decoded value is strictly equal (`===`, so 1 and 1.0 differ) to the Elixir term the
    `json` description stands for. Prints `verify OK N keys` or every mismatch.

  Returns the exit status for the script.
  """

  alias LiteStash.Msgpack
  alias LiteStash.Matrix.Vectors

  def main(argv) do
    case argv do
      ["write", dir] -> run(dir, &write/2)
      ["verify", dir] -> run(dir, &verify/2)
      _ -> usage()
    end
  end

  defp usage do
    IO.puts(:stderr, "usage: matrix.sh write|verify DATA_DIR")
    64
  end

  defp run(dir, fun) do
    entries = Vectors.load!("dataset")["entries"]

    case LiteStash.start(data_dir: dir, name: nil, log_level: "warn") do
      {:ok, pid} ->
        try do
          fun.(pid, entries)
        after
          LiteStash.stop(pid)
        end

      {:error, reason} ->
        IO.puts(:stderr, "elixir matrix: cannot start the engine: #{inspect(reason)}")
        1
    end
  end

  defp write(pid, entries) do
    results =
      for e <- entries do
        bytes = Vectors.unhex!(e["value_hex"])
        native = Vectors.native(e["json"])

        {mode, result} =
          if Msgpack.encode(native) |> elem(1) |> IO.iodata_to_binary() == bytes,
            do: {:native, LiteStash.set(pid, e["key"], native)},
            else: {:raw, LiteStash.set_raw(pid, e["key"], bytes)}

        {e["key"], mode, result}
      end

    failures = for {k, _m, r} <- results, r != :ok, do: {k, r}
    :ok = LiteStash.sync(pid)

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

  defp verify(pid, entries) do
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
end
