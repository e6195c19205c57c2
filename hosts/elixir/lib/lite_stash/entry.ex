defmodule LiteStash.Entry do
  @moduledoc """
  One entry of a stream (contract v2 section 2): `id` is the entry id (1, 2, ... within the
  stream), `ts` the append time in microseconds since the epoch (strictly increasing along the
  ids), `value` the decoded value, or its exact MessagePack bytes for the `_raw` reads
  (`LiteStash.xrange_raw/3`, ...) and `raw: true` in `LiteStash.Consumer` /
  `LiteStash.Subscriber`.
  """
  defstruct [:id, :ts, :value]

  @type t :: %__MODULE__{id: pos_integer, ts: non_neg_integer, value: term}
end
