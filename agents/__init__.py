"""Win-back policies: reference policies, cost- and budget-aware bandits, SB3 agents.

Agents read observations from ``sim`` environments and never import Hydra.
"""
