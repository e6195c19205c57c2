defmodule LiteStash.FakeEngine do
  @moduledoc """
  A stand-in for the engine, for answers the real engine does not give (yet): a `/bin/sh`
  script that, for each canned answer in turn, reads one request frame from stdin and writes
  the answer as one frame, then waits for stdin to close. Answers are maps (encoded with the
  host's codec); the client's ids are 0 for `hello`, then 1, 2, ... in request order.
  """

  alias LiteStash.Msgpack

  @doc "Writes the script and its answer files into `dir`; returns the script's path."
  def script!(dir, answers) do
    files =
      for {answer, i} <- Enum.with_index(answers) do
        body = Msgpack.encode!(answer)
        path = Path.join(dir, "answer-#{i}.bin")
        File.write!(path, <<byte_size(body)::32, body::binary>>)
        path
      end

    steps = Enum.map_join(files, "\n", &"frame; cat '#{&1}'")

    script = """
    #!/bin/sh
    # reads one 4-byte big-endian length prefix and the body after it (exactly, byte by byte)
    frame() {
      set -- $(dd bs=1 count=4 2>/dev/null | od -An -tu1)
      [ $# -eq 4 ] || exit 0
      dd bs=1 count=$(( ($1 << 24) + ($2 << 16) + ($3 << 8) + $4 )) of=/dev/null 2>/dev/null
    }
    #{steps}
    exec cat >/dev/null
    """

    path = Path.join(dir, "fake-engine")
    File.write!(path, script)
    File.chmod!(path, 0o755)
    path
  end

  @doc "A `hello` answer of protocol `protocol` (fields of a real engine, 16 shards)."
  def hello(protocol, extra \\ %{}) do
    Map.merge(
      %{
        "id" => 0,
        "ok" => true,
        "protocol" => protocol,
        "engine" => "litestash-engine",
        "version" => "0.1.0",
        "shards" => 16,
        "hash" => "blake2b-512",
        "max_frame_bytes" => 16_777_216,
        "max_key_bytes" => 1024,
        "max_value_bytes" => 8_388_608
      },
      extra
    )
  end
end
