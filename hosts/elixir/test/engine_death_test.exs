defmodule LiteStash.EngineDeathTest do
  @moduledoc """
  An engine that dies while the host writes to it. Erlang then closes the port on the broken
  pipe (`{:EXIT, port, :epipe}`) and never delivers the engine's exit status: the host must
  still answer every caller and stop, not leave them to time out against a dead port.

  Not async: the first test freezes this VM's `erl_child_setup` (the process that forks every
  port's program and reports its exit status), which would stall other tests' engine starts.
  """
  use ExUnit.Case, async: false

  import LiteStash.TestHelpers

  # State letter and parent pid of an OS process, from /proc/<pid>/stat.
  defp proc_stat(os_pid) do
    stat = File.read!("/proc/#{os_pid}/stat")
    [state, ppid | _] = stat |> String.split(") ") |> List.last() |> String.split(" ")
    {state, ppid}
  end

  # While erl_child_setup is frozen this VM cannot start an OS process (System.cmd would hang),
  # so a shell started beforehand does the signalling: it freezes the forker, kills the engine,
  # waits until the engine is a zombie (its pipes closed, its status not reported), touches
  # `ready`, then thaws the forker once `done` exists or after 10 s whatever happens.
  @freeze_script ~S"""
  kill -STOP "$1" || exit 1
  kill -KILL "$2"
  i=0
  while [ $i -lt 500 ] && [ "$(sed 's/.*) //' /proc/$2/stat | cut -c1)" != Z ]; do
    sleep 0.01; i=$((i + 1))
  done
  touch "$3/ready"
  i=0
  while [ $i -lt 1000 ] && [ ! -e "$3/done" ]; do sleep 0.01; i=$((i + 1)); done
  kill -CONT "$1"
  """

  test "a request written after the engine died is answered {:engine_exited, :epipe}" do
    {s, _dir} = start_stash!()
    assert :ok = LiteStash.set(s, "k", 1)
    os_pid = LiteStash.info(s).os_pid
    # This VM's erl_child_setup: the engine's parent.
    {_, forker} = proc_stat(os_pid)
    flags = tmp_dir!("flags")
    ref = Process.monitor(s)

    Port.open({:spawn_executable, "/bin/sh"},
      args: ["-c", @freeze_script, "freeze", forker, "#{os_pid}", flags]
    )

    try do
      wait_until(fn -> File.exists?(Path.join(flags, "ready")) end)
      # The engine is dead and nobody reported it: this write meets the broken pipe.
      assert {:error, {:engine_exited, :epipe}} = LiteStash.get(s, "k", timeout: 5_000)
    after
      File.touch!(Path.join(flags, "done"))
      # Thawed before `flags` goes away with the test, and before other tests spawn engines.
      wait_until(fn -> elem(proc_stat(forker), 0) != "T" end, 15_000)
    end

    assert_receive {:DOWN, ^ref, :process, ^s, {:shutdown, {:engine_exited, :epipe}}}, 5_000
    assert {:error, :not_running} = LiteStash.get(s, "k")
  end

  test "an engine that exits before reading hello fails start, whichever message comes first" do
    # A bad flag makes the engine exit 64 (usage) at once. Erlang reports that status unless
    # the hello is written after the engine exited and before the status came back (:epipe).
    results =
      for _ <- 1..20 do
        LiteStash.start(engine: engine!(), name: nil, engine_args: ["--no-such-flag"])
      end

    for r <- results,
        do: assert(r in [{:error, {:engine_exited, 64}}, {:error, {:engine_exited, :epipe}}])

    assert {:error, {:engine_exited, 64}} in results, "the exit status arrives in most starts"
  end
end
