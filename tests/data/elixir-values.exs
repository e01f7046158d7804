# Writes tests/data/elixir-values.txt: what Elixir does with JSON-shaped
# values, for the functions and list operators of the rules language
# (tests/test_rules.c replays each line through the rules).
#
#   elixir tests/data/elixir-values.exs > tests/data/elixir-values.txt
#
# Each line is OP <TAB> A <TAB> B <TAB> RESULT, all JSON written as Jason
# writes it (B is null when OP takes one value):
#   max, min    Enum.max(A), Enum.min(A)   ("error" for an empty list)
#   uniq        Enum.uniq(A)
#   length      length(A)
#   sub, cat    A -- B, A ++ B
#   eq, strict  A == B, A === B
# The values are drawn from a fixed seed among those where Elixir is most
# easily mistaken: 1 and 1.0, 0.0 and -0.0, integers beyond 2^53 against
# floats, nil/true/false, maps that differ in size, keys or values, lists
# that are prefixes of each other, strings that differ in case or bytes.
<<neg_zero::float>> = <<0x8000000000000000::64>>

ints = [0, 1, 2, -1, 9_007_199_254_740_993, 18_446_744_073_709_551_615, -9_223_372_036_854_775_808]
floats = [0.0, neg_zero, 1.0, 2.0, 1.5, -1.5, 1.0e20, 9_007_199_254_740_992.0, 1.8446744073709552e19]
strings = ["", "a", "B", "ab", "z", "é"]
keys = ["a", "b", "c", "é"]

defmodule Gen do
  def value(depth, pools) do
    {ints, floats, strings, keys} = pools
    kind = if depth <= 0, do: :rand.uniform(4), else: :rand.uniform(6)
    case kind do
      1 -> Enum.random(ints)
      2 -> Enum.random(floats)
      3 -> Enum.random([nil, true, false])
      4 -> Enum.random(strings)
      5 -> for _ <- 1..:rand.uniform(4) - 1, do: value(depth - 1, pools)
      6 -> Map.new(Enum.take_random(keys, :rand.uniform(4) - 1), fn k -> {k, value(depth - 1, pools)} end)
    end
  end

  def list(pools) do
    l = for _ <- 1..:rand.uniform(6) - 1, do: value(2, pools)
    # Twins of some elements, equal (==) but maybe not identical (===).
    l ++ Enum.map(Enum.take_random(l, 2), &twin/1)
  end

  # v with some numbers changed for equal ones of the other kind
  # (1 <-> 1.0, 0.0 <-> -0.0): == still holds, === may not.
  def twin(v) when is_integer(v) and abs(v) < 9_007_199_254_740_992,
    do: if(:rand.uniform(2) == 1, do: v * 1.0, else: v)
  def twin(v) when is_float(v) and v == 0.0,
    do: Enum.random([0.0, 0, -v])
  def twin(v) when is_float(v) and v == trunc(v) and abs(v) < 9_007_199_254_740_992.0,
    do: if(:rand.uniform(2) == 1, do: trunc(v), else: v)
  def twin(v) when is_list(v), do: Enum.map(v, &twin/1)
  def twin(v) when is_map(v), do: Map.new(v, fn {k, x} -> {k, twin(x)} end)
  def twin(v), do: v

  # JSON as Jason writes it: floats as float_to_binary(F, [:short]),
  # map keys in the map's order (sorted for these small maps).
  def json(nil), do: "null"
  def json(true), do: "true"
  def json(false), do: "false"
  def json(v) when is_integer(v), do: Integer.to_string(v)
  def json(v) when is_float(v), do: :erlang.float_to_binary(v, [:short])
  def json(v) when is_binary(v), do: "\"" <> v <> "\""
  def json(v) when is_list(v), do: "[" <> Enum.map_join(v, ",", &json/1) <> "]"
  def json(v) when is_map(v), do: "{" <> Enum.map_join(v, ",", fn {k, x} -> json(k) <> ":" <> json(x) end) <> "}"

  def line(op, a, b, r), do: IO.puts(Enum.join([op, json(a), json(b), r], "\t"))
end

pools = {ints, floats, strings, keys}
:rand.seed(:exsss, {2026, 12, 4})
for _ <- 1..300 do
  l = Gen.list(pools)
  Gen.line("max", l, nil, if(l == [], do: "error", else: Gen.json(Enum.max(l))))
  Gen.line("min", l, nil, if(l == [], do: "error", else: Gen.json(Enum.min(l))))
  Gen.line("uniq", l, nil, Gen.json(Enum.uniq(l)))
  Gen.line("length", l, nil, Gen.json(length(l)))
  m = Gen.list(pools) ++ Enum.map(Enum.take_random(l, 2), &Gen.twin/1)
  Gen.line("sub", l, m, Gen.json(l -- m))
  Gen.line("cat", l, m, Gen.json(l ++ m))
  a = Gen.value(2, pools)
  b = case :rand.uniform(3) do
    1 -> Gen.twin(a)
    2 -> a
    3 -> Gen.value(2, pools)
  end
  Gen.line("eq", a, b, Gen.json(a == b))
  Gen.line("strict", a, b, Gen.json(a === b))
end
