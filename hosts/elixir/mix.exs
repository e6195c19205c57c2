# The Elixir host of litestash-engine as a Mix library: app `:litestash`, module `LiteStash`.
# Use it as a path dependency: `{:litestash, path: "path/to/hosts/elixir"}`.
# No hex dependencies: only the Elixir standard library and OTP (:crypto for BLAKE2b).
defmodule LiteStash.MixProject do
  use Mix.Project

  def project do
    [
      app: :litestash,
      version: "0.1.0",
      elixir: "~> 1.14",
      description: "Elixir host for litestash-engine (spawns the engine, speaks its protocol)",
      start_permanent: Mix.env() == :prod,
      deps: [],
      # test/support holds test helpers only; they are never part of the library.
      elixirc_paths: elixirc_paths(Mix.env()),
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
