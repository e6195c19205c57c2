# Mix project for the Elixir host of litestash-engine (conformance suite).
# No hex dependencies: only the Elixir standard library and OTP (:crypto for BLAKE2b).
defmodule LiteStash.MixProject do
  use Mix.Project

  def project do
    [
      app: :lite_stash,
      version: "0.1.0",
      elixir: "~> 1.14",
      start_permanent: Mix.env() == :prod,
      deps: [],
      elixirc_paths: elixirc_paths(Mix.env()),
      # The test suite spawns engines; keep it to the two cores of the CI box.
      test_paths: ["test"],
      preferred_cli_env: [test: :test]
    ]
  end

  defp elixirc_paths(:test), do: ["lib", "test/support"]
  defp elixirc_paths(_), do: ["lib"]

  def application do
    [extra_applications: [:logger, :crypto]]
  end
end
