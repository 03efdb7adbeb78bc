"""Backends behind small protocols, chosen by name: LLMs, embedders, the Chroma store, the keyword index
and the bundled offline models."""
