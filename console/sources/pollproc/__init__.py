"""The poll in its own process: console.sources.pollproc.proxy is the BreakerSource the console polls, child the process it talks to."""
