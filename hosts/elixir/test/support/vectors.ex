defmodule LiteStash.Vectors do
  @moduledoc """
  Test helper: the shared conformance vectors in `<repo>/conformance/vectors/` (see its
  README). Each `X.json` there has a twin `X.msgpack` holding the same document; Elixir 1.14 /
  OTP 25 ship no JSON parser (and no hex packages are used), so the twins are read with the
  host's own codec. (The data set's `json` descriptions are turned into Elixir terms by the
  matrix host, `conformance/matrix/elixir`.)
  """

  alias LiteStash.Msgpack

  @default_dir Path.expand("../../../../conformance/vectors", __DIR__)

  @doc "The vectors directory (env `LITESTASH_VECTORS` overrides)."
  def dir, do: System.get_env("LITESTASH_VECTORS") || @default_dir

  @doc "Loads `name` (`\"dataset\"`, `\"scenario\"`, `\"hash_vectors\"`) from its MessagePack twin."
  def load!(name) do
    path = Path.join(dir(), name <> ".msgpack")

    case File.read(path) do
      {:ok, bin} -> Msgpack.decode!(bin)
      {:error, reason} -> raise "cannot read #{path}: #{:file.format_error(reason)}"
    end
  end
end
