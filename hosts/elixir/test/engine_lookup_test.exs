defmodule LiteStash.EngineLookupTest do
  @moduledoc """
  How the engine binary is found (explicit `:engine`, then env `LITESTASH_ENGINE`, then
  `litestash-engine` on `PATH`) and the default `--log-level warn`. Not async: the tests change
  the environment (sync modules run after every async one).
  """
  use ExUnit.Case, async: false
  import LiteStash.TestHelpers

  setup do
    engine = engine!()
    saved = for v <- ["LITESTASH_ENGINE", "PATH", "LITESTASH_LOG_LEVEL"], do: {v, System.get_env(v)}

    on_exit(fn ->
      for {v, val} <- saved, do: if(val, do: System.put_env(v, val), else: System.delete_env(v))
    end)

    %{engine: engine}
  end

  # A directory holding `litestash-engine` (a symlink to the real one), to put on PATH.
  defp bin_dir!(engine) do
    dir = tmp_dir!("bin")
    File.ln_s!(engine, Path.join(dir, "litestash-engine"))
    dir
  end

  test "explicit path first, even when LITESTASH_ENGINE is set", %{engine: engine} do
    System.put_env("LITESTASH_ENGINE", "/nonexistent/env-engine")
    assert {:ok, ^engine} = LiteStash.find_engine(engine)
  end

  test "a missing explicit path is reported with the path" do
    assert {:error, {:engine_not_found, msg}} = LiteStash.find_engine("/nonexistent/x/engine")
    assert msg =~ "litestash-engine not found"
    assert msg =~ "/nonexistent/x/engine"

    assert {:error, {:engine_not_found, msg}} =
             LiteStash.start(engine: "/nonexistent/x/engine", name: nil)

    assert msg =~ "/nonexistent/x/engine"
  end

  test "LITESTASH_ENGINE before PATH; a wrong one is reported as such", %{engine: engine} do
    System.put_env("PATH", bin_dir!(engine))
    System.put_env("LITESTASH_ENGINE", engine)
    assert {:ok, ^engine} = LiteStash.find_engine()
    System.put_env("LITESTASH_ENGINE", "/nonexistent/env-engine")
    assert {:error, {:engine_not_found, msg}} = LiteStash.find_engine()
    assert msg =~ "LITESTASH_ENGINE" and msg =~ "/nonexistent/env-engine"
  end

  test "litestash-engine on PATH last; none anywhere names every place", %{engine: engine} do
    System.delete_env("LITESTASH_ENGINE")
    dir = bin_dir!(engine)
    System.put_env("PATH", dir)
    assert {:ok, found} = LiteStash.find_engine()
    assert found == Path.join(dir, "litestash-engine")
    {pid, _} = start_stash!(engine: nil)
    assert :ok = LiteStash.ping(pid)

    System.put_env("PATH", tmp_dir!("empty"))
    assert {:error, {:engine_not_found, msg}} = LiteStash.find_engine()
    assert msg =~ ":engine" and msg =~ "LITESTASH_ENGINE" and msg =~ "PATH"
  end

  defp cmdline(pid) do
    %{os_pid: os_pid} = LiteStash.info(pid)
    File.read!("/proc/#{os_pid}/cmdline") |> String.split(<<0>>, trim: true)
  end

  defp log_level_arg(args) do
    case Enum.drop_while(args, &(&1 != "--log-level")) do
      ["--log-level", level | _] -> level
      [] -> nil
    end
  end

  test "the engine logs at warn unless :log_level says otherwise", %{engine: engine} do
    # start_stash!/1 passes log_level: "error"; here no :log_level option at all.
    {:ok, pid} = LiteStash.start(engine: engine, data_dir: tmp_dir!("d1"), name: nil)

    on_exit(fn ->
      try do
        if Process.alive?(pid), do: LiteStash.stop(pid)
      catch
        :exit, _ -> :ok
      end
    end)

    assert log_level_arg(cmdline(pid)) == "warn"

    {pid, _} = start_stash!(log_level: "error")
    assert log_level_arg(cmdline(pid)) == "error"

    # nil: no flag, so the engine's own default or its env LITESTASH_LOG_LEVEL applies.
    System.put_env("LITESTASH_LOG_LEVEL", "error")
    {pid, _} = start_stash!(log_level: nil)
    assert log_level_arg(cmdline(pid)) == nil
  end
end
