defmodule LiteStash.Routing do
  @moduledoc """
  Key routing shared with the engine (contract section 3): the digest is BLAKE2b-512 of the
  key's UTF-8 bytes (OTP's `:crypto.hash(:blake2b, _)` is exactly that: unkeyed, 64 bytes);
  the shard is the first 8 digest bytes as a big-endian uint64, modulo the shard count.
  """

  @doc "The 64-byte BLAKE2b-512 digest of `key`."
  @spec digest(binary) :: <<_::512>>
  def digest(key) when is_binary(key), do: :crypto.hash(:blake2b, key)

  @doc "The shard of `key` among `shards` shards."
  @spec shard(binary, pos_integer) :: non_neg_integer
  def shard(key, shards) when is_binary(key) and is_integer(shards) and shards > 0 do
    <<prefix::unsigned-big-64, _::binary>> = digest(key)
    rem(prefix, shards)
  end
end
