"""Developer-only: the local emulator and its helpers. Never shipped to Lambda."""
