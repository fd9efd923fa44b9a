"""The actions an operator confirms: plans, the runner, the recorder."""
