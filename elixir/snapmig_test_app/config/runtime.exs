import Config

# Printed on standard output on purpose: `mix snapmig.reducer` must keep it
# out of the protocol (tests/test_commanded.sh).
IO.puts("snapmig_test_app: runtime configuration loaded")
