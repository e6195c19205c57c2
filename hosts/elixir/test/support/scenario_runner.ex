defmodule LiteStash.ScenarioRunner do
  @moduledoc """
  Runs `conformance/vectors/scenario.json` (its MessagePack twin) against a real engine, at the
  frame level: one fresh engine on an empty data dir, each step's `request` bytes sent as one
  `{:packet, 4}` frame (empty = a frame with L = 0), one answer read and checked against
  `expect` (see the vectors README), strictly in order. At the end stdin is closed and the exit
  status must be 0.

  The engine runs under `/bin/sh` only to learn its exit status after its stdin is closed (an
  Erlang port cannot half-close) and to keep its log in a file: `sh` records `$?` in a file.

  `run/2` returns `{:ok, steps_run}` or `{:error, [failure_text]}`.
  """

  alias LiteStash.Msgpack
  alias LiteStash.Msgpack.Bin

  @step_timeout 10_000

  def run(scenario, engine, work_dir) do
    data_dir = Path.join(work_dir, "data")
    status_file = Path.join(work_dir, "exit_status")
    log_file = Path.join(work_dir, "engine.log")
    File.mkdir_p!(data_dir)

    script = ~S'"$0" "$@" 2>"$LS_LOG"; echo $? >"$LS_STATUS"'

    port =
      Port.open({:spawn_executable, "/bin/sh"}, [
        :binary,
        {:packet, 4},
        :exit_status,
        args: ["-c", script, engine, "--data-dir", data_dir | scenario["engine_args"]],
        env: [{~c"LS_LOG", to_charlist(log_file)}, {~c"LS_STATUS", to_charlist(status_file)}]
      ])

    steps = scenario["steps"]

    failures =
      steps
      |> Enum.with_index()
      |> Enum.reduce_while([], fn {step, i}, acc ->
        case run_step(port, step) do
          [] -> {:cont, acc}
          errs -> step_failed(acc, i, step, errs)
        end
      end)

    Port.close(port)
    status = wait_status(status_file, 100)

    failures =
      if status == "0",
        do: failures,
        else: failures ++ ["engine exit status after stdin closed: #{inspect(status)} (want 0)"]

    case failures do
      [] ->
        {:ok, length(steps)}

      _ ->
        log = File.read(log_file) |> elem(1) |> to_string() |> String.slice(-4000, 4000)
        {:error, failures ++ ["engine log tail:\n" <> log]}
    end
  end

  # A broken step is reported; if the engine died, the rest would all fail the same way.
  defp step_failed(acc, i, step, errs) do
    msg = "step #{i} (#{step["describe"]}), request #{step["request"]}: " <> Enum.join(errs, "; ")

    if Enum.any?(errs, &String.starts_with?(&1, "engine")),
      do: {:halt, acc ++ [msg]},
      else: {:cont, acc ++ [msg]}
  end

  defp run_step(port, step) do
    Port.command(port, Base.decode16!(step["request"], case: :mixed))

    receive do
      {^port, {:data, data}} -> check(data, step["expect"])
      {^port, {:exit_status, s}} -> ["engine exited with status #{s}"]
    after
      @step_timeout -> ["engine did not answer within #{@step_timeout} ms"]
    end
  end

  defp wait_status(_file, 0), do: :no_status

  defp wait_status(file, n) do
    case File.read(file) do
      {:ok, s} when s != "" -> String.trim(s)
      _ -> Process.sleep(50) && wait_status(file, n - 1)
    end
  end

  @doc "Checks one response body against one `expect` map; returns the list of mismatches."
  def check(data, expect) do
    with {:ok, resp} <- Msgpack.decode(data),
         {:ok, spans} <- Msgpack.decode_map_spans(data) do
      Enum.flat_map(expect, fn {name, want} -> check_one(name, want, resp, spans) end)
    else
      {:error, reason} -> ["response is not a MessagePack map: #{inspect(reason)} #{hex(data)}"]
    end
    |> Enum.map(&(&1 <> " — response #{inspect(safe_decode(data))}"))
  end

  defp check_one("ok", want, resp, _), do: eq("ok", resp["ok"], want)

  defp check_one("id", want, resp, _) do
    if Map.has_key?(resp, "id"), do: eq("id", resp["id"], want), else: ["id missing"]
  end

  defp check_one("code", want, resp, _) do
    case resp["error"] do
      %{"code" => ^want, "message" => m} when is_binary(m) -> []
      other -> ["error #{inspect(other)}, want code #{inspect(want)} with a str message"]
    end
  end

  defp check_one("fields", fields, resp, _) do
    Enum.flat_map(fields, fn {name, want} ->
      if Map.has_key?(resp, name), do: eq(name, resp[name], want), else: ["field #{name} missing"]
    end)
  end

  defp check_one("value_hex", want, _resp, spans) do
    case spans["value"] do
      nil -> ["value missing"]
      raw -> if hex(raw) == want, do: [], else: ["value bytes #{hex(raw)}, want #{want}"]
    end
  end

  defp check_one("values_hex", want, _resp, spans) do
    with raw when is_binary(raw) <- spans["values"],
         {:ok, items} <- Msgpack.split_array(raw) do
      want_bytes =
        Enum.map(want, fn
          nil -> "c0"
          h -> h
        end)

      got = Enum.map(items, &hex/1)

      if got == want_bytes,
        do: [],
        else: ["values bytes #{inspect(got)}, want #{inspect(want_bytes)}"]
    else
      other -> ["values not an array: #{inspect(other)}"]
    end
  end

  defp check_one("types", types, resp, _) do
    Enum.flat_map(types, fn {name, t} ->
      if Map.has_key?(resp, name) and type?(resp[name], t),
        do: [],
        else: ["field #{name} = #{inspect(resp[name])} is not of type #{t}"]
    end)
  end

  defp check_one("absent", names, resp, _) do
    for n <- names, Map.has_key?(resp, n), do: "field #{n} must be absent"
  end

  defp check_one("len", lens, resp, _) do
    for {name, n} <- lens,
        not (is_list(resp[name]) and length(resp[name]) == n),
        do: "field #{name} should be an array of length #{n}"
  end

  defp check_one("contains", lists, resp, _) do
    for {name, items} <- lists,
        item <- items,
        not (is_list(resp[name]) and Enum.member?(resp[name], item)),
        do: "field #{name} should contain #{inspect(item)}"
  end

  defp check_one("shard_keys", want, resp, _), do: per_shard(resp, "keys", want)
  defp check_one("shard_expiring", want, resp, _), do: per_shard(resp, "expiring", want)
  defp check_one(other, _want, _resp, _), do: ["unknown expect field #{other} (runner too old?)"]

  defp per_shard(resp, field, want) do
    case resp["shards"] do
      shards when is_list(shards) ->
        got =
          shards
          |> Enum.with_index()
          |> Enum.map(fn {m, i} -> {(is_map(m) && m["shard"]) || i, is_map(m) && m[field]} end)
          |> Enum.sort()
          |> Enum.map(&elem(&1, 1))

        if got === want, do: [], else: ["shards[].#{field} #{inspect(got)}, want #{inspect(want)}"]

      other ->
        ["shards is not an array: #{inspect(other)}"]
    end
  end

  # Plain JSON-style equality: exact types (an int is not a float), element-wise for arrays.
  defp eq(name, got, want) do
    if got === want, do: [], else: ["#{name} = #{inspect(got)}, want #{inspect(want)}"]
  end

  defp type?(v, "uint"), do: is_integer(v) and v >= 0
  defp type?(v, "str"), do: is_binary(v)
  defp type?(v, "bool"), do: is_boolean(v)
  defp type?(v, "array"), do: is_list(v)
  defp type?(v, "map"), do: is_map(v) and not is_struct(v)
  defp type?(v, "nil"), do: v == nil
  defp type?(_v, _), do: false

  defp hex(%Bin{data: d}), do: hex(d)
  defp hex(b), do: Base.encode16(b, case: :lower)

  defp safe_decode(data) do
    case Msgpack.decode(data) do
      {:ok, v} -> v
      _ -> {:raw, hex(data)}
    end
  end
end
