defmodule LiteStash.Matrix.Vectors do
  @moduledoc """
  The matrix host's access to the shared conformance vectors in `<repo>/conformance/vectors/`
  (see its README).
  Each `X.json` there has a twin `X.msgpack` holding the same document; this host has no JSON
  parser (Elixir 1.14/OTP 25 ship none and no hex packages are available), so it reads the
  twins with its own codec.

  `expected/1` and `native/1` turn a dataset `json` node (`{"int": 1}`, `{"map": {...}}`, ...)
  into Elixir terms: `expected/1` is what `LiteStash.Msgpack.decode/1` must produce for the
  value, `native/1` is what this host encodes to produce the value's bytes natively.
  """

  alias LiteStash.Msgpack
  alias LiteStash.Msgpack.Bin

  @default_dir Path.expand("../../../../vectors", __DIR__)

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

  @doc "Decodes lowercase or uppercase hex."
  def unhex!(hex), do: Base.decode16!(hex, case: :mixed)

  @doc "The decoded Elixir term a dataset node describes."
  def expected(%{"nil" => nil}), do: nil
  def expected(%{"bool" => b}) when is_boolean(b), do: b
  def expected(%{"int" => i}) when is_integer(i), do: i
  def expected(%{"f64" => x}) when is_number(x), do: x * 1.0
  def expected(%{"f32" => x}) when is_number(x), do: x * 1.0
  def expected(%{"str" => s}) when is_binary(s), do: s
  def expected(%{"bin_hex" => h}), do: %Bin{data: unhex!(h)}
  def expected(%{"array" => items}), do: Enum.map(items, &expected/1)
  def expected(%{"map" => m}), do: Map.new(m, fn {k, v} -> {k, expected(v)} end)

  @doc "The term this host encodes natively to produce the bytes a dataset node describes."
  def native(%{"f32" => x}), do: {:f32, x * 1.0}
  def native(%{"array" => items}), do: Enum.map(items, &native/1)
  def native(%{"map" => m}), do: Map.new(m, fn {k, v} -> {k, native(v)} end)
  def native(node), do: expected(node)
end
