defmodule LiteStash.Error do
  @moduledoc """
  Engine error codes (contract section 2). Known codes become atoms, an unknown code stays a
  string (the contract allows new codes; hosts treat them as failures without crashing).
  Client calls answer `{:error, {code, message}}` for engine errors.
  """

  @known ~w(bad_frame frame_too_large bad_request type_error unknown_op invalid_key
            value_too_large wrong_shard conflict storage_error shutting_down internal)

  @doc "The list of error codes this host knows as atoms."
  def known_codes, do: Enum.map(@known, &String.to_atom/1)

  @doc "Maps a wire code to an atom when known, else keeps the string."
  @spec code(binary) :: atom | binary
  for c <- @known do
    def code(unquote(c)), do: unquote(String.to_atom(c))
  end

  def code(other) when is_binary(other), do: other
end
