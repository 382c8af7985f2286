"""The worker process: protects its stdio, confines itself, loads one plugin and serves it."""
