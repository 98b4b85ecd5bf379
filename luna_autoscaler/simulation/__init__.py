"""`luna-autoscaler simulate`: the daemon's reconcile loop, unchanged, against a simulated cluster and cloud.

Pods arrive and finish from a trace, nodes join after realistic delays, spot machines are interrupted at the
catalog's rates and some offerings run out, all on a fake clock, so hours of cluster time run in seconds and a
change to the loop can be judged by what it costs and how long pods wait (docs/simulation.md).
"""
