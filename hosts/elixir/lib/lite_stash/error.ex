defmodule LiteStash.Error do
  @moduledoc """
  Engine error codes (contract section 2) and the exception raised where a result tuple cannot
  be returned (the `Stream`s of `LiteStash.stream_names/2` and `LiteStash.Consumer.stream/4`).

  Known codes become atoms, an unknown code stays a string (the contract allows new codes;
  hosts treat them as failures without crashing). Client calls answer:

  * `{:error, {code, message}}` for engine errors, e.g. `{:error, {:wrong_shard, "key routes
    to shard 14 of 16, request says 3"}}`;
  * `{:error, {:conflict, message, %{version: v, key: k}}}` for `conflict` (a failed
    compare-and-set or transaction check, contract v2 sections 4 and 5): `version` is the key's
    current version (0 when absent), `key` the key whose check failed (the engine's `key` when
    it sends one, as for transactions; else the request's own key; `nil` when neither is
    known). This is the only engine error with a third element.

  As an exception, `%LiteStash.Error{reason: reason}` carries the `reason` of the
  `{:error, reason}` tuple the equivalent call would have returned.
  """

  defexception [:reason]

  @known ~w(bad_frame frame_too_large bad_request type_error unknown_op invalid_key
            value_too_large wrong_shard conflict storage_error shutting_down internal)

  @impl true
  def message(%__MODULE__{reason: reason}), do: "litestash: #{inspect(reason)}"

  @doc "The list of error codes this host knows as atoms."
  def known_codes, do: Enum.map(@known, &String.to_atom/1)

  @doc "Maps a wire code to an atom when known, else keeps the string."
  @spec code(binary) :: atom | binary
  for c <- @known do
    def code(unquote(c)), do: unquote(String.to_atom(c))
  end

  def code(other) when is_binary(other), do: other

  @doc """
  Turns the decoded `error` map of an answer into the reason of `{:error, reason}`:
  `{code, message}`, or `{:conflict, message, %{version: v, key: k}}` for a conflict.
  Returns `nil` for a map that is not a valid error map.
  """
  @spec from_wire(term) :: {atom | binary, binary} | {:conflict, binary, map} | nil
  def from_wire(%{"code" => "conflict", "message" => msg} = err) when is_binary(msg) do
    {:conflict, msg, %{version: Map.get(err, "version"), key: Map.get(err, "key")}}
  end

  def from_wire(%{"code" => code, "message" => msg}) when is_binary(code) and is_binary(msg),
    do: {code(code), msg}

  def from_wire(_), do: nil
end
