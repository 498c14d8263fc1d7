"""What each command does: benchmark (and run), simulate, tune, regret, calibrate,
aggregate. Jobs take typed arguments; the command line and the config boundary build them."""
