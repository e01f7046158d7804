defmodule TestApp.Boot do
  @moduledoc """
  The OTP application callback, as a real application has one.  It says
  so on stderr when it runs: `mix snapmig.reducer` must never start the
  application (tests/test_commanded.sh looks for the line in the reducer
  log); the seed and verify tasks do start it.
  """
  use Application

  @impl Application
  def start(_type, _args) do
    IO.puts(:stderr, "snapmig_test_app: application started")
    Supervisor.start_link([], strategy: :one_for_one, name: TestApp.Supervisor)
  end
end
