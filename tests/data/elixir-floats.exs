# Writes tests/data/elixir-floats.txt: the bits of a double (16 hex digits)
# and the text Elixir's to_string/1 gives it, which is Erlang's
# float_to_binary(F, [short]) (checked here too).  snapmig writes computed
# floats and the keys made from numbers this way (tests/test_json.c).
#
#   elixir tests/data/elixir-floats.exs > tests/data/elixir-floats.txt
#
# The cases: every power of two of the double range (the interval of texts
# that read back is not centred there), decimals and integers around the
# switch between plain and exponent form, subnormals, the extremes, and
# pseudo-random bit patterns from a fixed seed.
import Bitwise

# nil for the bits of an infinity or a NaN, which Erlang has no float for.
finite = fn bits ->
  if (bits >>> 52 &&& 0x7FF) == 0x7FF do
    nil
  else
    <<f::float-64>> = <<bits::64>>
    f
  end
end

bits_of = fn f -> <<b::64>> = <<f::float-64>>; b end

powers = for e <- -1074..1023 do
  if e < -1022, do: bits_of.(:math.pow(2, e)), else: (e + 1023) <<< 52
end

decimals = for e <- -25..25, m <- [1, 2, 5, 9.99, 1.5, 1.0000000000000002], s <- [1, -1] do
  bits_of.(s * m * :math.pow(10, e))
end

integers = for n <- [0, 1, 2, 10, 99, 100, 12345, 9_007_199_254_740_991, 9_007_199_254_740_992,
                     9_007_199_254_740_994, 18_014_398_509_481_984, 1_000_000_000_000_000,
                     10_000_000_000_000_000, 100_000_000_000_000_000_000], s <- [1, -1] do
  bits_of.(s * n * 1.0)
end

special = [0x8000000000000000, 1, 2, 0x000FFFFFFFFFFFFF, 0x0010000000000000,
           0x7FEFFFFFFFFFFFFF, bits_of.(0.1 + 0.2), bits_of.(1.0e23), bits_of.(1.0e22)]

:rand.seed(:exsss, {2026, 12, 3})
random = for _ <- 1..1500, do: :rand.uniform(1 <<< 64) - 1

(powers ++ decimals ++ integers ++ special ++ random)
|> Enum.uniq()
|> Enum.sort()
|> Enum.each(fn bits ->
  case finite.(bits) do
    nil -> :ok
    f ->
      text = to_string(f)
      ^text = :erlang.float_to_binary(f, [:short])
      IO.puts(String.pad_leading(Integer.to_string(bits, 16), 16, "0") |> String.downcase() |> Kernel.<>(" " <> text))
  end
end)
