defmodule LiteStash.ScenarioTest do
  @moduledoc "Runs the shared frame-level scenario (conformance/vectors/scenario.json)."
  use ExUnit.Case, async: true

  import LiteStash.TestHelpers

  test "scenario.json passes step by step, engine exits 0" do
    scenario = LiteStash.Vectors.load!("scenario")
    assert scenario["format"] == "litestash-scenario/1"

    case LiteStash.ScenarioRunner.run(scenario, engine!(), tmp_dir!("scenario")) do
      {:ok, n} -> assert n == length(scenario["steps"]) and n > 100
      {:error, failures} -> flunk(Enum.join(failures, "\n"))
    end
  end

  test "the runner's checker fails on wrong answers (it can fail)" do
    resp = LiteStash.Msgpack.encode!(%{"id" => 1, "ok" => true, "found" => true, "value" => 5})
    assert LiteStash.ScenarioRunner.check(resp, %{"ok" => true, "id" => 1}) == []
    assert [_] = LiteStash.ScenarioRunner.check(resp, %{"ok" => false})
    assert [_] = LiteStash.ScenarioRunner.check(resp, %{"value_hex" => "cc05"})
    assert [_] = LiteStash.ScenarioRunner.check(resp, %{"fields" => %{"found" => 1}})
    assert [_] = LiteStash.ScenarioRunner.check(resp, %{"absent" => ["value"]})
    assert [_] = LiteStash.ScenarioRunner.check(resp, %{"types" => %{"value" => "str"}})
  end
end
