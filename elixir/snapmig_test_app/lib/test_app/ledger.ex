defmodule TestApp.Ledger.Entry do
  @moduledoc false
  defstruct [:amount, :account, :at]
end

defmodule TestApp.Ledger.Owner do
  @moduledoc false
  defstruct [:name, :since]
end

defmodule TestApp.Ledger.Events do
  @moduledoc false
  defmodule Opened, do: (@derive Jason.Encoder; defstruct [:id, :currency, :owner, :opened_at])
  defmodule Posted, do: (@derive Jason.Encoder; defstruct [:id, :amount, :account, :at])
  defmodule Closed, do: (@derive Jason.Encoder; defstruct [:id])
end

defmodule TestApp.Ledger.Emit do
  @moduledoc false
  defstruct [:id, events: []]
end

defmodule TestApp.Ledger do
  @moduledoc """
  An `x_val` aggregate, as production code has them: the snapshot is
  `{"x_val": Base64(:erlang.term_to_binary(state))}` through a custom
  `Jason.Encoder`, read back by a `Commanded.Serialization.JsonDecoder`
  (the struct has an `x_val` field so that `struct/2` keeps it).  The state
  holds nested structs, atoms, a map keyed by tuples and NaiveDateTimes;
  the events' own JsonDecoders parse their date strings.
  """

  alias TestApp.Ledger.{Entry, Owner}
  alias TestApp.Ledger.Events.{Opened, Posted, Closed}

  defstruct id: nil, x_val: nil, currency: nil, status: :new, owner: nil, opened_at: nil,
            entries: [], totals: %{}

  def execute(_ledger, %TestApp.Ledger.Emit{events: events}), do: events

  def apply(%__MODULE__{status: :new} = l, %Opened{} = e) do
    %{
      l
      | id: e.id,
        currency: e.currency |> String.downcase() |> String.to_atom(),
        status: :open,
        owner: %Owner{name: e.owner, since: NaiveDateTime.to_date(e.opened_at)},
        opened_at: e.opened_at
    }
  end

  def apply(%__MODULE__{status: :open} = l, %Posted{} = e) do
    entry = %Entry{amount: e.amount, account: String.to_atom(e.account), at: e.at}
    key = {l.currency, e.at.year}

    %{l | entries: [entry | l.entries], totals: Map.update(l.totals, key, e.amount, &(&1 + e.amount))}
  end

  def apply(%__MODULE__{} = l, %Closed{}), do: %{l | status: :closed}
end

defimpl Jason.Encoder, for: TestApp.Ledger do
  def encode(ledger, opts) do
    x_val = ledger |> Map.put(:x_val, nil) |> :erlang.term_to_binary() |> Base.encode64()
    Jason.Encode.map(%{"x_val" => x_val}, opts)
  end
end

defimpl Commanded.Serialization.JsonDecoder, for: TestApp.Ledger do
  def decode(%TestApp.Ledger{x_val: x_val}) when is_binary(x_val),
    do: x_val |> Base.decode64!() |> :erlang.binary_to_term()

  def decode(ledger), do: ledger
end

defimpl Commanded.Serialization.JsonDecoder, for: TestApp.Ledger.Events.Opened do
  def decode(%{opened_at: at} = e) when is_binary(at), do: %{e | opened_at: NaiveDateTime.from_iso8601!(at)}
  def decode(e), do: e
end

defimpl Commanded.Serialization.JsonDecoder, for: TestApp.Ledger.Events.Posted do
  def decode(%{at: at} = e) when is_binary(at), do: %{e | at: NaiveDateTime.from_iso8601!(at)}
  def decode(e), do: e
end
