defmodule SnapmigCommanded.Fingerprint do
  @moduledoc """
  The fingerprint of the code that folds one aggregate type: a SHA-256 over
  the names and MD5s (`module_info(:md5)`, a digest of the compiled code) of
  every module the fold can reach, so that a change of that code changes
  it, and changes elsewhere in the application do not.

  The modules: the aggregate module, the serializer, the type provider and
  the JSON library, then, transitively, every module that one of them
  names (its atom table holds every module it calls, every struct it
  builds or matches, hence the event modules of `apply/2` and the structs
  in the state), and the `Commanded.Event.Upcaster`,
  `Commanded.Serialization.JsonDecoder` and `Jason.Encoder`
  implementations for each of those modules (a protocol module counts
  itself, but is not followed to every implementation it dispatches to).
  Only modules compiled into
  the project's build (the application and its dependencies) are followed:
  Erlang/OTP and Elixir themselves are left out.

  The result also names the bridge's version and is at most 100 bytes.
  """

  @protocols [Commanded.Event.Upcaster, Commanded.Serialization.JsonDecoder, Jason.Encoder]

  @doc "The fingerprint of `aggregate` folded with `roots` (serializer and friends)."
  @spec compute(module, [module], String.t()) :: String.t()
  def compute(aggregate, roots, version) do
    build = Mix.Project.build_path() |> Path.expand() |> to_charlist()
    modules = closure([aggregate | roots], MapSet.new(), build)

    digest =
      modules
      |> Enum.sort()
      |> Enum.map(fn m -> [Atom.to_string(m), 0, m.module_info(:md5)] end)

    hash = :crypto.hash(:sha256, [version, 0 | digest]) |> Base.encode16(case: :lower)
    "snapmig_commanded #{version} sha256:#{hash}"
  end

  defp closure([], seen, _build), do: seen

  defp closure([m | rest], seen, build) do
    if MapSet.member?(seen, m) or not in_build?(m, build) do
      closure(rest, seen, build)
    else
      closure(follow(m) ++ impls(m) ++ rest, MapSet.put(seen, m), build)
    end
  end

  defp in_build?(m, build) do
    is_atom(m) and :erlang.module_loaded(m) and
      case :code.which(m) do
        path when is_list(path) -> List.starts_with?(path, build)
        _ -> false
      end
  end

  # A protocol's own module counts, but what it names is every module that
  # implements it for anything: the implementations that matter are those
  # for modules of the closure (impls/1).
  defp follow(m) do
    if function_exported?(m, :__protocol__, 1), do: [], else: named(m)
  end

  # The modules named in m's atom table (loaded ones only: the bridge
  # loads every module of the application's tree before it answers).
  defp named(m) do
    with {^m, beam, _} <- :code.get_object_code(m),
         {:ok, {^m, [atoms: atoms]}} <- :beam_lib.chunks(beam, [:atoms]) do
      for {_, a} <- atoms, a != m, :erlang.module_loaded(a), do: a
    else
      _ -> []
    end
  end

  defp impls(m) do
    for p <- @protocols, impl = Module.concat(p, m), :erlang.module_loaded(impl), do: impl
  end
end
