defmodule LiteStash.TestHelpers do
  @moduledoc "Shared helpers for the ExUnit suite: engine path, temp dirs, engine start/stop."

  import ExUnit.Callbacks, only: [on_exit: 1]

  @doc "The engine binary, found as the library finds it; raises a clear message when missing."
  def engine! do
    case LiteStash.find_engine() do
      {:ok, path} ->
        path

      {:error, {:engine_not_found, message}} ->
        raise message <> " (build it or set LITESTASH_ENGINE)"
    end
  end

  @doc "A fresh temp directory removed when the test exits."
  def tmp_dir!(tag \\ "t") do
    dir =
      Path.join(
        System.tmp_dir!(),
        "litestash-ex-#{tag}-#{System.os_time(:nanosecond)}-#{System.unique_integer([:positive])}"
      )

    File.mkdir_p!(dir)
    on_exit(fn -> File.rm_rf!(dir) end)
    dir
  end

  @doc """
  Starts an unnamed, unlinked LiteStash on a fresh data dir and stops it (waiting for the
  engine to exit) when the test ends. Returns `{pid, data_dir}`.
  """
  def start_stash!(opts \\ []) do
    dir = Keyword.get_lazy(opts, :data_dir, fn -> tmp_dir!("data") end)
    opts = Keyword.merge([engine: engine!(), data_dir: dir, name: nil, log_level: "error"], opts)
    {:ok, pid} = LiteStash.start(opts)

    on_exit(fn ->
      try do
        if Process.alive?(pid), do: LiteStash.stop(pid)
      catch
        :exit, _ -> :ok
      end
    end)

    {pid, dir}
  end

  @doc "Polls `fun` every 10 ms until it returns a truthy value (raises after `timeout` ms)."
  def wait_until(fun, timeout \\ 5_000) do
    cond do
      result = fun.() -> result
      timeout <= 0 -> raise ExUnit.AssertionError, message: "condition not met in time"
      true -> Process.sleep(10) && wait_until(fun, timeout - 10)
    end
  end

  def hex(bin), do: Base.encode16(bin, case: :lower)
  def unhex(hex), do: hex |> String.replace(" ", "") |> Base.decode16!(case: :mixed)
end
