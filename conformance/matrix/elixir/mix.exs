# The Elixir host of the cross-language matrix (conformance/matrix/run_matrix.py): a small mix
# project that uses the Elixir host library from hosts/elixir as a path dependency, exactly as
# an application would. Offline: no hex packages.
defmodule LiteStashMatrix.MixProject do
  use Mix.Project

  def project do
    [
      app: :litestash_matrix,
      version: "0.1.0",
      elixir: "~> 1.14",
      deps: [{:litestash, path: "../../../hosts/elixir"}],
      test_paths: ["test"],
      preferred_cli_env: [test: :test]
    ]
  end

  def application do
    [extra_applications: [:logger]]
  end
end
