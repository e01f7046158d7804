defmodule Domain.Account.Events do
  @moduledoc false
  defmodule Created,
    do: (@derive Jason.Encoder; defstruct [:id, :name, :email, :plan, :created_at, :address])

  defmodule PlanChanged, do: (@derive Jason.Encoder; defstruct [:id, :plan, :changed_at])
  defmodule EmailChanged, do: (@derive Jason.Encoder; defstruct [:id, :email])

  defmodule UsageRecorded,
    do: (@derive Jason.Encoder; defstruct [:id, :metric, :amount, :recorded_at])
end

defmodule Domain.Account.Emit do
  @moduledoc false
  defstruct [:id, events: []]
end

defmodule Domain.Account do
  @moduledoc """
  The demo store's Elixir.Domain.Account (examples/reducers/account.py
  folds the same events in Python; `make bench` folds them with both).
  """

  alias Domain.Account.Events.{Created, PlanChanged, EmailChanged, UsageRecorded}

  @derive Jason.Encoder
  defstruct id: nil, name: nil, email: nil, plan: nil, address: nil, created_at: nil,
            plan_changed_at: nil, plan_changes: 0, usage: %{}, last_usage_at: nil

  def execute(_account, %Domain.Account.Emit{events: events}), do: events

  def apply(%__MODULE__{id: nil} = a, %Created{} = e) do
    %{a | id: e.id, name: e.name, email: e.email, plan: e.plan, address: e.address,
          created_at: e.created_at}
  end

  def apply(a, %PlanChanged{} = e),
    do: %{a | plan: e.plan, plan_changed_at: e.changed_at, plan_changes: a.plan_changes + 1}

  def apply(a, %EmailChanged{email: email}), do: %{a | email: email}

  def apply(a, %UsageRecorded{} = e) do
    %{a | usage: Map.update(a.usage, e.metric, e.amount, &(&1 + e.amount)),
          last_usage_at: e.recorded_at}
  end
end

