defmodule LiteStash.Msgpack do
  @moduledoc """
  A self-contained MessagePack codec (no hex packages), written for the litestash host.

  ## Encoding (`encode/1`, `encode!/1`)

  | Elixir term                                   | MessagePack                                   |
  | --------------------------------------------- | --------------------------------------------- |
  | `nil`, `true`, `false`                        | nil, true, false                              |
  | integer in -2^63 .. 2^64-1                    | smallest of fixint / (u)int 8/16/32/64        |
  | float                                         | float 64                                      |
  | `{:f32, x}` / `{:f64, x}`                     | float 32 / float 64 (`x` may be `:nan`, `:infinity`, `:neg_infinity`) |
  | binary that is valid UTF-8                    | smallest of fixstr / str 8/16/32              |
  | binary that is not valid UTF-8                | bin 8/16/32                                   |
  | `{:bin, b}` or `%LiteStash.Msgpack.Bin{}`     | bin 8/16/32 (forces bin for UTF-8 data)       |
  | `{:str, b}`                                   | str 8/16/32 with `b` as is, even if not UTF-8 (keys) |
  | atom (other than nil/true/false)              | str of `Atom.to_string/1`                     |
  | list                                          | array                                         |
  | map                                           | map (in Elixir's iteration order)             |
  | `{:map, [{k, v}, ...]}`                       | map with exactly these pairs in this order    |
  | `%LiteStash.Msgpack.Ext{type: t, data: d}`    | fixext 1/2/4/8/16 or ext 8/16/32              |
  | `%LiteStash.Msgpack.Raw{bytes: b}`            | `b` copied verbatim (must be one encoded object) |

  Anything else (tuples, pids, integers out of range, non-byte bitstrings) is refused with
  `{:error, {:unencodable, term}}`.

  ## Decoding (`decode/2`)

  Every format family is understood: fixint, (u)int 8..64, float 32/64, fixstr/str 8/16/32,
  bin 8/16/32, fixarray/array 16/32, fixmap/map 16/32, fixext 1..16 / ext 8/16/32, nil, bools.
  str becomes a binary (not checked for UTF-8), bin becomes `%LiteStash.Msgpack.Bin{}`, ext
  becomes `%LiteStash.Msgpack.Ext{}` (the timestamp type -1 included), maps become Elixir maps
  (a later duplicate key wins). Erlang floats cannot hold NaN or infinities, so those decode as
  `{:f32 | :f64, :nan | :infinity | :neg_infinity}`, which encode back to the same width.

  Limits (options): `:max_depth` (default 512 nested containers), and every declared length is
  checked against the bytes actually present before anything is allocated, so a hostile header
  cannot make the decoder allocate more than the input size.

  ## Raw spans

  `skip/1` returns the byte length of the first object in a binary without building terms; the
  host uses it to slice values out of engine responses exactly as the engine sent them
  (`decode_map_spans/1`, `split_array/1`).
  """

  import Bitwise

  defmodule Bin do
    @moduledoc "A MessagePack bin (byte array) value, as opposed to a str."
    defstruct data: <<>>
    @type t :: %__MODULE__{data: binary}
  end

  defmodule Ext do
    @moduledoc "A MessagePack ext value: a signed 8-bit type and opaque data."
    defstruct type: 0, data: <<>>
    @type t :: %__MODULE__{type: -128..127, data: binary}
  end

  defmodule Raw do
    @moduledoc "Bytes that already hold exactly one encoded MessagePack object."
    defstruct bytes: <<>>
    @type t :: %__MODULE__{bytes: binary}
  end

  @default_max_depth 512

  # ------------------------------------------------------------------ encoding

  @doc "Encodes `term` into iodata. Returns `{:ok, iodata}` or `{:error, reason}`."
  @spec encode(term) :: {:ok, iodata} | {:error, term}
  def encode(term) do
    {:ok, enc(term)}
  catch
    {:unencodable, _} = reason -> {:error, reason}
  end

  @doc "Like `encode/1` but returns a binary and raises `ArgumentError` on failure."
  @spec encode!(term) :: binary
  def encode!(term) do
    case encode(term) do
      {:ok, iodata} -> IO.iodata_to_binary(iodata)
      {:error, reason} -> raise ArgumentError, "cannot encode to MessagePack: #{inspect(reason)}"
    end
  end

  defp enc(nil), do: <<0xC0>>
  defp enc(false), do: <<0xC2>>
  defp enc(true), do: <<0xC3>>
  defp enc(int) when is_integer(int), do: enc_int(int)
  defp enc(float) when is_float(float), do: <<0xCB, float::float-64>>

  defp enc(bin) when is_binary(bin) do
    if String.valid?(bin), do: enc_str(bin), else: enc_bin(bin)
  end

  defp enc(atom) when is_atom(atom), do: enc_str(Atom.to_string(atom))
  defp enc(list) when is_list(list), do: [array_header(length(list)) | Enum.map(list, &enc/1)]
  defp enc({:f32, x}), do: enc_float(32, x)
  defp enc({:f64, x}), do: enc_float(64, x)
  defp enc({:bin, b}) when is_binary(b), do: enc_bin(b)
  defp enc({:str, b}) when is_binary(b), do: enc_str(b)
  defp enc(%Bin{data: b}) when is_binary(b), do: enc_bin(b)
  defp enc(%Raw{bytes: b}) when is_binary(b), do: b

  defp enc(%Ext{type: t, data: d}) when is_integer(t) and t in -128..127 and is_binary(d),
    do: enc_ext(t, d)

  defp enc({:map, pairs}) when is_list(pairs) do
    [map_header(length(pairs)) | Enum.map(pairs, fn {k, v} -> [enc(k), enc(v)] end)]
  end

  defp enc(%_{} = struct), do: throw({:unencodable, struct})

  defp enc(map) when is_map(map) do
    [map_header(map_size(map)) | Enum.map(map, fn {k, v} -> [enc(k), enc(v)] end)]
  end

  defp enc(other), do: throw({:unencodable, other})

  defp enc_int(i) when i >= 0 and i <= 0x7F, do: <<i>>
  defp enc_int(i) when i >= 0 and i <= 0xFF, do: <<0xCC, i>>
  defp enc_int(i) when i >= 0 and i <= 0xFFFF, do: <<0xCD, i::16>>
  defp enc_int(i) when i >= 0 and i <= 0xFFFFFFFF, do: <<0xCE, i::32>>
  defp enc_int(i) when i >= 0 and i <= 0xFFFFFFFFFFFFFFFF, do: <<0xCF, i::64>>
  defp enc_int(i) when i < 0 and i >= -32, do: <<i::signed-8>>
  defp enc_int(i) when i < 0 and i >= -0x80, do: <<0xD0, i::signed-8>>
  defp enc_int(i) when i < 0 and i >= -0x8000, do: <<0xD1, i::signed-16>>
  defp enc_int(i) when i < 0 and i >= -0x80000000, do: <<0xD2, i::signed-32>>
  defp enc_int(i) when i < 0 and i >= -0x8000000000000000, do: <<0xD3, i::signed-64>>
  defp enc_int(i), do: throw({:unencodable, i})

  # IEEE 754 bit patterns for the values Erlang floats cannot represent.
  defp enc_float(32, :nan), do: <<0xCA, 0x7FC00000::32>>
  defp enc_float(32, :infinity), do: <<0xCA, 0x7F800000::32>>
  defp enc_float(32, :neg_infinity), do: <<0xCA, 0xFF800000::32>>
  defp enc_float(64, :nan), do: <<0xCB, 0x7FF8000000000000::64>>
  defp enc_float(64, :infinity), do: <<0xCB, 0x7FF0000000000000::64>>
  defp enc_float(64, :neg_infinity), do: <<0xCB, 0xFFF0000000000000::64>>
  defp enc_float(32, x) when is_number(x), do: <<0xCA, x * 1.0::float-32>>
  defp enc_float(64, x) when is_number(x), do: <<0xCB, x * 1.0::float-64>>
  defp enc_float(w, x), do: throw({:unencodable, {:"f#{w}", x}})

  defp enc_str(s) do
    case byte_size(s) do
      n when n <= 31 -> [<<0xA0 ||| n>>, s]
      n when n <= 0xFF -> [<<0xD9, n>>, s]
      n when n <= 0xFFFF -> [<<0xDA, n::16>>, s]
      n when n <= 0xFFFFFFFF -> [<<0xDB, n::32>>, s]
      _ -> throw({:unencodable, :str_too_long})
    end
  end

  defp enc_bin(b) do
    case byte_size(b) do
      n when n <= 0xFF -> [<<0xC4, n>>, b]
      n when n <= 0xFFFF -> [<<0xC5, n::16>>, b]
      n when n <= 0xFFFFFFFF -> [<<0xC6, n::32>>, b]
      _ -> throw({:unencodable, :bin_too_long})
    end
  end

  defp enc_ext(t, d) do
    case byte_size(d) do
      1 -> [<<0xD4, t::signed-8>>, d]
      2 -> [<<0xD5, t::signed-8>>, d]
      4 -> [<<0xD6, t::signed-8>>, d]
      8 -> [<<0xD7, t::signed-8>>, d]
      16 -> [<<0xD8, t::signed-8>>, d]
      n when n <= 0xFF -> [<<0xC7, n, t::signed-8>>, d]
      n when n <= 0xFFFF -> [<<0xC8, n::16, t::signed-8>>, d]
      n when n <= 0xFFFFFFFF -> [<<0xC9, n::32, t::signed-8>>, d]
      _ -> throw({:unencodable, :ext_too_long})
    end
  end

  @doc "The header of an array of `n` elements."
  def array_header(n) when n <= 15, do: <<0x90 ||| n>>
  def array_header(n) when n <= 0xFFFF, do: <<0xDC, n::16>>
  def array_header(n) when n <= 0xFFFFFFFF, do: <<0xDD, n::32>>

  @doc "The header of a map of `n` pairs."
  def map_header(n) when n <= 15, do: <<0x80 ||| n>>
  def map_header(n) when n <= 0xFFFF, do: <<0xDE, n::16>>
  def map_header(n) when n <= 0xFFFFFFFF, do: <<0xDF, n::32>>

  # ------------------------------------------------------------------ decoding

  @doc """
  Decodes a binary that must hold exactly one MessagePack object.
  Returns `{:ok, term}` or `{:error, reason}` (`:truncated`, `{:reserved_byte, 0xC1}`,
  `:too_deep`, `{:trailing_bytes, n}`).
  """
  @spec decode(binary, keyword) :: {:ok, term} | {:error, term}
  def decode(bin, opts \\ []) when is_binary(bin) do
    case decode_one(bin, opts) do
      {:ok, term, <<>>} -> {:ok, term}
      {:ok, _term, rest} -> {:error, {:trailing_bytes, byte_size(rest)}}
      {:error, _} = err -> err
    end
  end

  @doc "Like `decode/2` but raises `ArgumentError` on failure."
  def decode!(bin, opts \\ []) do
    case decode(bin, opts) do
      {:ok, term} -> term
      {:error, reason} -> raise ArgumentError, "invalid MessagePack: #{inspect(reason)}"
    end
  end

  @doc "Decodes the first object of `bin`; returns `{:ok, term, rest}` or `{:error, reason}`."
  @spec decode_one(binary, keyword) :: {:ok, term, binary} | {:error, term}
  def decode_one(bin, opts \\ []) when is_binary(bin) do
    max_depth = Keyword.get(opts, :max_depth, @default_max_depth)
    {term, rest} = dec(bin, max_depth)
    {:ok, term, rest}
  catch
    {:msgpack_error, reason} -> {:error, reason}
  end

  defp dec(<<0xC0, r::binary>>, _), do: {nil, r}
  defp dec(<<0xC2, r::binary>>, _), do: {false, r}
  defp dec(<<0xC3, r::binary>>, _), do: {true, r}
  defp dec(<<0xC1, _::binary>>, _), do: throw({:msgpack_error, {:reserved_byte, 0xC1}})
  defp dec(<<b, r::binary>>, _) when b <= 0x7F, do: {b, r}
  defp dec(<<b, r::binary>>, _) when b >= 0xE0, do: {b - 0x100, r}
  defp dec(<<0xCC, i, r::binary>>, _), do: {i, r}
  defp dec(<<0xCD, i::16, r::binary>>, _), do: {i, r}
  defp dec(<<0xCE, i::32, r::binary>>, _), do: {i, r}
  defp dec(<<0xCF, i::64, r::binary>>, _), do: {i, r}
  defp dec(<<0xD0, i::signed-8, r::binary>>, _), do: {i, r}
  defp dec(<<0xD1, i::signed-16, r::binary>>, _), do: {i, r}
  defp dec(<<0xD2, i::signed-32, r::binary>>, _), do: {i, r}
  defp dec(<<0xD3, i::signed-64, r::binary>>, _), do: {i, r}
  defp dec(<<0xCA, f::binary-4, r::binary>>, _), do: {dec_f32(f), r}
  defp dec(<<0xCB, f::binary-8, r::binary>>, _), do: {dec_f64(f), r}
  defp dec(<<b, r::binary>>, _) when (b &&& 0xE0) == 0xA0, do: take(r, b &&& 0x1F, & &1)
  defp dec(<<0xD9, n, r::binary>>, _), do: take(r, n, & &1)
  defp dec(<<0xDA, n::16, r::binary>>, _), do: take(r, n, & &1)
  defp dec(<<0xDB, n::32, r::binary>>, _), do: take(r, n, & &1)
  defp dec(<<0xC4, n, r::binary>>, _), do: take(r, n, &%Bin{data: &1})
  defp dec(<<0xC5, n::16, r::binary>>, _), do: take(r, n, &%Bin{data: &1})
  defp dec(<<0xC6, n::32, r::binary>>, _), do: take(r, n, &%Bin{data: &1})
  defp dec(<<b, r::binary>>, d) when (b &&& 0xF0) == 0x90, do: dec_array(r, b &&& 0x0F, d)
  defp dec(<<0xDC, n::16, r::binary>>, d), do: dec_array(r, n, d)
  defp dec(<<0xDD, n::32, r::binary>>, d), do: dec_array(r, n, d)
  defp dec(<<b, r::binary>>, d) when (b &&& 0xF0) == 0x80, do: dec_map(r, b &&& 0x0F, d)
  defp dec(<<0xDE, n::16, r::binary>>, d), do: dec_map(r, n, d)
  defp dec(<<0xDF, n::32, r::binary>>, d), do: dec_map(r, n, d)
  defp dec(<<0xD4, t::signed-8, r::binary>>, _), do: take(r, 1, &%Ext{type: t, data: &1})
  defp dec(<<0xD5, t::signed-8, r::binary>>, _), do: take(r, 2, &%Ext{type: t, data: &1})
  defp dec(<<0xD6, t::signed-8, r::binary>>, _), do: take(r, 4, &%Ext{type: t, data: &1})
  defp dec(<<0xD7, t::signed-8, r::binary>>, _), do: take(r, 8, &%Ext{type: t, data: &1})
  defp dec(<<0xD8, t::signed-8, r::binary>>, _), do: take(r, 16, &%Ext{type: t, data: &1})
  defp dec(<<0xC7, n, t::signed-8, r::binary>>, _), do: take(r, n, &%Ext{type: t, data: &1})
  defp dec(<<0xC8, n::16, t::signed-8, r::binary>>, _), do: take(r, n, &%Ext{type: t, data: &1})
  defp dec(<<0xC9, n::32, t::signed-8, r::binary>>, _), do: take(r, n, &%Ext{type: t, data: &1})
  defp dec(_, _), do: throw({:msgpack_error, :truncated})

  defp take(r, n, wrap) do
    case r do
      <<data::binary-size(n), rest::binary>> -> {wrap.(data), rest}
      _ -> throw({:msgpack_error, :truncated})
    end
  end

  # Each element needs at least one byte: refuse impossible counts before allocating.
  defp dec_array(_r, _n, d) when d <= 0, do: throw({:msgpack_error, :too_deep})
  defp dec_array(r, n, _d) when n > byte_size(r), do: throw({:msgpack_error, :truncated})
  defp dec_array(r, n, d), do: dec_items(r, n, d - 1, [])

  defp dec_items(r, 0, _d, acc), do: {Enum.reverse(acc), r}

  defp dec_items(r, n, d, acc) do
    {x, r} = dec(r, d)
    dec_items(r, n - 1, d, [x | acc])
  end

  defp dec_map(_r, _n, d) when d <= 0, do: throw({:msgpack_error, :too_deep})
  defp dec_map(r, n, _d) when 2 * n > byte_size(r), do: throw({:msgpack_error, :truncated})
  defp dec_map(r, n, d), do: dec_pairs(r, n, d - 1, %{})

  defp dec_pairs(r, 0, _d, acc), do: {acc, r}

  defp dec_pairs(r, n, d, acc) do
    {k, r} = dec(r, d)
    {v, r} = dec(r, d)
    dec_pairs(r, n - 1, d, Map.put(acc, k, v))
  end

  defp dec_f32(<<0::1, 0xFF, 0::23>>), do: {:f32, :infinity}
  defp dec_f32(<<1::1, 0xFF, 0::23>>), do: {:f32, :neg_infinity}
  defp dec_f32(<<_::1, 0xFF, _::23>>), do: {:f32, :nan}
  defp dec_f32(<<f::float-32>>), do: f

  defp dec_f64(<<0::1, 0x7FF::11, 0::52>>), do: {:f64, :infinity}
  defp dec_f64(<<1::1, 0x7FF::11, 0::52>>), do: {:f64, :neg_infinity}
  defp dec_f64(<<_::1, 0x7FF::11, _::52>>), do: {:f64, :nan}
  defp dec_f64(<<f::float-64>>), do: f

  # ------------------------------------------------------------------ raw spans

  @doc """
  Returns `{:ok, len}`: the byte length of the first MessagePack object in `bin`, without
  building any term (iterative, so deep nesting costs no stack), or `{:error, reason}`.
  """
  @spec skip(binary, keyword) :: {:ok, non_neg_integer} | {:error, term}
  def skip(bin, opts \\ []) when is_binary(bin) do
    max_depth = Keyword.get(opts, :max_depth, @default_max_depth)
    # `left` counts the objects still to skip in the innermost open container; `stack` holds
    # the counts of the enclosing ones and `depth` its length.
    skip_loop(bin, 0, 1, [], 0, max_depth)
  end

  defp skip_loop(_bin, pos, 0, [], _depth, _max), do: {:ok, pos}

  defp skip_loop(bin, pos, 0, [outer | stack], depth, max),
    do: skip_loop(bin, pos, outer, stack, depth - 1, max)

  defp skip_loop(bin, pos, left, stack, depth, max) do
    case bin do
      <<_::binary-size(pos), b, _::binary>> ->
        case header(bin, pos, b) do
          {:scalar, len} ->
            if pos + len > byte_size(bin),
              do: {:error, :truncated},
              else: skip_loop(bin, pos + len, left - 1, stack, depth, max)

          {:container, hlen, items} ->
            cond do
              depth + 1 > max -> {:error, :too_deep}
              pos + hlen + items > byte_size(bin) -> {:error, :truncated}
              true -> skip_loop(bin, pos + hlen, items, [left - 1 | stack], depth + 1, max)
            end

          {:error, _} = err ->
            err
        end

      _ ->
        {:error, :truncated}
    end
  end

  # Classifies the object starting at `pos` (whose first byte is `b`): a scalar of total
  # length `len`, or a container with a header of `hlen` bytes and `items` objects inside.
  defp header(bin, pos, b) do
    cond do
      b <= 0x7F or b >= 0xE0 or b in [0xC0, 0xC2, 0xC3] -> {:scalar, 1}
      (b &&& 0xE0) == 0xA0 -> {:scalar, 1 + (b &&& 0x1F)}
      (b &&& 0xF0) == 0x90 -> {:container, 1, b &&& 0x0F}
      (b &&& 0xF0) == 0x80 -> {:container, 1, 2 * (b &&& 0x0F)}
      b == 0xC1 -> {:error, {:reserved_byte, 0xC1}}
      true -> sized_header(bin, pos, b)
    end
  end

  defp sized_header(bin, pos, b) do
    fixed = %{
      0xCC => 2,
      0xCD => 3,
      0xCE => 5,
      0xCF => 9,
      0xD0 => 2,
      0xD1 => 3,
      0xD2 => 5,
      0xD3 => 9,
      0xCA => 5,
      0xCB => 9,
      0xD4 => 3,
      0xD5 => 4,
      0xD6 => 6,
      0xD7 => 10,
      0xD8 => 18
    }

    case Map.fetch(fixed, b) do
      {:ok, len} ->
        {:scalar, len}

      :error ->
        # {bytes of the length field, extra header bytes after it, kind}
        {lbytes, extra, kind} =
          case b do
            0xD9 -> {1, 0, :data}
            0xDA -> {2, 0, :data}
            0xDB -> {4, 0, :data}
            0xC4 -> {1, 0, :data}
            0xC5 -> {2, 0, :data}
            0xC6 -> {4, 0, :data}
            0xC7 -> {1, 1, :data}
            0xC8 -> {2, 1, :data}
            0xC9 -> {4, 1, :data}
            0xDC -> {2, 0, :array}
            0xDD -> {4, 0, :array}
            0xDE -> {2, 0, :map}
            0xDF -> {4, 0, :map}
          end

        case bin do
          <<_::binary-size(pos), _, n::size(lbytes)-unit(8), _::binary>> ->
            hlen = 1 + lbytes + extra

            case kind do
              :data -> {:scalar, hlen + n}
              :array -> {:container, hlen, n}
              :map -> {:container, hlen, 2 * n}
            end

          _ ->
            {:error, :truncated}
        end
    end
  end

  @doc """
  Decodes a map whose keys are str and returns `{:ok, %{key => raw_value_bytes}}`: each value
  is left undecoded, a sub-binary of `bin` exactly as it was sent. `bin` must hold exactly one
  map. Used for engine responses, whose `value`/`values` fields must stay byte-exact.
  """
  @spec decode_map_spans(binary) :: {:ok, %{binary => binary}} | {:error, term}
  def decode_map_spans(bin) do
    with {:ok, n, rest} <- read_map_header(bin),
         {:ok, acc, <<>>} <- span_pairs(rest, n, %{}) do
      {:ok, acc}
    else
      {:ok, _acc, rest} -> {:error, {:trailing_bytes, byte_size(rest)}}
      {:error, _} = err -> err
    end
  end

  defp read_map_header(<<b, r::binary>>) when (b &&& 0xF0) == 0x80, do: {:ok, b &&& 0x0F, r}
  defp read_map_header(<<0xDE, n::16, r::binary>>), do: {:ok, n, r}
  defp read_map_header(<<0xDF, n::32, r::binary>>), do: {:ok, n, r}
  defp read_map_header(_), do: {:error, :not_a_map}

  defp span_pairs(rest, 0, acc), do: {:ok, acc, rest}

  defp span_pairs(rest, n, acc) do
    with {:ok, key, rest} <- decode_one(rest),
         true <- is_binary(key) || {:error, :non_str_key},
         {:ok, len} <- skip(rest) do
      <<raw::binary-size(len), rest::binary>> = rest
      span_pairs(rest, n - 1, Map.put(acc, key, raw))
    end
  end

  @doc "Splits one encoded array into the raw bytes of each element: `{:ok, [binary]}`."
  @spec split_array(binary) :: {:ok, [binary]} | {:error, term}
  def split_array(<<b, r::binary>>) when (b &&& 0xF0) == 0x90, do: split_items(r, b &&& 0x0F, [])
  def split_array(<<0xDC, n::16, r::binary>>), do: split_items(r, n, [])
  def split_array(<<0xDD, n::32, r::binary>>), do: split_items(r, n, [])
  def split_array(_), do: {:error, :not_an_array}

  defp split_items(<<>>, 0, acc), do: {:ok, Enum.reverse(acc)}
  defp split_items(_rest, 0, _acc), do: {:error, :trailing_bytes}

  defp split_items(rest, n, acc) do
    with {:ok, len} <- skip(rest) do
      <<raw::binary-size(len), rest::binary>> = rest
      split_items(rest, n - 1, [raw | acc])
    end
  end
end
