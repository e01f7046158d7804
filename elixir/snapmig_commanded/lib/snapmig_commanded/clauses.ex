defmodule SnapmigCommanded.Clauses do
  @moduledoc """
  Which events an aggregate's `apply/2` clauses take, read from the
  module's debug info (the clause heads as the compiler expanded them).

  A `FunctionClauseError` from `apply/2` means one of two things: no clause
  takes that kind of event at all (an event the aggregate does not handle:
  `unknown_event`), or a clause for it exists but did not match this state
  and event (`no_match`).  Only the heads tell them apart.  The second
  argument of each clause is reduced to what it can match:

    * `:any` - a variable or `_`;
    * `{:struct, Module}` - `%Module{}`, or `%{__struct__: Module}`;
    * `:any_struct` - `%module{}` with a variable module;
    * `:map` - a map pattern without `__struct__` (structs are maps);
    * `:other` - a literal, tuple, list or binary (never a struct).

  Guards are not read: a clause whose guard alone rejects an event counts
  as taking it, so such an event is reported as `no_match`.  Without debug
  info (a module compiled with `debug_info: false`) every event counts as
  taken.
  """

  @type head :: :any | :any_struct | :map | :other | {:struct, module} | :none

  @doc "The heads of `module.apply/2`'s event argument, or `:unknown`."
  @spec event_heads(module) :: {:ok, [head]} | :unknown
  def event_heads(module) do
    with {^module, beam, _} <- :code.get_object_code(module),
         {:ok, {^module, [debug_info: {:debug_info_v1, backend, data}]}} <-
           :beam_lib.chunks(beam, [:debug_info]),
         {:ok, %{definitions: defs}} <- backend.debug_info(:elixir_v1, module, data, []) do
      heads =
        for {{:apply, 2}, :def, _meta, clauses} <- defs,
            {_meta, [_state, event], _guards, _body} <- clauses,
            do: head(event)

      {:ok, heads}
    else
      _ -> :unknown
    end
  end

  @doc "Whether one of the heads can take `event` (true when the heads are unknown)."
  @spec takes?({:ok, [head]} | :unknown, term) :: boolean
  def takes?(:unknown, _event), do: true
  def takes?({:ok, heads}, event), do: Enum.any?(heads, &matches?(&1, event))

  @doc "Whether one of the heads names the struct `module` or takes any struct."
  @spec takes_struct?({:ok, [head]} | :unknown, module) :: boolean
  def takes_struct?(heads, module), do: takes?(heads, %{__struct__: module})

  defp matches?(:any, _), do: true
  defp matches?(:none, _), do: false
  defp matches?(:other, event), do: not is_map(event)
  defp matches?(:map, event), do: is_map(event)
  defp matches?(:any_struct, %{__struct__: m}), do: is_atom(m)
  defp matches?(:any_struct, _), do: false
  defp matches?({:struct, m}, %{__struct__: m}), do: true
  defp matches?({:struct, _}, _), do: false

  defp head({name, _meta, ctx}) when is_atom(name) and is_atom(ctx), do: :any
  defp head({:=, _meta, [left, right]}), do: both(head(left), head(right))

  defp head({:%, _meta, [module, _fields]}) when is_atom(module), do: {:struct, module}
  defp head({:%, _meta, [_module_var, _fields]}), do: :any_struct

  defp head({:%{}, _meta, fields}) do
    case List.keyfind(fields, :__struct__, 0) do
      {:__struct__, module} when is_atom(module) -> {:struct, module}
      _ -> :map
    end
  end

  defp head(_literal), do: :other

  # What both patterns of `left = right` can match.
  defp both(:any, h), do: h
  defp both(h, :any), do: h
  defp both(same, same), do: same
  defp both(:map, s), do: map_and(s)
  defp both(s, :map), do: map_and(s)
  defp both(:any_struct, {:struct, _} = s), do: s
  defp both({:struct, _} = s, :any_struct), do: s
  defp both(_, _), do: :none

  defp map_and(:other), do: :none
  defp map_and(s), do: s
end
