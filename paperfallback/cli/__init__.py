"""The command line over the core: one small module per command, each importing its
feature lazily so ``paperfallback cache status`` stays fast."""
