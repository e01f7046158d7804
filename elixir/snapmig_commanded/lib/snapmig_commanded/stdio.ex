defmodule SnapmigCommanded.Stdio do
  @moduledoc """
  The protocol's channel: standard input and output, kept for the protocol
  alone.

  `take/0` is called before anything else runs: it keeps the VM's standard
  I/O server (the process registered as `:user`, which owns file
  descriptors 0 and 1) for the protocol, and sends everything else that
  would print to standard output to standard error instead:

    * every process whose group leader is that server gets `:standard_error`
      as its group leader, and processes started later inherit it (so
      `IO.puts/1`, Mix's compiler messages and the application's own output
      go to stderr);
    * the name `:user` is given to a relay that passes every I/O request
      on to `:standard_error` (which answers its sender directly), so that
      output sent to `:user` by name (the Logger console backend's default
      device, `:io.format(:user, ...)`) goes to stderr too.

  snapmig logs stderr line by line; stdout carries nothing but protocol.
  """

  @typedoc "Where messages are read from and replies written to (I/O devices)."
  @type t :: {input :: IO.device(), output :: IO.device()}

  @doc "Keeps standard input and output for the protocol; returns the channel."
  @spec take() :: t
  def take do
    out = Process.whereis(:user)
    err = Process.whereis(:standard_error)

    for pid <- Process.list(), Process.info(pid, :group_leader) == {:group_leader, out} do
      Process.group_leader(pid, err)
    end

    Process.unregister(:user)
    Process.register(spawn(fn -> relay(err) end), :user)
    {out, out}
  end

  defp relay(to) do
    receive do
      msg -> send(to, msg)
    end

    relay(to)
  end

  @doc "The next line without its newline, or `:eof`."
  @spec read_line(t) :: binary | :eof
  def read_line({input, _}) do
    case IO.binread(input, :line) do
      :eof -> :eof
      {:error, _} -> :eof
      line -> chomp(line)
    end
  end

  defp chomp(line) do
    case :binary.last(line) do
      ?\n -> binary_part(line, 0, byte_size(line) - 1)
      _ -> line
    end
  end

  @doc "Writes one message (iodata without its newline)."
  @spec write(t, iodata) :: :ok
  def write({_, out}, iodata), do: IO.binwrite(out, [iodata, ?\n])
end
